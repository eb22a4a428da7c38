// HttpsAgentClient against a real mutual-TLS HTTP server on loopback (port 0), with a CA and
// certificates made at run time: protobuf bodies both ways, the agent's ApiError as a Status,
// and every refusal the controller owes its user (wrong name, wrong role, foreign CA,
// nothing listening, a server that never answers).
// clang-format off
#include <utility>  // g++ 12 + Boost 1.74: asio needs it first.
// clang-format on

#include "controller/https_agent_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "transfer/certs/certs.h"

namespace migrate::controller {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;

using Handler =
    std::function<http::response<http::string_body>(const http::request<http::string_body>&)>;

// A blocking HTTPS server: one thread accepts, one thread per connection.
class TestServer {
 public:
  TestServer(tls::ContextPtr context, Handler handler)
      : context_(std::move(context)), handler_(std::move(handler)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestServer() { Stop(); }

  uint16_t port() const { return port_; }

  // Connections whose handler blocks (see Hang()) are released here.
  void Stop() {
    if (stopped_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_ = true;
    }
    cv_.notify_all();
    // Wake the blocking accept.
    net::io_context ioc;
    tcp::socket waker(ioc);
    beast::error_code ec;
    waker.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
    for (std::thread& t : connections_) t.join();
  }

  // For a handler: blocks until Stop().
  void Hang() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return release_; });
  }

  std::vector<std::string> targets() {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }

 private:
  void AcceptLoop() {
    while (true) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopped_) return;
      if (ec) continue;
      connections_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    net::io_context ioc;
    beast::ssl_stream<tcp::socket> stream(std::move(socket), *context_);
    beast::error_code ec;
    stream.handshake(net::ssl::stream_base::server, ec);
    if (ec) return;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(stream, buffer, request, ec);
    if (ec) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      targets_.push_back(std::string(request.method_string()) + " " +
                         std::string(request.target()));
    }
    http::response<http::string_body> response = handler_(request);
    response.version(11);
    response.keep_alive(false);
    response.prepare_payload();
    http::write(stream, response, ec);
    stream.shutdown(ec);
  }

  tls::ContextPtr context_;
  Handler handler_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> connections_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool release_ = false;
  std::vector<std::string> targets_;
};

http::response<http::string_body> Reply(const google::protobuf::Message& message,
                                        http::status status = http::status::ok) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "application/x-protobuf");
  response.body() = message.SerializeAsString();
  return response;
}

class HttpsAgentClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "migrate-https-client-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    ASSERT_TRUE(certs::CreateCa(dir_ + "/ca", {}).ok());
    ASSERT_TRUE(certs::CreateCa(dir_ + "/other-ca", {}).ok());
    node_b_ = Issue("/ca", "/host-b", "host-b", tls::Role::kNode);
    node_wrong_role_ = Issue("/ca", "/host-b-as-controller", "host-b", tls::Role::kController);
    node_foreign_ = Issue("/other-ca", "/host-b-foreign", "host-b", tls::Role::kNode);
    controller_ = Issue("/ca", "/controller", "controller", tls::Role::kController);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static tls::TlsFiles Issue(const std::string& ca, const std::string& out, const std::string& name,
                             tls::Role role) {
    certs::IssueOptions options;
    options.name = name;
    options.role = role;
    options.ip_addresses = {"127.0.0.1"};
    Result<tls::TlsFiles> files = certs::IssueCertificate(dir_ + ca, dir_ + out, options);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? *files : tls::TlsFiles{};
  }

  std::unique_ptr<AgentClient> Client(uint16_t port, const std::string& name = "host-b",
                                      HttpsClientOptions options = {}) {
    proto::InventoryHost host;
    host.set_name(name);
    host.set_address("127.0.0.1");
    host.set_port(port);
    proto::ControllerTlsFiles files;
    files.set_ca(controller_.ca_file);
    files.set_cert(controller_.cert_file);
    files.set_key(controller_.key_file);
    Result<std::unique_ptr<HttpsAgentClientFactory>> factory =
        HttpsAgentClientFactory::Create(files, options);
    EXPECT_TRUE(factory.ok()) << factory.status().ToString();
    Result<std::unique_ptr<AgentClient>> client = (*factory)->Connect(host);
    EXPECT_TRUE(client.ok());
    return std::move(client).value();
  }

  static tls::ContextPtr ServerContext(const tls::TlsFiles& files) {
    Result<tls::ContextPtr> context = tls::MakeServerContext(files);
    EXPECT_TRUE(context.ok()) << context.status().ToString();
    return *context;
  }

  static std::string dir_;
  static tls::TlsFiles node_b_, node_wrong_role_, node_foreign_, controller_;
};

std::string HttpsAgentClientTest::dir_;
tls::TlsFiles HttpsAgentClientTest::node_b_;
tls::TlsFiles HttpsAgentClientTest::node_wrong_role_;
tls::TlsFiles HttpsAgentClientTest::node_foreign_;
tls::TlsFiles HttpsAgentClientTest::controller_;

