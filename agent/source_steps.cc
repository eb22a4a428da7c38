#include "agent/source_steps.h"

#include <chrono>

#include "agent/agent_metrics.h"
#include "agent/checkpoint_streams.h"
#include "agent/fence/network_lock.h"
#include "agent/source_pages.h"
#include "agent/orphans.h"
#include "agent/request_checks.h"
#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/cgroup_paths.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/result_proto.h"
#include "transfer/base/log.h"
#include "transfer/base/unix_time.h"

namespace migrate::agent {
namespace {

using runtime::CgroupMode;

Status CheckTarget(const proto::StreamTarget& target) {
  if (target.node_name().empty() || target.address().empty() || target.token().empty() ||
      target.data_port() == 0 || target.data_port() > 65535) {
    return Status::InvalidArgument("stream target needs node_name, address, data_port and token");
  }
  return Status::Ok();
}

proto::TransferStats StatsToProto(const transfer::TransferStats& stats) {
  proto::TransferStats out;
  out.set_files(stats.files);
  out.set_raw_bytes(stats.raw_bytes);
  out.set_wire_bytes(stats.wire_bytes);
  out.set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(stats.duration).count()));
  return out;
}

uint64_t MillisSinceSteady(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - since)
                                   .count());
}

}  // namespace

Result<proto::CheckpointSendResponse> SourceSteps::CheckpointSend(
    const proto::CheckpointSendRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  MIGRATE_RETURN_IF_ERROR(CheckTarget(request.target()));
  MIGRATE_ASSIGN_OR_RETURN(
      MigrationPtr m,
      ctx_.store().Begin(request.migration_id(), request.container_id(), proto::ROLE_SOURCE));
  StepLock lock(m->mutex);
  Result<CgroupMode> mode = PrepareFreeze(*m, request);
  // Journaled before the freeze: a restart finds the images or the running container.
  Status journaled = mode.ok() ? ctx_.store().Advance(*m, Event::kCheckpointBegin) : mode.status();
  if (!journaled.ok()) {  // nothing frozen, nothing journaled: as if never asked
    (void)ctx_.files().RemoveTree(ctx_.MigrationDir(request.migration_id()));
    ctx_.store().Abandon(m);
    return journaled.WithContext("checkpoint");
  }
  return Freeze(*m, request, *mode);
}

// Everything that can refuse, before anything is frozen or journaled.
Result<CgroupMode> SourceSteps::PrepareFreeze(Migration& m,
                                              const proto::CheckpointSendRequest& request) {
  MIGRATE_ASSIGN_OR_RETURN(CgroupMode mode, runtime::CgroupModeFromProto(request.cgroup_mode()));
  MIGRATE_RETURN_IF_ERROR(runtime::CheckCriuOptions(CriuOptionsOf(request)));
  const std::string& id = request.container_id();
  auto plan = ctx_.runtime().PlanCheckpoint(id, mode);
  if (!plan.ok()) return plan.status();
  if (!plan->allowed()) return Status::FailedPrecondition("refused: " + plan->reason);
  MIGRATE_ASSIGN_OR_RETURN(runtime::ContainerState state, ctx_.runtime().State(id));
  if (state.status != "running") {
    return Status::FailedPrecondition("container " + id + " is " + state.status);
  }
  if (m.cancel.cancelled()) return Status::Aborted("migration " + m.record.migration_id() +
                                                   " was cancelled");
  proto::MigrationRecord& r = m.record;
  r.set_peer_node(request.target().node_name());
  r.set_source_bundle(state.bundle);
  r.set_cgroup_mode(request.cgroup_mode());
  r.set_strategy(request.strategy());
  if (IsPostCopy(r)) MIGRATE_RETURN_IF_ERROR(CheckPostCopy(request));
  r.set_images_dir(ctx_.MigrationDir(r.migration_id()) + "/images");
  MIGRATE_RETURN_IF_ERROR(ctx_.files().RemoveTree(r.images_dir()));
  MIGRATE_RETURN_IF_ERROR(ctx_.files().MakeDirs(r.images_dir()));
  return mode;
}

