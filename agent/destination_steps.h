// The destination's part of a migration (the state machine's destination rows,
// migration_table.h): expect the two streams, restore the container from what arrived, then
// commit (keep it) or roll back (kill the container this migration restored, remove what it
// received). Every path a migration writes is its own: the bundle goes to
// <state>/containers/<container>/<migration>, so no migration can touch another's files, and a
// container is this migration's only while the runtime reports it running from that bundle.
#pragma once

#include "agent/agent_context.h"
#include "proto/agent_api.pb.h"

namespace migrate::agent {

class DestinationSteps {
 public:
  explicit DestinationSteps(AgentContext& ctx) : ctx_(ctx) {}

  Result<proto::PrepareReceiveResponse> PrepareReceive(const proto::PrepareReceiveRequest& r);
  Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& request);

  // Both need the migration's step lock held by the caller.
  Status Commit(Migration& m);
  // Waits for a restore that outlived an earlier run of the agent first (nothing changes
  // while it runs), then removes everything this migration made here.
  Status Rollback(Migration& m);

 private:
  Result<proto::PrepareReceiveResponse> Expect(Migration& m);
  Status AwaitStreams(const proto::MigrationRecord& r);
  Status CheckReceived(const proto::MigrationRecord& r) const;
  Result<std::optional<std::string>> TargetCgroup(const proto::RestoreRequest& request,
                                                  runtime::CgroupMode mode) const;
  Result<proto::RestoreResponse> RunRestore(Migration& m, const proto::RestoreRequest& request,
                                            runtime::CgroupMode mode,
                                            const std::optional<std::string>& cgroups_path);
  void CancelStreams(const proto::MigrationRecord& r);

  AgentContext& ctx_;
};

}  // namespace migrate::agent
