// A checkpoint's and a restore's results as the agent's API reports them: the one mapping that
// the agent's steps and `migrate-agent checkpoint|restore --json` share. Each also carries
// CRIU's own statistics, read from the work directory CRIU ran in (absent when CRIU kept none).
#pragma once

#include "agent/runtime/runtime.h"
#include "proto/agent_api.pb.h"

namespace migrate::runtime {

proto::CheckpointSendResponse CheckpointResultToProto(const CheckpointResult& result);
proto::RestoreResponse RestoreResultToProto(const RestoreResult& result);

}  // namespace migrate::runtime
