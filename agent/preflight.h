// Preflight: every check a migration must pass on this node before anything is frozen or
// created, for either role. Changes nothing; each failed check says what was found and what
// to do.
#pragma once

#include "agent/agent_context.h"
#include "proto/agent_api.pb.h"

namespace migrate::agent {

Result<proto::PreflightResponse> RunPreflight(AgentContext& ctx,
                                              const proto::PreflightRequest& request);

}  // namespace migrate::agent
