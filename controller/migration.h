// The migration orchestrator: an explicit state machine over two AgentClients, following
// docs/flow.md (the contract with the agents):
//
//   preflight -> bundle -> checkpoint+transfer (THE FREEZE) -> restore -> verify -> commit
//        \__________\________________\_______________\__________\_________\--> rollback
//
// Before the freeze a failure leaves the container untouched (the destination is told to
// forget the migration). After the freeze any failure rolls back the destination (best effort:
// it may be dead) and then the source, which restores the container from the images it kept.
// The result is a proto::Report (status "migrated", "rolled_back", "failed", or
// "preflight_ok" for a dry run).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/agent_client.h"
#include "controller/clock.h"
#include "controller/progress.h"
#include "proto/common.pb.h"
#include "proto/controller.pb.h"

namespace migrate::controller {

enum class MigrationPhase {
  kPreflight,
  kPrepare,
  kCheckpointTransfer,
  kRestore,
  kVerify,
  kCommit,
  kRollback,
  kDone,
};

// "preflight", "prepare", "checkpoint+transfer", "restore", "verify", "commit", "rollback",
// "done".
std::string_view MigrationPhaseName(MigrationPhase phase);

struct MigrationRequest {
  std::string migration_id;  // empty: NewMigrationId()
  std::string container_id;
  proto::InventoryHost source;
  proto::InventoryHost destination;
  proto::CgroupMode cgroup_mode = proto::CGROUP_MODE_SOFT;
  std::string cgroup_path;  // destination cgroupsPath; empty = the agent's parent + id
  int compress_level = 0;   // 0 = the agent's default
  uint64_t bandwidth_bytes_per_second = 0;  // both streams together; 0 = no cap
  // CRIU options the workload needs (docs/controller.md): established TCP connections, file
  // locks, unix sockets to peers outside the container.
  bool tcp_established = false;
  bool file_locks = false;
  bool ext_unix_sk = false;
  // The others (`--criu-option`): link-remap, ghost-limit, no-ghost-fiemap, skip-in-flight.
  proto::CriuFileOptions criu_file_options;
  // How the memory moves (`--strategy`): stop-and-copy, or post-copy (docs/post-copy.md).
  proto::Strategy strategy = proto::STRATEGY_STOP_AND_COPY;
  bool keep_images = false;
  bool dry_run = false;  // stop after preflight
  // How often to poll the source agent for transfer progress (0: never). Only used when a
  // ProgressSink is given.
  int progress_interval_ms = 500;
  // Set (e.g. by a SIGINT handler) to stop: the step in flight completes, then the migration
  // ends as it would on a failure of the next step (rolled back after the freeze). May be null.
  const std::atomic<bool>* interrupted = nullptr;
};

// "stop-and-copy" | "post-copy".
std::string_view StrategyName(proto::Strategy strategy);
// The bytes a destination must hold for a migration of `container` (its free-space check and
// the streams' budget): the root file system and the memory twice (migration.cc says why).
uint64_t BytesNeededFor(const proto::ContainerInfo& container);

// What post-copy cannot survive, said in --help, the docs and every post-copy report.
inline constexpr std::string_view kPostCopyLimit =
    "while pages are in flight the container's memory exists whole only in the source's "
    "frozen tasks: losing the source host itself then loses the container (the destination's "
    "copy is killed when its pages stop)";

// 16 random hex digits.
std::string NewMigrationId();

// Commit and rollback are idempotent on the agents, so a call that failed the way a lost
// answer does (kUnavailable: connection refused or reset, agent restarting;
// kDeadlineExceeded) is repeated after 0.25 s and 1 s before the error stands.
template <typename Call>
auto RetryIdempotent(Clock& clock, Call&& call) -> decltype(call()) {
  auto result = call();
  for (int64_t wait_ms : {250, 1000}) {
    if (result.ok() || (result.status().code() != StatusCode::kUnavailable &&
                        result.status().code() != StatusCode::kDeadlineExceeded)) {
      break;
    }
    clock.SleepMs(wait_ms);
    result = call();
  }
  return result;
}

class Migration {
 public:
  // `progress` may be null. The clients and the clock must outlive Run().
  Migration(MigrationRequest request, AgentClient& source, AgentClient& destination, Clock& clock,
            ProgressSink* progress);

  // Runs the whole migration. Never throws; every outcome is in the report.
  proto::Report Run();

 private:
  // Runs one phase; returns the next.
  MigrationPhase Step(MigrationPhase phase);
  MigrationPhase Preflight();
  MigrationPhase Prepare();
  MigrationPhase CheckpointTransfer();
  MigrationPhase Restore();
  MigrationPhase Verify();
  MigrationPhase Commit();
  MigrationPhase Rollback();
  // The destination had committed after all (an answer lost): finish on the source.
  MigrationPhase CommitInstead();
  // Asks the source to remove its copy; a failure is a warning (the destination owns it).
  void CommitSource();
  void SetDumpTimings(const criu::DumpStatsEntry& dump);

  // Records the failure of `phase` and says where to go: kRollback when the destination was
  // touched or the source frozen, else kDone.
  MigrationPhase Fail(MigrationPhase phase, const Status& status);
  // Sets the CRIU options of the request on any agent request that carries them.
  template <typename AgentRequest>
  void SetCriuOptions(AgentRequest& request) const {
    request.set_tcp_established(request_.tcp_established);
    request.set_file_locks(request_.file_locks);
    request.set_ext_unix_sk(request_.ext_unix_sk);
    request.set_strategy(request_.strategy);
    if constexpr (requires { request.mutable_criu_file_options(); }) {  // not on restore
      *request.mutable_criu_file_options() = request_.criu_file_options;
    }
  }
  void AddCriuWarnings(const std::string& host, const std::string& step,
                       const google::protobuf::RepeatedPtrField<std::string>& warnings);
  void AddCheck(const std::string& host, const proto::PreflightCheck& check);
  void ReportPostCopy(const proto::PostCopyStats& pages);
  void AddControllerCheck(const std::string& name, bool ok, const std::string& detail,
                          const std::string& remedy);
  bool AllChecksOk() const;
  void SetPhaseTime(MigrationPhase phase, uint32_t ms);
  uint64_t BytesNeeded() const;

  // Runs `call` while a second thread reports progress every progress_interval_ms: it polls
  // the source agent's transfer counters when `poll_source`, else it only ticks the clock.
  template <typename Call>
  auto WithProgress(bool poll_source, Call&& call);

  MigrationRequest request_;
  AgentClient& source_;
  AgentClient& destination_;
  Clock& clock_;
  ProgressSink* progress_;

  proto::Report report_;
  Status failure_;
  MigrationPhase failed_phase_ = MigrationPhase::kDone;
  bool destination_touched_ = false;  // prepare-receive was called
  // restore was called on the destination: from then on it may run the container, and the
  // source may only restore it once the destination confirmed its rollback.
  bool restore_requested_ = false;
  bool frozen_ = false;               // checkpoint-send was called: the source may be frozen
  bool committed_after_all_ = false;  // the destination had committed when asked to roll back
  int64_t checkpoint_answered_ms_ = 0;  // clock_ when checkpoint-send answered
  proto::PreflightResponse source_preflight_;
  proto::PrepareReceiveResponse receive_;
  proto::CheckpointSendResponse checkpoint_;
  proto::RestoreResponse restore_;
};

}  // namespace migrate::controller
