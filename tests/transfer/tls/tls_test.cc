// Mutual TLS policy over real loopback connections, with a CA made at run time.
#include "transfer/tls/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "tests/transfer/test_pki.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {
namespace {

using testing::TempDir;
using testing::TestPki;

// A loopback listener on a free port.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  int AcceptFd() { return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

struct HandshakeResult {
  Status server;
  Status client;
  tls::PeerIdentity server_saw;  // the client's identity as the server saw it
  tls::PeerIdentity client_saw;
  transfer::TagKey server_key{};  // the chunk tag key each end exported
  transfer::TagKey client_key{};
};

HandshakeResult HandshakeWith(const Result<tls::ContextPtr>& server_ctx,
                              const Result<tls::ContextPtr>& client_ctx,
                              const std::string& expected_name) {
  HandshakeResult out;
  EXPECT_TRUE(server_ctx.ok()) << server_ctx.status().ToString();
  EXPECT_TRUE(client_ctx.ok()) << client_ctx.status().ToString();
  Listener listener;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  auto server = std::async(std::launch::async, [&]() -> Status {
    int fd = listener.AcceptFd();
    auto conn = TlsConnection::Accept(fd, *server_ctx, deadline, nullptr);
    if (!conn.ok()) return conn.status();
    auto id = tls::IdentifyPeer((*conn)->ssl());
    if (!id.ok()) return id.status();
    out.server_saw = *id;
    auto key = transfer::ExportChunkTagKey(**conn);
    if (!key.ok()) return key.status();
    out.server_key = *key;
    char buf[5];
    MIGRATE_RETURN_IF_ERROR((*conn)->ReadExact(buf, 5));
    MIGRATE_RETURN_IF_ERROR((*conn)->WriteAll("pong!", 5));
    return (*conn)->Shutdown(std::chrono::seconds(2));
  });
  auto conn = TlsConnection::Connect("127.0.0.1", listener.port(), *client_ctx, expected_name,
                                     deadline, nullptr);
  if (!conn.ok()) {
    out.client = conn.status();
  } else {
    auto id = tls::IdentifyPeer((*conn)->ssl());
    if (id.ok()) out.client_saw = *id;
    auto key = transfer::ExportChunkTagKey(**conn);
    if (key.ok()) out.client_key = *key;
    char buf[5];
    out.client = (*conn)->WriteAll("ping!", 5);
    if (out.client.ok()) out.client = (*conn)->ReadExact(buf, 5);
    if (out.client.ok()) {
      EXPECT_EQ(std::string(buf, 5), "pong!");
      out.client = (*conn)->Shutdown(std::chrono::seconds(2));
    }
    conn->reset();
  }
  out.server = server.get();
  return out;
}

HandshakeResult Handshake(const tls::TlsFiles& server_files, const tls::TlsFiles& client_files,
                          const std::string& expected_name) {
  return HandshakeWith(tls::MakeServerContext(server_files), tls::MakeClientContext(client_files),
                       expected_name);
}

// The chunk tag key: the same on both ends of a connection, never sent, new per connection.
TEST(TlsTest, BothEndsExportTheSameChunkTagKeyAndEachConnectionItsOwn) {
  TempDir dir;
  TestPki pki(dir.path());
  auto first = Handshake(pki.Issue("node-b"), pki.Issue("node-a"), "node-b");
  ASSERT_TRUE(first.server.ok()) << first.server.ToString();
  ASSERT_TRUE(first.client.ok()) << first.client.ToString();
  EXPECT_EQ(first.server_key, first.client_key);
  EXPECT_NE(first.client_key, transfer::TagKey{});
  auto second = Handshake(pki.Issue("node-b"), pki.Issue("node-a"), "node-b");
  ASSERT_TRUE(second.client.ok());
  EXPECT_EQ(second.server_key, second.client_key);
  EXPECT_NE(second.client_key, first.client_key);
}

TEST(TlsTest, MutualAuthenticationSucceedsAndIdentifiesBothSides) {
  TempDir dir;
  TestPki pki(dir.path());
  auto r = Handshake(pki.Issue("node-b"), pki.Issue("node-a"), "node-b");
  ASSERT_TRUE(r.client.ok()) << r.client.ToString();
  ASSERT_TRUE(r.server.ok()) << r.server.ToString();
  EXPECT_EQ(r.server_saw.common_name, "node-a");
  EXPECT_EQ(r.server_saw.role, tls::Role::kNode);
  ASSERT_FALSE(r.server_saw.dns_names.empty());
  EXPECT_EQ(r.server_saw.dns_names[0], "node-a");
  EXPECT_EQ(r.client_saw.common_name, "node-b");
}

TEST(TlsTest, NegotiatesTls13) {
  TempDir dir;
  TestPki pki(dir.path());
  auto server_ctx = tls::MakeServerContext(pki.Issue("node-b"));
  auto client_ctx = tls::MakeClientContext(pki.Issue("node-a"));
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  Listener listener;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  auto server = std::async(std::launch::async, [&] {
    auto c = TlsConnection::Accept(listener.AcceptFd(), *server_ctx, deadline, nullptr);
    if (c.ok()) (void)(*c)->Shutdown(std::chrono::seconds(2));
    return c.ok();
  });
  auto conn = TlsConnection::Connect("127.0.0.1", listener.port(), *client_ctx, "node-b", deadline,
                                     nullptr);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_EQ(SSL_version((*conn)->ssl()), TLS1_3_VERSION);
  EXPECT_TRUE((*conn)->Shutdown(std::chrono::seconds(2)).ok());
  EXPECT_TRUE(server.get());
}

TEST(TlsTest, ClientRefusesServerWithWrongName) {
  TempDir dir;
  TestPki pki(dir.path());
  auto r = Handshake(pki.Issue("node-b"), pki.Issue("node-a"), "node-c");
  EXPECT_EQ(r.client.code(), StatusCode::kPermissionDenied) << r.client.ToString();
  EXPECT_FALSE(r.server.ok());
}

TEST(TlsTest, ServerIpInSanIsAccepted) {
  TempDir dir;
  TestPki pki(dir.path());
  auto r = Handshake(pki.Issue("node-b"), pki.Issue("node-a"), "127.0.0.1");
  EXPECT_TRUE(r.client.ok()) << r.client.ToString();
}

TEST(TlsTest, ServerRefusesClientFromAnotherCa) {
  TempDir dir;
  TestPki pki(dir.path() + "/one");
  TestPki other(dir.path() + "/two", "other CA");
  auto r = Handshake(pki.Issue("node-b"), other.Issue("node-a"), "node-b");
  EXPECT_FALSE(r.server.ok());
  EXPECT_EQ(r.server.code(), StatusCode::kPermissionDenied) << r.server.ToString();
  EXPECT_FALSE(r.client.ok());
}

TEST(TlsTest, ClientRefusesServerFromAnotherCa) {
  TempDir dir;
  TestPki pki(dir.path() + "/one");
  TestPki other(dir.path() + "/two", "other CA");
  auto r = Handshake(other.Issue("node-b"), pki.Issue("node-a"), "node-b");
  EXPECT_EQ(r.client.code(), StatusCode::kPermissionDenied) << r.client.ToString();
  EXPECT_FALSE(r.server.ok());
}

TEST(TlsTest, ControllerCertificateCannotServe) {
  TempDir dir;
  TestPki pki(dir.path());
  // The controller's certificate has clientAuth only: a client must refuse it as a server.
  auto r = Handshake(pki.Issue("ctl", tls::Role::kController), pki.Issue("node-a"), "ctl");
  EXPECT_EQ(r.client.code(), StatusCode::kPermissionDenied) << r.client.ToString();
}

TEST(TlsTest, ControllerRoleIsIdentified) {
  TempDir dir;
  TestPki pki(dir.path());
  auto r = Handshake(pki.Issue("node-b"), pki.Issue("ctl", tls::Role::kController), "node-b");
  ASSERT_TRUE(r.server.ok()) << r.server.ToString();
  EXPECT_EQ(r.server_saw.role, tls::Role::kController);
}

TEST(TlsTest, PlaintextClientIsRefused) {
  TempDir dir;
  TestPki pki(dir.path());
  auto server_ctx = tls::MakeServerContext(pki.Issue("node-b"));
  ASSERT_TRUE(server_ctx.ok());
  Listener listener;
  auto server = std::async(std::launch::async, [&] {
    return TlsConnection::Accept(listener.AcceptFd(), *server_ctx,
                                 Clock::now() + std::chrono::seconds(10), nullptr)
        .status();
  });
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(listener.port());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(write(fd, req, sizeof(req) - 1), 0);
  Status st = server.get();
  close(fd);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
}

TEST(TlsTest, HandshakeTimesOutOnSilentClient) {
  TempDir dir;
  TestPki pki(dir.path());
  auto server_ctx = tls::MakeServerContext(pki.Issue("node-b"));
  ASSERT_TRUE(server_ctx.ok());
  Listener listener;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(listener.port());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto st = TlsConnection::Accept(listener.AcceptFd(), *server_ctx,
                                  Clock::now() + std::chrono::milliseconds(300), nullptr)
                .status();
  close(fd);
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
}

TEST(TlsTest, MissingFilesNameTheFile) {
  auto ctx = tls::MakeServerContext({"/nonexistent/ca.pem", "/nonexistent/c.pem", "/x/k.pem"});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

// Revocation: contexts made before a certificate is revoked refuse it at their next
// handshake, on either side, once the CA's new crl.pem is beside their ca.pem.
TEST(TlsTest, RevokedClientIsRefusedWithoutRestartingTheServer) {
  TempDir dir;
  TestPki pki(dir.path());
  auto server_ctx = tls::MakeServerContext(pki.Issue("node-b"));
  auto client_ctx = tls::MakeClientContext(pki.Issue("node-a"));
  ASSERT_TRUE(HandshakeWith(server_ctx, client_ctx, "node-b").server.ok());
  ASSERT_TRUE(pki.Revoke("node-a").ok());
  auto r = HandshakeWith(server_ctx, client_ctx, "node-b");
  EXPECT_FALSE(r.server.ok());
  EXPECT_NE(r.server.message().find("certificate revoked"), std::string::npos)
      << r.server.ToString();
  EXPECT_FALSE(r.client.ok());
  // Another node is not concerned.
  EXPECT_TRUE(Handshake(pki.Issue("node-b"), pki.Issue("node-c"), "node-b").server.ok());
}

TEST(TlsTest, RevokedServerIsRefusedByItsClient) {
  TempDir dir;
  TestPki pki(dir.path());
  auto client_ctx = tls::MakeClientContext(pki.Issue("node-a"));
  pki.Issue("node-b");
  ASSERT_TRUE(pki.Revoke("node-b").ok());
  auto r = HandshakeWith(tls::MakeServerContext(pki.Issue("node-b")), client_ctx, "node-b");
  EXPECT_EQ(r.client.code(), StatusCode::kPermissionDenied) << r.client.ToString();
  EXPECT_NE(r.client.message().find("certificate revoked"), std::string::npos)
      << r.client.ToString();
}

// A server context for node-b, made before anything is revoked.
class RevocationTest : public ::testing::Test {
 protected:
  TempDir dir;
  TestPki pki{dir.path()};
  tls::TlsFiles server = pki.Issue("node-b");
  Result<tls::ContextPtr> server_ctx = tls::MakeServerContext(server);
};

TEST_F(RevocationTest, ABrokenOrForeignListNeverLiftsARevocation) {
  auto revoked = tls::MakeClientContext(pki.Issue("node-a"));
  auto other = tls::MakeClientContext(pki.Issue("node-c"));
  ASSERT_TRUE(pki.Revoke("node-a").ok());
  ASSERT_FALSE(HandshakeWith(server_ctx, revoked, "node-b").server.ok());
  // A half-copied list: the last good one stays in force, for everyone.
  std::string crl = tls::CrlPathFor(server);
  testing::WriteTextFile(crl, "-----BEGIN X509 CRL-----\nMIIB");
  EXPECT_FALSE(HandshakeWith(server_ctx, revoked, "node-b").server.ok());
  EXPECT_TRUE(HandshakeWith(server_ctx, other, "node-b").server.ok());
  // A list from another CA does not count either, and stops a context from starting.
  TestPki rogue(dir.Sub("rogue"), "rogue CA");
  rogue.Issue("x");
  ASSERT_TRUE(rogue.Revoke("x").ok());
  ASSERT_EQ(::rename(dir.Sub("rogue/ca/crl.pem").c_str(), crl.c_str()), 0);
  EXPECT_FALSE(HandshakeWith(server_ctx, revoked, "node-b").server.ok());
  EXPECT_EQ(tls::MakeServerContext(server).status().code(), StatusCode::kFailedPrecondition);
  // A list that is named must exist.
  tls::TlsFiles named = server;
  named.crl_file = dir.Sub("missing.pem");
  EXPECT_EQ(tls::MakeServerContext(named).status().code(), StatusCode::kNotFound);
}

// A context that never had a good list and then finds a broken one refuses every peer until
// the list is whole: what it cannot read might revoke anyone.
TEST_F(RevocationTest, ABrokenFirstListRefusesEveryone) {
  auto client_ctx = tls::MakeClientContext(pki.Issue("node-c"));
  testing::WriteTextFile(tls::CrlPathFor(server), "not a list");
  auto r = HandshakeWith(server_ctx, client_ctx, "node-b");
  EXPECT_FALSE(r.server.ok());
  EXPECT_NE(r.server.message().find("unable to get certificate CRL"), std::string::npos)
      << r.server.ToString();
  pki.Issue("node-a");
  ASSERT_TRUE(pki.Revoke("node-a").ok());  // a whole list again
  EXPECT_TRUE(HandshakeWith(server_ctx, client_ctx, "node-b").server.ok());
}

}  // namespace
}  // namespace migrate::transfer
