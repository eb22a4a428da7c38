// The agent's HTTPS server against the controller's real client, over loopback with real
// mutual TLS: identities reach the handler verified, strangers never reach it.
#include "agent/api_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "controller/https_agent_client.h"
#include "tests/support/loopback_exchange.h"
#include "tests/support/poll.h"
#include "tests/transfer/stalled_peers.h"
#include "tests/transfer/test_pki.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::agent {
namespace {

using controller::HttpsAgentClient;
using controller::HttpsClientOptions;

// The descriptors of this process whose socket is bound to `port` locally: the server's
// listener and the connections it accepted (clients in this process have other ports).
std::vector<int> ServerSockets(uint16_t port) {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* de = dir != nullptr ? readdir(dir) : nullptr) {
    int fd = atoi(de->d_name);
    struct stat st;
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (de->d_name[0] == '.' || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sin_family == AF_INET && ntohs(addr.sin_port) == port) {
      out.push_back(fd);
    }
  }
  if (dir != nullptr) closedir(dir);
  return out;
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<testing::TestPki>(dir_.path());
    node_ = pki_->Issue("host-a", tls::Role::kNode);
    controller_ = pki_->Issue("controller", tls::Role::kController);
  }

  void StartServer(ApiServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    auto ctx = tls::MakeServerContext(node_);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    auto server = ApiServer::Start(options, *ctx, [this](ApiRequest request, Respond respond) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen_.push_back(request);
      }
      if (request.target == "/v1/preflight") {
        proto::ApiError error;
        error.set_code("FailedPrecondition");
        error.set_message("strict cannot be honoured");
        ApiResponse response;
        response.status = 412;
        response.body = error.SerializeAsString();
        return respond(response);
      }
      proto::Health health;
      health.set_node_name("host-a");
      health.set_agent_version(request.peer.common_name);
      ApiResponse response;
      response.body = health.SerializeAsString();
      respond(response);
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  std::unique_ptr<HttpsAgentClient> Client(const tls::TlsFiles& files,
                                           const std::string& name = "host-a") {
    auto ctx = tls::MakeClientContext(files);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    proto::InventoryHost host;
    host.set_name(name);
    host.set_address("127.0.0.1");
    host.set_port(server_->port());
    HttpsClientOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.request_timeout = std::chrono::seconds(5);
    return std::make_unique<HttpsAgentClient>(host, *ctx, options);
  }

  size_t Seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TestPki> pki_;
  tls::TlsFiles node_, controller_;
  std::unique_ptr<ApiServer> server_;
  std::mutex mutex_;
  std::vector<ApiRequest> seen_;
};

TEST_F(ApiServerTest, ControllerRequestReachesHandlerWithVerifiedIdentity) {
  StartServer();
  auto client = Client(controller_);
  auto health = client->GetHealth();
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->node_name(), "host-a");
  EXPECT_EQ(health->agent_version(), "controller");  // the handler saw the peer's name
  ASSERT_EQ(Seen(), 1u);
  EXPECT_EQ(seen_[0].peer.role, tls::Role::kController);
  EXPECT_EQ(seen_[0].method, "GET");
  EXPECT_EQ(seen_[0].target, "/v1/health");
}

TEST_F(ApiServerTest, NodeRoleIsPassedOnSoTheServiceCanRefuseIt) {
  StartServer();
  tls::TlsFiles other_node = pki_->Issue("host-b", tls::Role::kNode);
  auto client = Client(other_node);
  ASSERT_TRUE(client->GetHealth().ok());
  ASSERT_EQ(Seen(), 1u);
  EXPECT_EQ(seen_[0].peer.role, tls::Role::kNode);
}

