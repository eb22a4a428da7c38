// The agent's configuration file: the policy for received containers and the CRL are read
// from it, and a policy that cannot mean what it says stops the agent at start.
#include "agent/agent_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/transfer/test_pki.h"

namespace migrate::agent {
namespace {

class AgentConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& json) {
    std::string path = dir_.Sub("agent.json");
    std::ofstream(path) << json;
    return path;
  }
  proto::AgentConfig Complete(proto::AgentConfig config) {
    tls::TlsFiles files = pki_.Issue("host-a");
    config.set_node_name("host-a");
    config.set_ca_file(files.ca_file);
    config.set_cert_file(files.cert_file);
    config.set_key_file(files.key_file);
    ApplyAgentConfigDefaults(&config);
    return config;
  }
  testing::TempDir dir_;
  testing::TestPki pki_{dir_.Sub("pki")};
};

TEST_F(AgentConfigTest, ReadsThePolicyForReceivedContainers) {
  auto config = LoadAgentConfig(Write(R"({
    "node_name": "host-a",
    "received_containers": {
      "allowed_bind_prefixes": ["/srv/data"],
      "allowedHostNamespaces": ["network"],
      "allowed_devices": ["c 10:229"],
      "require_seccomp": true
    }
  })"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const proto::ReceivedContainerPolicy& policy = config->received_containers();
  ASSERT_EQ(policy.allowed_bind_prefixes_size(), 1);
  EXPECT_EQ(policy.allowed_bind_prefixes(0), "/srv/data");
  EXPECT_EQ(policy.allowed_host_namespaces(0), "network");
  EXPECT_TRUE(policy.require_seccomp());
  EXPECT_TRUE(ValidateAgentConfig(Complete(*config)).ok());
}

TEST_F(AgentConfigTest, APolicyWithATypoStopsTheAgent) {
  auto typo = LoadAgentConfig(Write(R"({"received_containers": {"allowed_bind_prefix": ["/"]}})"));
  EXPECT_EQ(typo.status().code(), StatusCode::kInvalidArgument) << "unknown fields are errors";
  proto::AgentConfig config;
  config.mutable_received_containers()->add_allowed_bind_prefixes("srv");
  Status st = ValidateAgentConfig(Complete(config));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("received_containers: allowed_bind_prefixes"), std::string::npos)
      << st.message();
}

TEST_F(AgentConfigTest, MetricsAreOffByDefault) {
  auto config = LoadAgentConfig(Write(R"({"node_name": "host-a"})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(Complete(*config).metrics_listen(), "");
  EXPECT_TRUE(ValidateAgentConfig(Complete(*config)).ok());
}

TEST_F(AgentConfigTest, MetricsListenOnLoopbackAddresses) {
  auto v4 = ParseMetricsListen("127.0.0.1:9464");
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4->address, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto other = ParseMetricsListen("127.3.2.1:1");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto v6 = ParseMetricsListen("[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(v6->port, 65535);
}

TEST_F(AgentConfigTest, AMetricsAddressOffLoopbackStopsTheAgent) {
  struct Case {
    const char* listen;
    const char* says;
  };
  for (const Case& c : {Case{"0.0.0.0:9464", "loopback address only"},
                        Case{"10.0.0.1:9464", "loopback address only"},
                        Case{"[::]:9464", "loopback address only"},
                        Case{"localhost:9464", "loopback address only"},
                        Case{"127.0.0.1", "expected ADDRESS:PORT"},
                        Case{"::1:9464", "expected ADDRESS:PORT"},
                        Case{"127.0.0.1:0", "1..65535"},
                        Case{"127.0.0.1:65536", "1..65535"},
                        Case{"127.0.0.1:94x", "1..65535"},
                        Case{"127.0.0.1:", "1..65535"}}) {
    proto::AgentConfig config;
    config.set_metrics_listen(c.listen);
    Status st = ValidateAgentConfig(Complete(config));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.listen;
    EXPECT_NE(st.message().find(std::string("metrics_listen '") + c.listen + "'"),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find(c.says), std::string::npos) << c.listen << ": " << st.message();
  }
}

}  // namespace
}  // namespace migrate::agent
