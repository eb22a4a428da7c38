// migrate-agent's configuration: a JSON file (proto/agent_config.proto) plus flags.
#pragma once

#include <cstdint>
#include <string>

#include "proto/agent_config.pb.h"
#include "transfer/base/status.h"

namespace migrate::agent {

// Parses a JSON config file. Unknown fields are errors (a typo must not be ignored).
Result<proto::AgentConfig> LoadAgentConfig(const std::string& path);

// Fills defaults for fields left empty: listen 0.0.0.0, api_port 7443, data_port 7444,
// state_dir /var/lib/migrate, runc_root /run/runc, runtime_path "runc", cgroup_parent
// "/migrate", log_level "info".
void ApplyAgentConfigDefaults(proto::AgentConfig* config);

struct ListenAddress {
  std::string address;  // "127.0.0.1", "::1"
  uint16_t port = 0;
};

// metrics_listen: "ADDRESS:PORT" ("[ADDRESS]:PORT" for IPv6) with a loopback address
// (127.0.0.0/8 or ::1) and a port in 1..65535; InvalidArgument naming what is wrong.
Result<ListenAddress> ParseMetricsListen(const std::string& text);

// Checks a complete config: required fields present, files readable, names sane.
Status ValidateAgentConfig(const proto::AgentConfig& config);

}  // namespace migrate::agent