TEST_F(ApiServerTest, ClientFromAnotherCaNeverReachesTheHandler) {
  StartServer();
  testing::TempDir other_dir;
  testing::TestPki other(other_dir.path());
  tls::TlsFiles rogue = other.Issue("controller", tls::Role::kController);
  // The rogue client trusts our CA (so only the server's check can stop it).
  rogue.ca_file = controller_.ca_file;
  auto client = Client(rogue);
  auto health = client->GetHealth();
  EXPECT_FALSE(health.ok());
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ApiServerTest, RefusedConnectionsAreToldWithTheirReason) {
  std::mutex mutex;
  std::vector<std::string> reasons;
  ApiServerOptions options;
  options.on_refused = [&](std::string_view reason) {
    std::lock_guard<std::mutex> lock(mutex);
    reasons.emplace_back(reason);
  };
  StartServer(options);
  ASSERT_TRUE(Client(controller_)->GetHealth().ok());
  testing::TempDir other_dir;
  testing::TestPki other(other_dir.path());
  tls::TlsFiles rogue = other.Issue("controller", tls::Role::kController);
  rogue.ca_file = controller_.ca_file;
  EXPECT_FALSE(Client(rogue)->GetHealth().ok());
  ASSERT_TRUE(testing::PollUntil([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return !reasons.empty();
  }, std::chrono::seconds(5)));
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(reasons, std::vector<std::string>{"handshake"});
}

TEST_F(ApiServerTest, ClientRefusesAServerWithAnotherName) {
  StartServer();
  auto client = Client(controller_, "host-b");
  auto health = client->GetHealth();
  EXPECT_FALSE(health.ok());
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ApiServerTest, PlaintextClientGetsNoHttpAnswer) {
  StartServer();
  std::string answer = testing::LoopbackExchange(
      server_->port(), "GET /v1/health HTTP/1.1\r\nHost: host-a\r\n\r\n");
  EXPECT_EQ(answer.find("HTTP/1.1"), std::string::npos) << answer;
  EXPECT_EQ(Seen(), 0u);
}

// The API port: revoked certificates never reach the handler, controller or node, once the
// CA's revocation list is beside the agent's ca.pem (no restart).
TEST_F(ApiServerTest, RevokedControllerAndNodeCertificatesAreRefused) {
  StartServer();
  tls::TlsFiles other_node = pki_->Issue("host-b", tls::Role::kNode);
  ASSERT_TRUE(Client(controller_)->GetHealth().ok());
  ASSERT_TRUE(Client(other_node)->GetHealth().ok());
  ASSERT_EQ(Seen(), 2u);
  ASSERT_TRUE(pki_->Revoke("controller").ok());
  ASSERT_TRUE(pki_->Revoke("host-b").ok());
  EXPECT_FALSE(Client(controller_)->GetHealth().ok());
  EXPECT_FALSE(Client(other_node)->GetHealth().ok());
  EXPECT_EQ(Seen(), 2u) << "a revoked peer reached the handler";
}

// ... and the controller refuses an agent whose certificate is revoked.
TEST_F(ApiServerTest, ControllerRefusesARevokedAgent) {
  StartServer();
  ASSERT_TRUE(pki_->Revoke("host-a").ok());
  auto health = Client(controller_)->GetHealth();
  EXPECT_FALSE(health.ok());
  EXPECT_NE(health.status().message().find("revoked"), std::string::npos)
      << health.status().ToString();
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ApiServerTest, ApiErrorComesBackAsStatus) {
  StartServer();
  auto client = Client(controller_);
  proto::PreflightRequest request;
  auto result = client->Preflight(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("strict cannot be honoured"), std::string::npos)
      << result.status().ToString();
}

TEST_F(ApiServerTest, OversizedBodyIsRefusedBeforeTheHandler) {
  ApiServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  auto client = Client(controller_);
  proto::PreflightRequest request;
  request.set_source_cpuinfo(std::string(4096, 'x'));
  auto result = client->Preflight(request);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(Seen(), 0u);
}

TEST_F(ApiServerTest, StopIsIdempotentAndRefusesNewConnections) {
  StartServer();
  uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
}

// Everything the agent spawns (runc, CRIU) would inherit a socket without close-on-exec.
TEST_F(ApiServerTest, ListenerAndAcceptedSocketsAreCloseOnExec) {
  StartServer();
  testing::StalledPeers peers(server_->port(), 3);
  auto client = Client(controller_);
  ASSERT_TRUE(client->GetHealth().ok());
  std::vector<int> sockets;
  ASSERT_TRUE(testing::PollUntil(
      [&] { return (sockets = ServerSockets(server_->port())).size() >= 4; },
      std::chrono::seconds(5)));
  for (int fd : sockets) {
    EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC) << "fd " << fd << " is inherited by children";
  }
}