Result<proto::CheckpointSendResponse> SourceSteps::Freeze(
    Migration& m, const proto::CheckpointSendRequest& request, CgroupMode mode) {
  proto::MigrationRecord& r = m.record;
  const std::string after_dump = BundleAfterDumpReason(request);
  if (!after_dump.empty()) {
    MIGRATE_LOG(kInfo, r.migration_id()) << "the bundle is sent after the dump: " << after_dump;
  }
  CheckpointStreams streams(ctx_, m, request, !after_dump.empty());
  if (Status started = streams.Start(); !started.ok()) {
    (void)ctx_.store().Advance(m, Event::kCheckpointFailed, started.message());
    return started;
  }
  runtime::CheckpointOptions checkpoint;
  checkpoint.container_id = r.container_id();
  checkpoint.image_dir = r.images_dir();
  checkpoint.work_dir = ctx_.MigrationDir(r.migration_id()) + "/dump-work";
  checkpoint.cgroup_mode = mode;
  checkpoint.criu = CriuOptionsOf(request);
  std::shared_ptr<SourcePages> pages;
  std::unique_ptr<EarlyFreeze> early = IsPostCopy(r) ? nullptr  // SourcePages has its own
                                                      : EarlyFreezeOf(r, checkpoint);
  auto dumped = IsPostCopy(r) ? DumpAllButPages(m, request, checkpoint, &pages)
                              : ctx_.runtime().Checkpoint(checkpoint);
  if (early) early->Stop();  // a failed dump may leave it frozen: AfterFailedDump thaws it
  const auto dump_end = std::chrono::steady_clock::now();
  ctx_.Hit("source.dump_returned", m);
  streams.DumpEnded(dumped.status());
  if (!dumped.ok()) {
    Status failed = dumped.status().WithContext("checkpoint on " + ctx_.node() + " (" +
                                                AfterFailedDump(r) + ")");
    (void)ctx_.store().Advance(m, Event::kCheckpointFailed, failed.message());
    return failed;
  }
  // The images are complete: this copy is what a rollback restores from. Until both streams
  // verified, the destination cannot restore, so the phase stays CHECKPOINTING (a restart
  // restores the container here).
  if (Status sent = streams.Outcome(); !sent.ok()) {
    if (pages) {
      Status resumed = pages->Resume("a stream failed: " + sent.message());
      sent = sent.WithContext(resumed.ok() ? "the source resumed" : resumed.message());
      ctx_.post_copy().Drop(r.migration_id());
    }
    (void)ctx_.store().Advance(m, Event::kCheckpointFailed, sent.message());
    return sent;
  }
  ctx_.Hit("source.sent", m);
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kCheckpointDone));
  proto::CheckpointSendResponse response = runtime::CheckpointResultToProto(*dumped);
  if (streams.sends_bundle()) *response.mutable_bundle_stats() = StatsToProto(streams.bundle());
  *response.mutable_stats() = StatsToProto(streams.images());
  response.set_transfer_tail_ms(MillisSinceSteady(dump_end));
  response.set_frozen_for_ms(MillisSince(dumped->started));
  response.set_strategy(IsPostCopy(r) ? proto::STRATEGY_POST_COPY : proto::STRATEGY_STOP_AND_COPY);
  ctx_.metrics().Downtime(proto::ROLE_SOURCE,
                          std::chrono::milliseconds(response.frozen_for_ms()));
  return response;
}

// The early freeze (agent/early_freeze.h) of a stop-and-copy dump; none when the container's
// freezer cannot be found.
std::unique_ptr<EarlyFreeze> SourceSteps::EarlyFreezeOf(
    const proto::MigrationRecord& r, const runtime::CheckpointOptions& checkpoint) {
  auto state = ctx_.runtime().State(r.container_id());
  auto freezer = state.ok() ? runtime::FreezerDirOf(state->init_pid)
                            : Result<std::string>(state.status());
  if (!freezer.ok()) {
    MIGRATE_LOG(kDebug, r.migration_id()) << "no early freeze: " << freezer.status().ToString();
    return nullptr;
  }
  return StartEarlyFreeze(ctx_.runtime(), checkpoint, *freezer);
}

// Post-copy: the dump up to CRIU's page server (SourcePages), the transfer kept in the
// agent's post-copy sessions until the commit or rollback.
Result<runtime::CheckpointResult> SourceSteps::DumpAllButPages(
    Migration& m, const proto::CheckpointSendRequest& request,
    const runtime::CheckpointOptions& checkpoint, std::shared_ptr<SourcePages>* pages) {
  MIGRATE_ASSIGN_OR_RETURN(*pages, SourcePages::Start(ctx_, m, request, checkpoint));
  Result<runtime::CheckpointResult> dumped = (*pages)->WaitReady();
  if (dumped.ok()) ctx_.post_copy().PutSource(m.record.migration_id(), *pages);
  return dumped;
}

