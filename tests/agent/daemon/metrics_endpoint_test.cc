// The metrics endpoint over the real plain-HTTP loopback server: GET /metrics answers in the
// text exposition format, nothing else is served, and no other address is accepted.
#include "agent/metrics_endpoint.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/loopback_exchange.h"

namespace migrate::agent {
namespace {

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.name = "metrics";
    auto server = ApiServer::StartPlain(
        options, [this](ApiRequest r, Respond respond) { respond(ServeMetrics(r, metrics_)); });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // One HTTP/1.1 exchange on a fresh connection; the whole answer (the server closes).
  std::string Exchange(const std::string& request_line) {
    return testing::LoopbackExchange(
        server_->port(), request_line + "\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  }

  AgentMetrics metrics_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(MetricsEndpointTest, GetMetricsAnswersInTheTextFormat) {
  metrics_.CriuFailed("restore");
  const std::string answer = Exchange("GET /metrics HTTP/1.1");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << answer;
  EXPECT_NE(answer.find("\r\n\r\n# HELP migrate_agent_migrations_total "), std::string::npos);
  EXPECT_NE(answer.find("\nmigrate_agent_criu_failures_total{operation=\"restore\"} 1\n"),
            std::string::npos)
      << answer;
  EXPECT_EQ(Exchange("GET /metrics?name=x HTTP/1.1").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(MetricsEndpointTest, NothingElseIsServed) {
  EXPECT_EQ(Exchange("GET / HTTP/1.1").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange("GET /v1/health HTTP/1.1").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange("POST /metrics HTTP/1.1").rfind("HTTP/1.1 405", 0), 0u);
}

TEST(MetricsEndpointAddressTest, PlainHttpOnlyOnLoopback) {
  for (const char* address : {"0.0.0.0", "::", "198.51.100.7", "not-an-address"}) {
    ApiServerOptions options;
    options.address = address;
    auto server = ApiServer::StartPlain(options, [](ApiRequest, Respond) {});
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << address;
    EXPECT_NE(server.status().message().find("loopback address only"), std::string::npos);
  }
}

}  // namespace
}  // namespace migrate::agent