// Connections that never finish their handshake: capped, the oldest dropped for newcomers,
// so a burst of them holds few descriptors and never locks the controller out.
TEST_F(ApiServerTest, StalledHandshakesAreCappedAndNeverLockTheControllerOut) {
  ApiServerOptions options;
  options.max_handshakes = 8;
  options.max_connections = 16;
  options.handshake_timeout_s = 30;  // they would hold on for long
  StartServer(options);
  testing::StalledPeers stalled(server_->port(), 100);
  ASSERT_EQ(stalled.connected(), 100);
  ASSERT_TRUE(testing::PollUntil([&] { return stalled.closed_by_server() >= 92; },
                                 std::chrono::seconds(10)))
      << "closed " << stalled.closed_by_server() << " of 100";
  EXPECT_LE(ServerSockets(server_->port()).size(), 1u + 8u);
  auto start = std::chrono::steady_clock::now();
  auto client = Client(controller_);
  auto health = client->GetHealth();
  EXPECT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ApiServerTest, HandshakeHasADeadline) {
  ApiServerOptions options;
  options.handshake_timeout_s = 1;
  StartServer(options);
  testing::StalledPeers stalled(server_->port(), 3);
  EXPECT_TRUE(testing::PollUntil([&] { return stalled.closed_by_server() == 3; },
                                 std::chrono::seconds(5)));
}

// Established connections that send nothing (TLS done, no request) give way to a new one
// when all connections are taken; the controller always gets in.
TEST_F(ApiServerTest, IdleConnectionsGiveWayWhenTheCapIsReached) {
  ApiServerOptions options;
  options.max_connections = 4;
  options.max_handshakes = 4;
  StartServer(options);
  auto ctx = tls::MakeClientContext(controller_);
  ASSERT_TRUE(ctx.ok());
  std::vector<std::unique_ptr<transfer::TlsConnection>> idle;
  for (int i = 0; i < 6; ++i) {
    auto conn = transfer::TlsConnection::Connect(
        "127.0.0.1", server_->port(), *ctx, "host-a",
        transfer::Clock::now() + std::chrono::seconds(5), nullptr);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    idle.push_back(std::move(conn).value());
  }
  auto client = Client(controller_);
  auto health = client->GetHealth();
  EXPECT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_TRUE(testing::PollUntil(
      [&] { return ServerSockets(server_->port()).size() <= 1u + 4u; }, std::chrono::seconds(5)))
      << ServerSockets(server_->port()).size() << " sockets";
}

// Out of descriptors, accept() fails and the connection stays pending: the old loop spun
// on a core and logged without end. Now pending connections are shed and it backs off.
TEST_F(ApiServerTest, AcceptLoopShedsInsteadOfSpinningWhenOutOfDescriptors) {
  StartServer();
  testing::Shedding r = testing::ConnectWhileOutOfDescriptors(server_->port(), 3);
  ASSERT_TRUE(r.exhausted);
  EXPECT_TRUE(r.shed) << "pending connections were left hanging";
  EXPECT_LT(r.cpu.count(), r.wall.count() / 2)
      << "the accept loop spun: " << r.cpu.count() << " us of CPU in " << r.wall.count() << " us";
  auto client = Client(controller_);
  EXPECT_TRUE(client->GetHealth().ok()) << "serving again once descriptors are free";
}

// The systemd watchdog's probe: posted work runs on the I/O thread, and never once stopped.
TEST_F(ApiServerTest, PostRunsWorkOnTheIoThreadUntilStopped) {
  StartServer();
  std::promise<std::thread::id> ran;
  server_->Post([&ran] { ran.set_value(std::this_thread::get_id()); });
  std::future<std::thread::id> on = ran.get_future();
  ASSERT_EQ(on.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(on.get(), std::this_thread::get_id());
  server_->Stop();
  std::atomic<bool> late{false};
  server_->Post([&late] { late = true; });
  server_.reset();  // the work still queued is destroyed, not run
  EXPECT_FALSE(late);
}

}  // namespace
}  // namespace migrate::agent