// What post-copy cannot carry, refused before the freeze.
Status SourceSteps::CheckPostCopy(const proto::CheckpointSendRequest& request) {
  if (request.tcp_established()) {
    return Status::FailedPrecondition(
        "post-copy with --tcp-established: a rollback would resume the source's connections "
        "at the sequence numbers of the freeze after the destination's copy used them");
  }
  auto pids = ctx_.runtime().Pids(request.container_id());
  if (pids.ok() && !runtime::WriteLeasesHeld(*pids).empty()) {
    return Status::FailedPrecondition(
        "post-copy with write leases held: the bundle is read while their holder is frozen "
        "and alive, which breaks the leases");
  }
  return Status::Ok();
}

// Why the bundle must wait for the dump's end ("" when it goes at the freeze): with
// link-remap, CRIU adds hard links (link_remap.N) to the root file system while it dumps the
// files; and reading a file with a write lease while its holder is frozen breaks the lease
// and queues the lease-break signal, which CRIU would dump with it (the restored holder dies
// of SIGIO). After the dump, runc has ended the container: no holder is left to signal.
std::string SourceSteps::BundleAfterDumpReason(const proto::CheckpointSendRequest& request) {
  if (request.criu_file_options().link_remap()) {
    return "CRIU adds link remaps to the files (link-remap)";
  }
  auto pids = ctx_.runtime().Pids(request.container_id());
  if (!pids.ok()) return {};
  const std::vector<std::string> leases = runtime::WriteLeasesHeld(*pids);
  if (leases.empty()) return {};
  return "reading them would break " + std::to_string(leases.size()) + " write lease(s): " +
         leases.front();
}

// A dump that failed (or ran past its deadline and was killed) may leave the container
// frozen: its tasks are whole, so it is thawed at once, never left waiting for a rollback.
std::string SourceSteps::AfterFailedDump(const proto::MigrationRecord& r) {
  Status killed = KillOrphans(r.images_dir(), r.migration_id());
  if (!killed.ok()) return "the failed dump still runs: " + killed.message();
  auto after = ctx_.runtime().State(r.container_id());
  if (after.ok() && after->status == "paused" && runtime::SameBundle(after->bundle, r.source_bundle())) {
    Status thawed = ctx_.runtime().Resume(r.container_id());
    after = ctx_.runtime().State(r.container_id());
    if (!thawed.ok()) return "the container is frozen, and thawing it failed: " + thawed.message();
  }
  if (after.ok() && after->status == "running") return "the container still runs here";
  return "the container is NOT running here: " +
         (after.ok() ? after->status : after.status().message());
}

Status SourceSteps::Commit(Migration& m) {
  proto::MigrationRecord& r = m.record;
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kCommitBegin));
  if (IsPostCopy(r)) MIGRATE_RETURN_IF_ERROR(EndPostCopy(m, /*commit=*/true));
  // runc destroyed the container at the end of its dump; one left from this bundle (paused,
  // stopped) goes too: the destination runs it now. One from another bundle is not ours.
  auto state = ctx_.runtime().State(r.container_id());
  if (state.ok() && runtime::SameBundle(state->bundle, r.source_bundle())) {
    MIGRATE_RETURN_IF_ERROR(ctx_.runtime().KillAndDelete(r.container_id(), r.source_bundle()));
  }
  ctx_.Hit("source.commit_half", m);
  if (!r.keep_images()) MIGRATE_RETURN_IF_ERROR(ctx_.files().RemoveTree(r.images_dir()));
  RemoveOwnBundle(r);
  return ctx_.store().Advance(m, Event::kCommitDone,
                              r.keep_images() ? "images kept at " + r.images_dir() : "");
}

// A bundle this agent received in an earlier migration (<state>/containers/<id>/<migration>)
// is its own to remove once the container has left; any other bundle is the operator's.
void SourceSteps::RemoveOwnBundle(const proto::MigrationRecord& r) {
  const std::string home = ctx_.ContainerHome(r.container_id());
  const std::string& bundle = r.source_bundle();
  if (bundle.size() <= home.size() + 1 || bundle.compare(0, home.size() + 1, home + "/") != 0) {
    return;
  }
  Status removed = ctx_.files().RemoveTree(bundle);
  if (!removed.ok()) {
    MIGRATE_LOG(kWarn, r.migration_id()) << "remove " << bundle << ": " << removed.message();
  }
  auto left = ctx_.files().List(home);
  if (left.ok() && left->empty()) (void)ctx_.files().RemoveTree(home);
}

