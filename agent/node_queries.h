// The agent's read-only answers: what the node can do, what a container is, where a
// migration stands. None of them changes anything.
#pragma once

#include <string>

#include "agent/agent_context.h"
#include "proto/agent_api.pb.h"

namespace migrate::agent {

// The node's capabilities (runtime, CRIU, cgroup modes) and the journal's state (unfinished
// and quarantined migrations).
Result<proto::Capabilities> QueryCapabilities(AgentContext& ctx);

// The container as the runtime and its bundle show it; exists = false when unknown.
Result<proto::ContainerInfo> InspectContainer(AgentContext& ctx, const std::string& container_id);

// The migration's last journaled state and the live counters of its stream. Never waits for
// the migration's step lock.
proto::MigrationStatus MigrationStatusOf(AgentContext& ctx, Migration& m);

// Every container the runtime knows here, inspected; and every migration this agent knows
// (unfinished, and ended ones still within the retention time).
Result<proto::ContainerList> ListContainers(AgentContext& ctx);
proto::MigrationList ListMigrations(AgentContext& ctx);

}  // namespace migrate::agent
