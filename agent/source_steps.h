// The source's part of a migration (the state machine's source rows, migration_table.h):
// checkpoint the container while its images stream to the destination, keep the images until
// the end, then commit (remove the container and images here) or roll back (the container runs
// here again: still running, thawed, or restored from the kept images).
#pragma once

#include <memory>

#include "agent/agent_context.h"
#include "agent/early_freeze.h"
#include "agent/runtime/runtime.h"
#include "proto/agent_api.pb.h"

namespace migrate::agent {

class SourcePages;

class SourceSteps {
 public:
  explicit SourceSteps(AgentContext& ctx) : ctx_(ctx) {}

  // The freeze: refusals come before anything is frozen; the phase is journaled before the
  // dump and after both streams verified.
  Result<proto::CheckpointSendResponse> CheckpointSend(const proto::CheckpointSendRequest& r);

  // Both need the migration's step lock held by the caller.
  Status Commit(Migration& m);
  // Waits for a dump that outlived an earlier run of the agent first (nothing changes while
  // it runs), then makes the container run here again.
  Status Rollback(Migration& m);

 private:
  Result<runtime::CgroupMode> PrepareFreeze(Migration& m, const proto::CheckpointSendRequest& r);
  Result<proto::CheckpointSendResponse> Freeze(Migration& m, const proto::CheckpointSendRequest& r,
                                               runtime::CgroupMode mode);
  Result<runtime::CheckpointResult> DumpAllButPages(Migration& m,
                                                    const proto::CheckpointSendRequest& request,
                                                    const runtime::CheckpointOptions& checkpoint,
                                                    std::shared_ptr<SourcePages>* pages);
  std::unique_ptr<EarlyFreeze> EarlyFreezeOf(const proto::MigrationRecord& r,
                                             const runtime::CheckpointOptions& checkpoint);
  Status CheckPostCopy(const proto::CheckpointSendRequest& request);
  Status EndPostCopy(Migration& m, bool commit);
  Result<std::string> RunHereAgain(Migration& m);
  std::string AfterFailedDump(const proto::MigrationRecord& r);
  std::string BundleAfterDumpReason(const proto::CheckpointSendRequest& request);
  void RemoveOwnBundle(const proto::MigrationRecord& r);

  AgentContext& ctx_;
};

}  // namespace migrate::agent
