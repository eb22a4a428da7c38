#include "controller/migration.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <array>
#include <random>
#include <thread>
#include <utility>

#include "proto/cgroup_mode_names.h"
#include "controller/rollback.h"
#include "controller/version_compare.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/base/hex.h"
#include "transfer/base/log.h"

namespace migrate::controller {
namespace {

constexpr char kControllerHost[] = "controller";

uint32_t ClampMs(int64_t ms) {
  if (ms < 0) return 0;
  if (ms > static_cast<int64_t>(UINT32_MAX)) return UINT32_MAX;
  return static_cast<uint32_t>(ms);
}

std::string ModeText(proto::CgroupMode mode) {
  std::string name = CgroupModeName(mode);
  return name.empty() ? "unspecified" : name;
}

}  // namespace

std::string_view MigrationPhaseName(MigrationPhase phase) {
  switch (phase) {
    case MigrationPhase::kPreflight: return "preflight";
    case MigrationPhase::kPrepare: return "prepare";
    case MigrationPhase::kCheckpointTransfer: return "checkpoint+transfer";
    case MigrationPhase::kRestore: return "restore";
    case MigrationPhase::kVerify: return "verify";
    case MigrationPhase::kCommit: return "commit";
    case MigrationPhase::kRollback: return "rollback";
    case MigrationPhase::kDone: return "done";
  }
  return "unknown";
}

std::string_view StrategyName(proto::Strategy strategy) {
  return strategy == proto::STRATEGY_POST_COPY ? "post-copy" : "stop-and-copy";
}

std::string NewMigrationId() {
  std::random_device random;
  std::array<unsigned char, 8> bytes;
  for (unsigned char& byte : bytes) byte = static_cast<unsigned char>(random());
  return HexLower(bytes);
}

Migration::Migration(MigrationRequest request, AgentClient& source, AgentClient& destination,
                     Clock& clock, ProgressSink* progress)
    : request_(std::move(request)),
      source_(source),
      destination_(destination),
      clock_(clock),
      progress_(progress) {
  if (request_.migration_id.empty()) request_.migration_id = NewMigrationId();
}

template <typename Call>
auto Migration::WithProgress(bool poll_source, Call&& call) {
  if (progress_ == nullptr || request_.progress_interval_ms <= 0) return call();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread reporter([&] {
    std::unique_lock<std::mutex> lock(mu);
    const auto interval = std::chrono::milliseconds(request_.progress_interval_ms);
    while (!cv.wait_for(lock, interval, [&] { return done; })) {
      lock.unlock();
      if (poll_source) {
        Result<proto::MigrationStatus> status = source_.GetMigration(request_.migration_id);
        if (status.ok()) progress_->OnBytes(status->bytes_raw(), status->bytes_wire());
      } else {
        progress_->OnTick();
      }
      lock.lock();
    }
  });
  auto result = call();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  reporter.join();
  return result;
}

proto::Report Migration::Run() {
  const int64_t start = clock_.NowMs();
  report_.set_status("failed");
  report_.set_container(request_.container_id);
  report_.set_source(request_.source.name());
  report_.set_destination(request_.destination.name());
  report_.set_migration_id(request_.migration_id);
  report_.set_cgroup_path(request_.cgroup_path);
  report_.set_strategy(std::string(StrategyName(request_.strategy)));
  if (request_.strategy == proto::STRATEGY_POST_COPY) {
    report_.mutable_post_copy()->set_limit(std::string(kPostCopyLimit));
  }
  report_.mutable_cgroups_mode()->set_requested(CgroupModeName(request_.cgroup_mode));
  report_.mutable_timings_ms();
  report_.mutable_bytes();
  report_.mutable_rollback();

  MigrationPhase phase = MigrationPhase::kPreflight;
  while (phase != MigrationPhase::kDone) {
    if (progress_ != nullptr) progress_->OnPhase(MigrationPhaseName(phase));
    MIGRATE_LOG(kDebug, request_.migration_id) << "phase " << MigrationPhaseName(phase);
    const int64_t phase_start = clock_.NowMs();
    const bool transfers =
        phase == MigrationPhase::kCheckpointTransfer;
    MigrationPhase next = MigrationPhase::kDone;
    if (phase != MigrationPhase::kRollback && request_.interrupted != nullptr &&
        request_.interrupted->load()) {
      next = Fail(phase, Status::Aborted("interrupted by the operator before " +
                                         std::string(MigrationPhaseName(phase))));
    } else {
      next = WithProgress(transfers, [&] { return Step(phase); });
    }
    SetPhaseTime(phase, ClampMs(clock_.NowMs() - phase_start));
    phase = next;
  }
  report_.mutable_timings_ms()->set_total(ClampMs(clock_.NowMs() - start));
  report_.set_frozen(frozen_);

  if (failure_.ok() || committed_after_all_) {
    report_.set_status(request_.dry_run ? "preflight_ok" : "migrated");
  } else if (frozen_ && report_.rollback().source() == "ok") {
    report_.set_status("rolled_back");
  } else {
    report_.set_status("failed");
  }
  if (progress_ != nullptr) progress_->Finish();
  MIGRATE_LOG(kDebug, request_.migration_id) << "status " << report_.status();
  return report_;
}

MigrationPhase Migration::Step(MigrationPhase phase) {
  switch (phase) {
    case MigrationPhase::kPreflight: return Preflight();
    case MigrationPhase::kPrepare: return Prepare();
    case MigrationPhase::kCheckpointTransfer: return CheckpointTransfer();
    case MigrationPhase::kRestore: return Restore();
    case MigrationPhase::kVerify: return Verify();
    case MigrationPhase::kCommit: return Commit();
    case MigrationPhase::kRollback: return Rollback();
    case MigrationPhase::kDone: break;
  }
  return MigrationPhase::kDone;
}

void Migration::SetPhaseTime(MigrationPhase phase, uint32_t ms) {
  proto::ReportTimings& t = *report_.mutable_timings_ms();
  switch (phase) {
    case MigrationPhase::kPreflight: t.set_preflight(ms); break;
    case MigrationPhase::kPrepare: t.set_prepare(ms); break;
    case MigrationPhase::kCheckpointTransfer: t.set_checkpoint_transfer(ms); break;
    case MigrationPhase::kRestore: t.set_restore(ms); break;
    case MigrationPhase::kVerify: t.set_verify(ms); break;
    case MigrationPhase::kCommit: t.set_commit(ms); break;
    case MigrationPhase::kRollback: t.set_rollback(ms); break;
    case MigrationPhase::kDone: break;
  }
}

MigrationPhase Migration::Fail(MigrationPhase phase, const Status& status) {
  if (failure_.ok()) {
    failure_ = status;
    failed_phase_ = phase;
    report_.set_error(status.ToString());
    report_.set_failed_phase(std::string(MigrationPhaseName(phase)));
    MIGRATE_LOG(kDebug, request_.migration_id)
        << MigrationPhaseName(phase) << " failed: " << status.ToString();
  }
  return (frozen_ || destination_touched_) ? MigrationPhase::kRollback : MigrationPhase::kDone;
}

// What CRIU warned about reaches the report: e.g. queued inotify events it dropped.
void Migration::AddCriuWarnings(const std::string& host, const std::string& step,
                                const google::protobuf::RepeatedPtrField<std::string>& warnings) {
  for (const std::string& warning : warnings) {
    report_.add_warnings("CRIU on " + host + " (" + step + "): " + warning);
  }
}

void Migration::AddCheck(const std::string& host, const proto::PreflightCheck& check) {
  proto::ReportCheck& c = *report_.add_checks();
  c.set_host(host);
  c.set_name(check.name());
  c.set_ok(check.ok());
  c.set_detail(check.detail());
  c.set_remedy(check.remedy());
}

void Migration::AddControllerCheck(const std::string& name, bool ok, const std::string& detail,
                                   const std::string& remedy) {
  proto::PreflightCheck check;
  check.set_name(name);
  check.set_ok(ok);
  check.set_detail(detail);
  check.set_remedy(ok ? "" : remedy);
  AddCheck(kControllerHost, check);
}

bool Migration::AllChecksOk() const {
  for (const proto::ReportCheck& c : report_.checks()) {
    if (!c.ok()) return false;
  }
  return true;
}

MigrationPhase Migration::Preflight() {
  const std::string& src = request_.source.name();
  const std::string& dst = request_.destination.name();
  auto refuse = [&] {
    std::string why;
    int failed = 0;
    for (const proto::ReportCheck& c : report_.checks()) {
      if (c.ok()) continue;
      ++failed;
      if (!why.empty()) why += "; ";
      why += c.host() + ": " + c.name() + ": " + c.detail();
    }
    return Fail(
        MigrationPhase::kPreflight,
        Status::FailedPrecondition("preflight refused (" + std::to_string(failed) +
                                   " failed check" + (failed == 1 ? "" : "s") + "): " + why));
  };

  AddControllerCheck("distinct-hosts", src != dst,
                     src != dst ? "source " + src + ", destination " + dst
                                : "source and destination are both " + src,
                     "name two different hosts");
  if (!AllChecksOk()) return refuse();

  // 1. Both agents reachable, authenticated, and who the inventory says they are.
  for (AgentClient* agent : {&source_, &destination_}) {
    const std::string& name = agent->node_name();
    Result<proto::Health> health = agent->GetHealth();
    proto::PreflightCheck check;
    check.set_name("agent-reachable");
    check.set_ok(health.ok());
    if (health.ok()) {
      check.set_detail("agent " + health->agent_version() + " answered as " + health->node_name());
      if (health->node_name() != name) {
        check.set_ok(false);
        check.set_remedy("the agent's configured node name differs from the inventory's \"" + name +
                         "\": fix the agent's configuration or the inventory");
      }
    } else {
      check.set_detail(health.status().ToString());
      check.set_remedy("check that migrate-agent runs on " + name +
                       ", that the inventory's address and port are right, and that its "
                       "certificate is issued by the cluster CA for the name \"" +
                       name + "\"");
    }
    AddCheck(name, check);
  }
  if (!AllChecksOk()) return refuse();

  // 2. The source: container, CRIU, cgroup mode on dump, cpuinfo.
  proto::PreflightRequest source_request;
  source_request.set_migration_id(request_.migration_id);
  source_request.set_role(proto::ROLE_SOURCE);
  source_request.set_container_id(request_.container_id);
  source_request.set_cgroup_mode(request_.cgroup_mode);
  SetCriuOptions(source_request);
  Result<proto::PreflightResponse> source_answer = source_.Preflight(source_request);
  if (!source_answer.ok()) {
    proto::PreflightCheck check;
    check.set_name("preflight");
    check.set_detail(source_answer.status().ToString());
    check.set_remedy("see the agent's log on " + src);
    AddCheck(src, check);
    return refuse();
  }
  source_preflight_ = *source_answer;
  for (const proto::PreflightCheck& check : source_preflight_.checks()) AddCheck(src, check);
  if (source_preflight_.checks_size() == 0) {
    AddControllerCheck("source-checks", false, "the source agent returned no preflight checks",
                       "upgrade the agent on " + src);
  }

  // 3. The destination, told what the source found.
  proto::PreflightRequest destination_request;
  destination_request.set_migration_id(request_.migration_id);
  destination_request.set_role(proto::ROLE_DESTINATION);
  destination_request.set_container_id(request_.container_id);
  destination_request.set_cgroup_mode(request_.cgroup_mode);
  destination_request.set_cgroup_path(request_.cgroup_path);
  SetCriuOptions(destination_request);
  destination_request.set_bytes_needed(BytesNeeded());
  destination_request.set_source_cpuinfo(source_preflight_.cpuinfo());
  destination_request.set_source_criu_version(source_preflight_.capabilities().criu_version());
  destination_request.set_cgroup_namespace(source_preflight_.container().cgroup_namespace());
  destination_request.set_source_config_json(source_preflight_.container().config_json());
  destination_request.set_source_device_node_count(source_preflight_.container().device_node_count());
  *destination_request.mutable_source_device_nodes() = source_preflight_.container().device_nodes();
  Result<proto::PreflightResponse> destination_answer = destination_.Preflight(destination_request);
  if (!destination_answer.ok()) {
    proto::PreflightCheck check;
    check.set_name("preflight");
    check.set_detail(destination_answer.status().ToString());
    check.set_remedy("see the agent's log on " + dst);
    AddCheck(dst, check);
    return refuse();
  }
  const bool agents_ok_before = AllChecksOk();
  for (const proto::PreflightCheck& check : destination_answer->checks()) AddCheck(dst, check);
  if (destination_answer->checks_size() == 0) {
    AddControllerCheck("destination-checks", false,
                       "the destination agent returned no preflight checks",
                       "upgrade the agent on " + dst);
  }

  // 4. What the controller checks across the two hosts.
  const std::string& src_criu = source_preflight_.capabilities().criu_version();
  const std::string& dst_criu = destination_answer->capabilities().criu_version();
  Result<int> order = CompareVersions(dst_criu, src_criu);
  if (!order.ok()) {
    AddControllerCheck("criu-versions", false,
                       "cannot compare CRIU versions: source \"" + src_criu + "\", destination \"" +
                           dst_criu + "\"",
                       "check that CRIU is installed and works on both hosts (criu check)");
  } else {
    AddControllerCheck("criu-versions", *order >= 0,
                       "source CRIU " + src_criu + ", destination CRIU " + dst_criu,
                       "upgrade CRIU on " + dst + " to " + src_criu +
                           " or newer: images from a newer CRIU may not restore with an older one");
  }
  // Safety nets behind the agents' own checks: when the agents passed everything, the
  // controller still refuses what their answers show to be impossible.
  if (agents_ok_before && AllChecksOk()) {
    const proto::ContainerInfo& container = source_preflight_.container();
    AddControllerCheck("container-running-on-source",
                       container.exists() && container.status() == "running",
                       "container " + request_.container_id + " on " + src + ": " +
                           (container.exists() ? container.status() : "absent"),
                       "start the container on " + src + " or name the host where it runs");
    for (const proto::CgroupModeSupport& support :
         destination_answer->capabilities().cgroup_modes()) {
      if (support.mode() != request_.cgroup_mode || support.restore()) continue;
      AddControllerCheck("cgroup-mode-restore", false,
                         dst + " cannot restore in cgroup mode " + ModeText(request_.cgroup_mode) +
                             ": " + support.reason(),
                         "choose another --cgroups-mode");
    }
  }
  if (!AllChecksOk()) return refuse();
  return request_.dry_run ? MigrationPhase::kDone : MigrationPhase::kPrepare;
}

// What the destination must hold: the root file system and the memory twice. CRIU dumps the
// pages a process shares with a child (copy-on-write) once for each, and a dump that catches
// a short-lived child (a shell forks for every command) carries that memory again. With the
// memory once, such a dump passed the destination's agreed bytes and the migration rolled back.
uint64_t BytesNeededFor(const proto::ContainerInfo& container) {
  return container.rootfs_bytes() + 2 * container.memory_bytes();
}

uint64_t Migration::BytesNeeded() const { return BytesNeededFor(source_preflight_.container()); }

MigrationPhase Migration::Prepare() {
  proto::PrepareReceiveRequest prepare;
  prepare.set_migration_id(request_.migration_id);
  prepare.set_container_id(request_.container_id);
  prepare.set_source_node(request_.source.name());
  prepare.set_bytes_needed(BytesNeeded());
  prepare.set_strategy(request_.strategy);
  const std::string& approved = source_preflight_.container().config_json();
  if (!approved.empty()) {  // the bytes the destination's preflight judged
    const transfer::Digest digest = transfer::Sha256::Of(approved.data(), approved.size());
    prepare.set_approved_config_sha256(std::string(digest.begin(), digest.end()));
  }
  destination_touched_ = true;  // even a failed call may have left state there
  Result<proto::PrepareReceiveResponse> receive = destination_.PrepareReceive(prepare);
  if (!receive.ok()) {
    return Fail(MigrationPhase::kPrepare,
                receive.status().WithContext("prepare-receive on " + request_.destination.name()));
  }
  receive_ = *receive;
  return MigrationPhase::kCheckpointTransfer;
}

MigrationPhase Migration::CheckpointTransfer() {
  proto::CheckpointSendRequest send;
  send.set_migration_id(request_.migration_id);
  send.set_container_id(request_.container_id);
  proto::StreamTarget& target = *send.mutable_target();
  target.set_node_name(request_.destination.name());
  target.set_address(request_.destination.data_address());
  target.set_data_port(receive_.data_port());
  target.set_token(receive_.images_token());
  // The bundle travels during the freeze too, so that the destination's root file system is
  // the one the frozen processes saw.
  send.set_bundle_token(receive_.bundle_token());
  send.set_pages_token(receive_.pages_token());
  send.set_cgroup_mode(request_.cgroup_mode);
  SetCriuOptions(send);
  send.set_compress_level(request_.compress_level);
  send.set_bandwidth_bytes_per_second(request_.bandwidth_bytes_per_second);
  // From here on the source may be frozen: whatever happens, it gets a rollback call.
  frozen_ = true;
  Result<proto::CheckpointSendResponse> done = source_.CheckpointSend(send);
  if (!done.ok()) {
    return Fail(MigrationPhase::kCheckpointTransfer,
                done.status().WithContext("checkpoint on " + request_.source.name() +
                                          " and send to " + request_.destination.name()));
  }
  checkpoint_answered_ms_ = clock_.NowMs();
  checkpoint_ = *done;
  AddCriuWarnings(request_.source.name(), "dump", checkpoint_.criu_warnings());
  *report_.mutable_criu_options() = checkpoint_.criu_options();
  proto::ReportCgroupsMode& modes = *report_.mutable_cgroups_mode();
  modes.set_dump_effective(CgroupModeName(checkpoint_.dump_mode().effective()));
  modes.set_dump_evidence(checkpoint_.dump_mode().evidence());
  modes.set_dump_mechanism(checkpoint_.dump_mode().mechanism());
  modes.set_dump_note(checkpoint_.dump_mode().note());
  proto::ReportBytes& bytes = *report_.mutable_bytes();
  bytes.set_images_raw(static_cast<double>(checkpoint_.stats().raw_bytes()));
  bytes.set_images_wire(static_cast<double>(checkpoint_.stats().wire_bytes()));
  bytes.set_bundle_raw(static_cast<double>(checkpoint_.bundle_stats().raw_bytes()));
  bytes.set_bundle_wire(static_cast<double>(checkpoint_.bundle_stats().wire_bytes()));
  bytes.set_raw(bytes.bundle_raw() + bytes.images_raw());
  bytes.set_wire(bytes.bundle_wire() + bytes.images_wire());
  report_.mutable_timings_ms()->set_checkpoint(
      ClampMs(static_cast<int64_t>(std::min<uint64_t>(checkpoint_.checkpoint_ms(), UINT32_MAX))));
  report_.mutable_timings_ms()->set_transfer_tail(ClampMs(
      static_cast<int64_t>(std::min<uint64_t>(checkpoint_.transfer_tail_ms(), UINT32_MAX))));
  SetDumpTimings(checkpoint_.criu_stats());
  return MigrationPhase::kRestore;
}

// CRIU's account of the dump: from the checkpoint's answer, or (post-copy, whose dump ends
// with the last page) from the source's commit.
void Migration::SetDumpTimings(const criu::DumpStatsEntry& dump) {
  proto::ReportTimings& t = *report_.mutable_timings_ms();
  t.set_criu_freezing(dump.freezing_time() / 1000);  // CRIU counts microseconds
  t.set_criu_frozen(dump.frozen_time() / 1000);
  t.set_criu_memdump(dump.memdump_time() / 1000);
  t.set_criu_memwrite(dump.memwrite_time() / 1000);
}

MigrationPhase Migration::Restore() {
  proto::RestoreRequest restore;
  restore.set_migration_id(request_.migration_id);
  restore.set_container_id(request_.container_id);
  restore.set_cgroup_mode(request_.cgroup_mode);
  restore.set_cgroup_path(request_.cgroup_path);
  SetCriuOptions(restore);
  restore_requested_ = true;
  Result<proto::RestoreResponse> restored = destination_.Restore(restore);
  if (!restored.ok()) {
    return Fail(MigrationPhase::kRestore,
                restored.status().WithContext("restore on " + request_.destination.name()));
  }
  const int64_t between_answers = clock_.NowMs() - checkpoint_answered_ms_;
  restore_ = *restored;
  AddCriuWarnings(request_.destination.name(), "restore", restore_.criu_warnings());
  report_.mutable_timings_ms()->set_criu_restore(restore_.criu_stats().restore_time() / 1000);
  report_.mutable_timings_ms()->set_criu_forking(restore_.criu_stats().forking_time() / 1000);
  proto::ReportCgroupsMode& modes = *report_.mutable_cgroups_mode();
  modes.set_restore_effective(CgroupModeName(restore_.restore_mode().effective()));
  modes.set_restore_evidence(restore_.restore_mode().evidence());
  modes.set_restore_mechanism(restore_.restore_mode().mechanism());
  report_.set_destination_pid(restore_.init_pid());
  report_.set_loopback_up(restore_.loopback_up());
  for (const std::string& line : restore_.cgroups()) report_.add_destination_cgroups(line);
  if (restore_.has_post_copy()) ReportPostCopy(restore_.post_copy());
  const uint64_t frozen_at = checkpoint_.freeze_unix_ms();
  const uint64_t running_at = restore_.running_unix_ms();
  if (checkpoint_.frozen_for_ms() != 0) {
    // Durations, each on one clock: frozen on the source until its answer, the controller's
    // time between the two answers, minus how long the destination ran it before answering.
    const int64_t downtime = static_cast<int64_t>(checkpoint_.frozen_for_ms()) +
                             between_answers -
                             static_cast<int64_t>(restore_.running_for_ms());
    report_.mutable_timings_ms()->set_downtime(ClampMs(downtime));
  } else if (frozen_at != 0 && running_at >= frozen_at) {
    // An agent that reports no durations: wall clocks of two hosts.
    report_.mutable_timings_ms()->set_downtime(
        static_cast<uint32_t>(std::min<uint64_t>(running_at - frozen_at, UINT32_MAX)));
    report_.add_warnings("downtime from the two hosts' wall clocks (the source agent reports "
                         "no frozen_for_ms): clock skew between them enters it");
  } else {
    report_.add_warnings("downtime unknown: the agents reported freeze at " +
                         std::to_string(frozen_at) + " ms and running at " +
                         std::to_string(running_at) + " ms (unix time)");
  }
  return MigrationPhase::kVerify;
}

void Migration::ReportPostCopy(const proto::PostCopyStats& pages) {
  proto::ReportPostCopy& r = *report_.mutable_post_copy();
  r.set_pages_total(static_cast<double>(pages.pages_total()));
  r.set_pages_copied(static_cast<double>(pages.pages_copied()));
  r.set_pages_faulted(static_cast<double>(pages.pages_faulted()));
  r.set_pages_pushed(static_cast<double>(pages.pages_pushed()));
  r.set_link_raw(static_cast<double>(pages.link_raw_bytes()));
  r.set_link_wire(static_cast<double>(pages.link_wire_bytes()));
  report_.mutable_timings_ms()->set_post_copy_window(
      static_cast<uint32_t>(std::min<uint64_t>(pages.window_ms(), UINT32_MAX)));
  if (pages.pages_total() == 0) {
    report_.add_warnings("CRIU left no page to post-copy: it dumped every page into the "
                         "images, which moved before the restore (a stop-and-copy downtime)");
  }
}

MigrationPhase Migration::Verify() {
  const proto::ModeEvidence& mode = restore_.restore_mode();
  if (mode.effective() != request_.cgroup_mode) {
    return Fail(MigrationPhase::kVerify,
                Status::FailedPrecondition(
                    "restore on " + request_.destination.name() + " ran cgroup mode " +
                    ModeText(mode.effective()) + ", requested " + ModeText(request_.cgroup_mode) +
                    " (evidence: " + (mode.evidence().empty() ? "none" : mode.evidence()) + ")"));
  }
  proto::InspectRequest inspect;
  inspect.set_container_id(request_.container_id);
  Result<proto::ContainerInfo> info = destination_.Inspect(inspect);
  if (!info.ok()) {
    return Fail(MigrationPhase::kVerify,
                info.status().WithContext("inspect the restored container on " +
                                          request_.destination.name()));
  }
  if (!info->exists() || info->status() != "running") {
    return Fail(MigrationPhase::kVerify,
                Status::FailedPrecondition(
                    "the restored container " + request_.container_id + " on " +
                    request_.destination.name() + " is " +
                    (info->exists() ? info->status() : std::string("absent")) + ", not running"));
  }
  if (!restore_.loopback_up()) {
    report_.add_warnings("the restored container's loopback is not up with 127.0.0.1");
  }
  return MigrationPhase::kCommit;
}

MigrationPhase Migration::Commit() {
  proto::CommitRequest commit;
  commit.set_migration_id(request_.migration_id);
  commit.set_keep_images(request_.keep_images);
  Result<proto::MigrationStatus> committed =
      RetryIdempotent(clock_, [&] { return destination_.Commit(commit); });
  if (!committed.ok()) {
    return Fail(MigrationPhase::kCommit,
                committed.status().WithContext("commit on " + request_.destination.name()));
  }
  // The destination owns the container now: a failure to clean the source up must not
  // roll anything back (that would run the container twice).
  CommitSource();
  return MigrationPhase::kDone;
}

void Migration::CommitSource() {
  proto::CommitRequest commit;
  commit.set_migration_id(request_.migration_id);
  commit.set_keep_images(request_.keep_images);
  Result<proto::MigrationStatus> cleaned =
      RetryIdempotent(clock_, [&] { return source_.Commit(commit); });
  if (cleaned.ok() && cleaned->has_criu_dump_stats()) {
    SetDumpTimings(cleaned->criu_dump_stats());
  } else if (cleaned.ok() && request_.strategy == proto::STRATEGY_POST_COPY) {
    report_.add_warnings("CRIU kept no usable statistics of this post-copy dump (CRIU 4.1.1 "
                         "resets them when its page server starts): the report's CRIU dump "
                         "times are missing; CRIU's restore times are its own");
  }
  if (!cleaned.ok()) {
    report_.add_warnings("the container runs on " + request_.destination.name() +
                         ", but the source " + request_.source.name() +
                         " could not clean up its checkpointed container and images (" +
                         cleaned.status().ToString() + "): run `migrate rollback " +
                         request_.migration_id + " " + request_.source.name() + " " +
                         request_.destination.name() + "`, which finishes the commit there");
  }
}

MigrationPhase Migration::Rollback() {
  proto::ReportRollback& rollback = *report_.mutable_rollback();
  rollback.set_attempted(true);
  const std::string& id = request_.migration_id;
  const std::string reason = failure_.ToString();
  if (destination_touched_) {
    rollback.set_destination(RollBackDestination(destination_, id, request_.source.name(),
                                                 reason, restore_requested_, clock_));
    if (rollback.destination() != "ok" && restore_requested_ &&
        DestinationCommitted(destination_, id)) {
      return CommitInstead();
    }
    if (rollback.destination() != "ok") {
      report_.add_warnings("rollback on " + request_.destination.name() + " failed (" +
                           rollback.destination() + "): its agent must clean up migration " +
                           id + " when it comes back");
    }
  }
  // Two copies must never run: once the destination was asked to restore, it may run the
  // container (a lost answer is not a failed restore), so the source restores only after the
  // destination confirmed that nothing of the migration is left there. Until then the
  // container runs on the destination, or its images sit on the source.
  if (frozen_ && restore_requested_ && rollback.destination() != "ok") {
    rollback.set_source("not attempted: " + request_.destination.name() +
                        " may be running the container");
    report_.set_error(report_.error() + "; the source was NOT restored because " +
                      request_.destination.name() +
                      " did not confirm its rollback and may run the container: check it (" +
                      "runc list), then run `migrate rollback " + id + " " +
                      request_.source.name() + " " + request_.destination.name() +
                      "` once its agent is back; " + request_.source.name() +
                      " keeps the checkpoint images");
    return MigrationPhase::kDone;
  }
  if (frozen_) {
    rollback.set_source(RollBackSource(source_, id, request_.destination.name(), reason,
                                       request_.container_id, clock_));
    if (rollback.source() == kSourceNeverFroze) {
      frozen_ = false;  // refused before the freeze: nothing changed there
    } else if (rollback.source() != "ok") {
      report_.set_error(report_.error() + "; the rollback on " + request_.source.name() +
                        " failed too (" + rollback.source() + "): the source agent keeps the " +
                        "checkpoint images of migration " + id + "; see its journal");
    }
  }
  return MigrationPhase::kDone;
}

MigrationPhase Migration::CommitInstead() {
  committed_after_all_ = true;
  report_.clear_error();
  report_.clear_failed_phase();
  report_.mutable_rollback()->set_destination("not done: " + request_.destination.name() +
                                              " had committed (its answer was lost)");
  report_.add_warnings("the commit on " + request_.destination.name() +
                       " had succeeded although its answer was lost (" + failure_.ToString() +
                       "): the container runs there; the source is committed instead of "
                       "rolled back");
  CommitSource();
  return MigrationPhase::kDone;
}

}  // namespace migrate::controller
