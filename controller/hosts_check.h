// `migrate hosts check <host>...`: the host-level part of the preflight on its own (agent
// reachable and authenticated, its name, runtime, CRIU and `criu check`, cgroup layout and
// the cgroup modes it can honour).
#pragma once

#include <string>

#include "controller/agent_client.h"
#include "proto/controller.pb.h"

namespace migrate::controller {

// Checks one host through `agent`. Never fails: problems are in the result.
proto::HostCheckResult CheckHost(AgentClient& agent);

// A fixed-width table, one host a line, then the errors.
std::string HostsCheckToText(const proto::HostsCheckReport& report);
// One JSON object (protobuf field names, zero values printed) with "\n".
std::string HostsCheckToJson(const proto::HostsCheckReport& report);

}  // namespace migrate::controller