TEST_F(HttpsAgentClientTest, ExchangesProtobufBodies) {
  TestServer server(ServerContext(node_b_), [](const http::request<http::string_body>& req) {
    if (req.target() == "/v1/health") {
      proto::Health health;
      health.set_node_name("host-b");
      health.set_agent_version("9.9");
      return Reply(health);
    }
    proto::InspectRequest inspect;
    EXPECT_EQ(req[http::field::content_type], "application/x-protobuf");
    EXPECT_TRUE(inspect.ParseFromString(req.body()));
    proto::ContainerInfo info;
    info.set_container_id(inspect.container_id());
    info.set_exists(true);
    info.set_status("running");
    return Reply(info);
  });
  std::unique_ptr<AgentClient> client = Client(server.port());
  Result<proto::Health> health = client->GetHealth();
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->agent_version(), "9.9");
  proto::InspectRequest inspect;
  inspect.set_container_id("web");
  Result<proto::ContainerInfo> info = client->Inspect(inspect);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->container_id(), "web");
  EXPECT_EQ(info->status(), "running");
  server.Stop();
  EXPECT_THAT(server.targets(), ::testing::ElementsAre("GET /v1/health", "POST /v1/inspect"));
}

TEST_F(HttpsAgentClientTest, AgentErrorBecomesStatusWithCodeAndMessage) {
  TestServer server(ServerContext(node_b_), [](const http::request<http::string_body>&) {
    proto::ApiError error;
    error.set_code("FailedPrecondition");
    error.set_message("restore container web: cgroup mode strict cannot work under runc");
    return Reply(error, http::status::conflict);
  });
  Result<proto::RestoreResponse> restored = Client(server.port())->Restore({});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(restored.status().message(), HasSubstr("host-b"));
  EXPECT_THAT(restored.status().message(), HasSubstr("POST /v1/restore"));
  EXPECT_THAT(restored.status().message(), HasSubstr("strict cannot work under runc"));
}

TEST_F(HttpsAgentClientTest, NonProtobufErrorBodyStillSaysTheHttpStatus) {
  TestServer server(ServerContext(node_b_), [](const http::request<http::string_body>&) {
    http::response<http::string_body> response{http::status::not_found, 11};
    response.body() = "no such route";
    return response;
  });
  Result<proto::MigrationStatus> status = Client(server.port())->GetMigration("abc");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(), HasSubstr("HTTP 404"));
}

TEST_F(HttpsAgentClientTest, RefusesAServerCertifiedForAnotherName) {
  TestServer server(ServerContext(node_b_),
                    [](const http::request<http::string_body>&) { return Reply(proto::Health()); });
  Result<proto::Health> health = Client(server.port(), "host-a")->GetHealth();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), StatusCode::kPermissionDenied) << health.status().ToString();
  EXPECT_TRUE(server.targets().empty()) << "no request may be sent to the wrong host";
}

TEST_F(HttpsAgentClientTest, RefusesAServerWhoseRoleIsNotNode) {
  TestServer server(ServerContext(node_wrong_role_),
                    [](const http::request<http::string_body>&) { return Reply(proto::Health()); });
  Result<proto::Health> health = Client(server.port())->GetHealth();
  ASSERT_FALSE(health.ok());
  // A controller certificate has no serverAuth usage, so the handshake already fails; the
  // role check after the handshake is the second line of defence.
  EXPECT_EQ(health.status().code(), StatusCode::kPermissionDenied) << health.status().ToString();
  server.Stop();
  EXPECT_TRUE(server.targets().empty());
}

TEST_F(HttpsAgentClientTest, RefusesAServerFromAnotherCa) {
  TestServer server(ServerContext(node_foreign_),
                    [](const http::request<http::string_body>&) { return Reply(proto::Health()); });
  Result<proto::Health> health = Client(server.port())->GetHealth();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), StatusCode::kPermissionDenied) << health.status().ToString();
}

TEST_F(HttpsAgentClientTest, NothingListeningIsUnavailable) {
  uint16_t port = 0;
  {
    TestServer server(ServerContext(node_b_), [](const http::request<http::string_body>&) {
      return Reply(proto::Health());
    });
    port = server.port();
  }
  Result<proto::Health> health = Client(port)->GetHealth();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), StatusCode::kUnavailable) << health.status().ToString();
}

TEST_F(HttpsAgentClientTest, ServerThatNeverAnswersTimesOut) {
  TestServer* self = nullptr;
  TestServer server(ServerContext(node_b_), [&self](const http::request<http::string_body>&) {
    self->Hang();
    return Reply(proto::Health());
  });
  self = &server;
  HttpsClientOptions options;
  options.request_timeout = std::chrono::milliseconds(300);
  Result<proto::PreflightResponse> answer = Client(server.port(), "host-b", options)->Preflight({});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kDeadlineExceeded) << answer.status().ToString();
}

TEST_F(HttpsAgentClientTest, PollsWhileALongCallIsInFlight) {
  std::mutex mu;
  std::condition_variable cv;
  bool polled = false;
  TestServer server(ServerContext(node_b_), [&](const http::request<http::string_body>& req) {
    if (req.target() == "/v1/checkpoint-send") {
      std::unique_lock<std::mutex> lock(mu);
      // The long call answers only after a poll was served on another connection.
      EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return polled; }));
      proto::CheckpointSendResponse done;
      done.set_freeze_unix_ms(42);
      return Reply(done);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      polled = true;
    }
    cv.notify_all();
    proto::MigrationStatus status;
    status.set_bytes_raw(123);
    return Reply(status);
  });
  std::unique_ptr<AgentClient> client = Client(server.port());
  Result<proto::CheckpointSendResponse> done = Status::Internal("not run");
  std::thread long_call([&] { done = client->CheckpointSend({}); });
  Result<proto::MigrationStatus> progress = client->GetMigration("00112233445566ff");
  long_call.join();
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  EXPECT_EQ(progress->bytes_raw(), 123u);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->freeze_unix_ms(), 42u);
}

}  // namespace
}  // namespace migrate::controller