// Post-copy's end on the source: the session's fence releases (commit: CRIU ends the tasks) or
// resumes (rollback) the source. A fence an earlier run of this agent left is ended: the
// controller commits or rolls back the source only on the destination's word, and the
// freezer keeps the tasks whole without it.
Status SourceSteps::EndPostCopy(Migration& m, bool commit) {
  const proto::MigrationRecord& r = m.record;
  if (auto pages = ctx_.post_copy().Source(r.migration_id())) {
    Status ended = commit ? pages->Release() : pages->Resume("rolled back");
    if (ended.ok()) ctx_.post_copy().Drop(r.migration_id());
    return ended;
  }
  MIGRATE_RETURN_IF_ERROR(KillOrphans(FenceStatePath(ctx_, r.migration_id()), r.migration_id()));
  return KillOrphans(r.images_dir(), r.migration_id());
}

Status SourceSteps::Rollback(Migration& m) {
  proto::MigrationRecord& r = m.record;
  if (IsPostCopy(r) && r.phase() != proto::PHASE_CHECKPOINTING) {
    MIGRATE_RETURN_IF_ERROR(EndPostCopy(m, /*commit=*/false));
  } else if (IsPostCopy(r)) {  // a fence an earlier run left resumes the source on its own
    MIGRATE_RETURN_IF_ERROR(WaitForOrphans(FenceStatePath(ctx_, r.migration_id()),
                                           ctx_.deps().orphan_wait, r.migration_id()));
  }
  MIGRATE_RETURN_IF_ERROR(WaitForOrphans(r.images_dir(), ctx_.deps().orphan_wait,
                                         r.migration_id()));
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kRollbackBegin));
  Result<std::string> outcome = RunHereAgain(m);
  if (!outcome.ok()) {
    Status failed = outcome.status().WithContext("run the container on the source again");
    (void)ctx_.store().Advance(m, Event::kRollbackFailed, failed.message() + "; images kept");
    return failed;
  }
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kRollbackDone, *outcome));
  if (!r.keep_images()) {
    Status removed = ctx_.files().RemoveTree(r.images_dir());
    if (!removed.ok()) {
      MIGRATE_LOG(kWarn, r.migration_id()) << removed.message();
    }
  }
  return Status::Ok();
}

// The container runs here again: it still ran, or it is thawed (a dump that died left it
// frozen: its tasks are whole, the images may not be; never kill it), or it is restored from
// the kept images with its original bundle in soft mode (the images carry its own cgroups).
Result<std::string> SourceSteps::RunHereAgain(Migration& m) {
  const proto::MigrationRecord& r = m.record;
  const std::string& id = r.container_id();
  auto state = ctx_.runtime().State(id);
  if (state.ok() && !runtime::SameBundle(state->bundle, r.source_bundle())) {
    return Status::FailedPrecondition("a container " + id + " from another bundle (" +
                                      state->bundle + ") exists here: not this migration's");
  }
  if (state.ok() && state->status == "running") {
    return std::string("the container still runs on the source");
  }
  if (state.ok() && state->status == "paused") {
    if (IsPostCopy(r)) {  // a failed lazy transfer leaves CRIU's network lock in place
      MIGRATE_RETURN_IF_ERROR(fence::RemoveCriuNetworkLock(
          "/proc/" + std::to_string(state->init_pid) + "/ns/net"));
    }
    MIGRATE_RETURN_IF_ERROR(ctx_.runtime().Resume(id).WithContext("thaw the container"));
    auto after = ctx_.runtime().State(id);
    if (!after.ok() || after->status != "running") {
      return Status::FailedPrecondition("container " + id + " is still " +
                                        (after.ok() ? after->status : after.status().ToString()) +
                                        " after resume");
    }
    return std::string("resumed the container an interrupted dump had left frozen");
  }
  if (IsPostCopy(r)) {
    return Status::DataLoss("post-copy: the container's memory was only in its tasks on the source, "
                            "and they are gone (" +
                            (state.ok() ? state->status : state.status().message()) +
                            "); its images hold no pages to restore from");
  }
  if (state.ok()) {  // stopped or created from this bundle: make room for the restore
    MIGRATE_RETURN_IF_ERROR(ctx_.runtime().KillAndDelete(id, r.source_bundle()));
  } else if (state.status().code() != StatusCode::kNotFound) {
    return state.status();
  }
  runtime::RestoreOptions options;
  options.container_id = id;
  options.image_dir = r.images_dir();
  options.work_dir = ctx_.MigrationDir(r.migration_id()) + "/rollback-work";
  options.bundle_dir = r.source_bundle();
  options.cgroup_mode = CgroupMode::kSoft;
  auto restored = ctx_.runtime().Restore(options);
  if (!restored.ok()) return restored.status().WithContext("restore from " + r.images_dir());
  return "restored on the source from its images, init pid " +
         std::to_string(restored->init_pid);
}

}  // namespace migrate::agent
