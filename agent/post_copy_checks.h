// Preflight for `--strategy post-copy`, on either host: everything lazy migration needs, so
// that a refusal comes before the freeze with its reason.
#pragma once

#include <vector>

#include "agent/agent_context.h"
#include "proto/agent_api.pb.h"

namespace migrate::agent {

// `init_pid`: the container's (source), 0 on the destination.
std::vector<proto::PreflightCheck> PostCopyChecks(AgentContext& ctx,
                                                  const proto::PreflightRequest& request,
                                                  const proto::Capabilities& caps, int init_pid);

}  // namespace migrate::agent
