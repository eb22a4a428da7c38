#include "agent/agent_config.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "agent/runtime/oci_policy.h"
#include "transfer/base/log.h"

namespace migrate::agent {

Result<proto::AgentConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("config file " + path + " cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  proto::AgentConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), &config, options);
  if (!status.ok()) {
    return Status::InvalidArgument("config file " + path + ": " + std::string(status.message()));
  }
  return config;
}

namespace {

bool IsLoopback(const std::string& address) {
  in_addr v4;
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return ::inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// "host:port" or "[host]:port" into its parts; false when it has neither form.
bool SplitHostPort(const std::string& text, std::string* host, std::string* port) {
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) return false;
    *host = text.substr(1, close - 1);
    *port = text.substr(close + 2);
    return true;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || text.find(':') != colon) return false;
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  return true;
}

}  // namespace

Result<ListenAddress> ParseMetricsListen(const std::string& text) {
  const std::string what = "metrics_listen '" + text + "'";
  std::string host, port;
  if (!SplitHostPort(text, &host, &port)) {
    return Status::InvalidArgument(what + ": expected ADDRESS:PORT, e.g. 127.0.0.1:9464");
  }
  if (!IsLoopback(host)) {
    return Status::InvalidArgument(what + ": metrics are plain HTTP, served on a loopback "
                                   "address only (127.0.0.0/8 or ::1)");
  }
  const bool digits = !port.empty() && port.size() <= 5 &&
                      port.find_first_not_of("0123456789") == std::string::npos;
  const long number = digits ? std::stol(port) : 0;
  if (number < 1 || number > 65535) {
    return Status::InvalidArgument(what + ": the port must be in 1..65535");
  }
  return ListenAddress{host, static_cast<uint16_t>(number)};
}

void ApplyAgentConfigDefaults(proto::AgentConfig* config) {
  if (config->listen_address().empty()) config->set_listen_address("0.0.0.0");
  if (config->api_port() == 0) config->set_api_port(7443);
  if (config->state_dir().empty()) config->set_state_dir("/var/lib/migrate");
  if (config->runc_root().empty()) config->set_runc_root("/run/runc");
  if (config->runtime_path().empty()) config->set_runtime_path("runc");
  if (config->cgroup_parent().empty()) config->set_cgroup_parent("/migrate");
  if (config->log_level().empty()) config->set_log_level("info");
  if (config->retention_hours() == 0) config->set_retention_hours(72);
  if (config->orphan_wait_seconds() == 0) config->set_orphan_wait_seconds(60);
  if (config->criu_path().empty()) config->set_criu_path("criu");
  if (config->runtime_timeout_seconds() == 0) config->set_runtime_timeout_seconds(600);
}

Status ValidateAgentConfig(const proto::AgentConfig& config) {
  if (config.node_name().empty()) {
    return Status::InvalidArgument("node_name is required (the DNS name in this node's certificate)");
  }
  if (config.api_port() > 65535 || config.data_port() > 65535) {
    return Status::InvalidArgument("ports must be in 1..65535");
  }
  if (config.api_port() != 0 && config.api_port() == config.data_port()) {
    return Status::InvalidArgument("api_port and data_port must differ");
  }
  struct NamedFile {
    const char* name;
    const std::string& path;
  };
  for (const NamedFile& f : {NamedFile{"ca_file", config.ca_file()},
                             NamedFile{"cert_file", config.cert_file()},
                             NamedFile{"key_file", config.key_file()}}) {
    if (f.path.empty()) return Status::InvalidArgument(std::string(f.name) + " is required");
    if (::access(f.path.c_str(), R_OK) != 0) {
      return Status::NotFound(std::string(f.name) + " " + f.path + " cannot be read");
    }
  }
  for (const NamedFile& f : {NamedFile{"runtime_path", config.runtime_path()},
                             NamedFile{"criu_path", config.criu_path()}}) {
    if (f.path.find('/') != std::string::npos && ::access(f.path.c_str(), X_OK) != 0) {
      return Status::NotFound(std::string(f.name) + " " + f.path + " is not an executable");
    }
  }
  if (config.cgroup_parent().empty() || config.cgroup_parent()[0] != '/') {
    return Status::InvalidArgument("cgroup_parent must be an absolute cgroup path, e.g. /migrate");
  }
  if (config.state_dir().empty() || config.state_dir()[0] != '/') {
    return Status::InvalidArgument("state_dir must be an absolute path");
  }
  MIGRATE_RETURN_IF_ERROR(
      runtime::ValidateOciPolicy(config.received_containers()).WithContext("received_containers"));
  if (!config.metrics_listen().empty()) {
    MIGRATE_RETURN_IF_ERROR(ParseMetricsListen(config.metrics_listen()).status());
  }
  LogLevel level;
  if (!ParseLogLevel(config.log_level(), &level)) {
    return Status::InvalidArgument("log_level must be debug, info, warn or error, not '" +
                                   config.log_level() + "'");
  }
  return Status::Ok();
}

}  // namespace migrate::agent
