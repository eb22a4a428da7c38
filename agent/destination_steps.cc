#include "agent/destination_steps.h"


#include "agent/agent_metrics.h"
#include "agent/destination_pages.h"
#include "agent/fence/cgroup_control.h"
#include "agent/orphans.h"
#include "agent/request_checks.h"
#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/cgroup_paths.h"
#include "agent/runtime/result_proto.h"
#include "agent/runtime/oci_config.h"
#include "agent/runtime/oci_policy.h"
#include "agent/runtime/file_util.h"
#include "transfer/stream/byte_budget.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/base/log.h"
#include "transfer/base/unix_time.h"
#include "transfer/tls/random.h"

namespace migrate::agent {
namespace {

using runtime::CgroupMode;

transfer::ExpectedStream Expected(const proto::MigrationRecord& r, std::string final_dir,
                                  std::string staging, std::string what) {
  transfer::ExpectedStream expected;
  expected.final_dir = std::move(final_dir);
  expected.staging_dir = std::move(staging);
  expected.expected_peer_node_name = r.peer_node();
  expected.label = r.migration_id() + "/" + what;
  return expected;
}

// The restored container's cgroup in every hierarchy, for the fence to kill: the path asked
// for, else the one in the received config.json (soft: the source's).
std::vector<std::string> FenceCgroups(const proto::MigrationRecord& r,
                                      const std::optional<std::string>& cgroups_path) {
  std::string path = cgroups_path.value_or("");
  if (path.empty()) {
    auto config = runtime::OciConfig::Load(r.bundle_dir() + "/config.json");
    if (config.ok()) path = config->cgroups_path().value_or("");
  }
  return path.empty() ? std::vector<std::string>() : runtime::CgroupDirs(path);
}

// The fence kills every task of the copy's cgroup: it must hold none but the copy's.
Status CheckFenceable(const std::vector<std::string>& cgroups) {
  for (const std::string& dir : cgroups) {
    Result<std::vector<pid_t>> pids = fence::CgroupPids(dir);
    if (pids.ok() && !pids->empty()) {
      return Status::FailedPrecondition(
          "post-copy: cgroup " + dir + " already holds tasks, which the fence of the copy "
          "restored into it would kill with it (give the container a cgroup of its own: "
          "--cgroup-path)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<proto::PrepareReceiveResponse> DestinationSteps::PrepareReceive(
    const proto::PrepareReceiveRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  if (request.source_node().empty()) {
    return Status::InvalidArgument("prepare-receive: source_node is required");
  }
  if (ctx_.deps().streams == nullptr) return Status::Unavailable("this agent receives no streams");
  if (!request.approved_config_sha256().empty() && request.approved_config_sha256().size() != 32) {
    return Status::InvalidArgument("prepare-receive: approved_config_sha256 must be 32 bytes");
  }
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m,
                           ctx_.store().Begin(request.migration_id(), request.container_id(),
                                              proto::ROLE_DESTINATION));
  StepLock lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  r.set_peer_node(request.source_node());
  r.set_bytes_agreed(transfer::AgreedStreamBytes(request.bytes_needed()));
  r.set_approved_config_sha256(request.approved_config_sha256());
  r.set_bundle_dir(ctx_.BundleDir(request.container_id(), request.migration_id()));
  r.set_images_dir(ctx_.MigrationDir(request.migration_id()) + "/images");
  r.set_strategy(request.strategy());
  Status made = Status::Ok();
  for (const std::string& d : {ctx_.MigrationDir(request.migration_id()), ctx_.StagingDir(),
                               ctx_.ContainerHome(request.container_id())}) {
    if (made.ok()) made = ctx_.files().MakeDirs(d);
  }
  Result<std::string> bundle_token = tls::RandomHex(32);
  Result<std::string> images_token = tls::RandomHex(32);
  Result<std::string> pages_token = tls::RandomHex(32);
  for (const auto* token : {&bundle_token, &images_token, &pages_token}) {
    if (made.ok() && !token->ok()) made = token->status();
  }
  if (made.ok()) {
    r.set_bundle_token(*bundle_token);
    r.set_images_token(*images_token);
    if (IsPostCopy(r)) r.set_pages_token(*pages_token);
    made = ctx_.store().Advance(*m, Event::kPrepareReceive);
  }
  if (!made.ok()) {
    (void)ctx_.files().RemoveTree(ctx_.MigrationDir(request.migration_id()));
    ctx_.store().Abandon(m);
    return made.WithContext("prepare-receive");
  }
  return Expect(*m);
}

Result<proto::PrepareReceiveResponse> DestinationSteps::Expect(Migration& m) {
  const proto::MigrationRecord& r = m.record;
  // Both streams share what the destination agreed to hold (preflight's free-space check).
  auto budget = std::make_shared<transfer::ByteBudget>(r.bytes_agreed());
  transfer::ExpectedStream bundle = Expected(r, r.bundle_dir(), ctx_.StagingDir(), "bundle");
  bundle.symlinks = transfer::SymlinkPolicy::kContainerRoot;
  bundle.special_files = ctx_.config().received_containers().allow_device_nodes()
                             ? transfer::SpecialFilePolicy::kDevicesToo
                             : transfer::SpecialFilePolicy::kFifosAndSockets;
  bundle.budget = budget;
  MIGRATE_RETURN_IF_ERROR(
      ctx_.deps().streams->Expect(r.bundle_token(), bundle).WithContext("bundle stream"));
  transfer::ExpectedStream images = Expected(r, r.images_dir(), ctx_.StagingDir(), "images");
  images.symlinks = transfer::SymlinkPolicy::kNone;  // CRIU opens images by name, as root
  images.special_files = transfer::SpecialFilePolicy::kNone;  // CRIU writes none
  images.budget = budget;
  // No fsync for the images: they serve only this migration's restore, and a destination
  // that restarts before RESTORED deletes them (the source keeps its copy until commit).
  // Syncing them added ~0.5 s per GiB to the downtime (docs/benchmarks.md, fsync runs).
  images.fsync = false;
  if (Status expected = ctx_.deps().streams->Expect(r.images_token(), images); !expected.ok()) {
    ctx_.deps().streams->Cancel(r.bundle_token());
    return expected.WithContext("images stream");
  }
  if (IsPostCopy(r)) {
    auto pages = DestinationPages::Expect(ctx_, r);
    if (!pages.ok()) {
      CancelStreams(r);
      return pages.status();
    }
    ctx_.post_copy().PutDestination(r.migration_id(), *pages);
  }
  proto::PrepareReceiveResponse response;
  response.set_pages_token(r.pages_token());
  response.set_bundle_token(r.bundle_token());
  response.set_images_token(r.images_token());
  response.set_data_port(ctx_.deps().streams->port());
  return response;
}

Status DestinationSteps::AwaitStreams(const proto::MigrationRecord& r) {
  // Both streams must have arrived and verified; they normally have by now.
  const auto deadline = transfer::Clock::now() + std::chrono::seconds(30);
  for (const auto& [what, token] : {std::pair<std::string, std::string>{"bundle", r.bundle_token()},
                                   {"images", r.images_token()}}) {
    auto outcome = ctx_.deps().streams->Wait(token, deadline);
    if (!outcome.ok()) {
      return Status::FailedPrecondition("the " + what + " stream did not arrive: " +
                                        outcome.status().ToString());
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> DestinationSteps::TargetCgroup(
    const proto::RestoreRequest& request, CgroupMode mode) const {
  if (!runtime::ModeTakesCgroupPath(mode)) return std::optional<std::string>();
  if (mode != CgroupMode::kIgnore && request.cgroup_path().empty()) {
    return std::optional<std::string>();  // soft: the dumped paths, unless told otherwise
  }
  std::string path = request.cgroup_path().empty()
                         ? ctx_.config().cgroup_parent() + "/" + request.container_id()
                         : request.cgroup_path();
  MIGRATE_RETURN_IF_ERROR(CheckCgroupPath(path));
  return std::optional<std::string>(std::move(path));
}

Result<proto::RestoreResponse> DestinationSteps::Restore(const proto::RestoreRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  MIGRATE_ASSIGN_OR_RETURN(CgroupMode mode, runtime::CgroupModeFromProto(request.cgroup_mode()));
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, ctx_.store().Find(request.migration_id()));
  StepLock lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  if (r.role() != proto::ROLE_DESTINATION) {
    return Status::FailedPrecondition("restore: this agent is the source of migration " +
                                      r.migration_id());
  }
  MIGRATE_RETURN_IF_ERROR(CheckEvent(r, Event::kRestoreBegin));
  if (r.container_id() != request.container_id()) {
    return Status::InvalidArgument("restore: migration " + r.migration_id() +
                                   " is for container " + r.container_id());
  }
  runtime::ModePlan plan = ctx_.runtime().PlanRestore(mode);
  if (!plan.allowed()) return Status::FailedPrecondition("restore refused: " + plan.reason);
  MIGRATE_ASSIGN_OR_RETURN(std::optional<std::string> cgroups_path, TargetCgroup(request, mode));
  // A container of that name that this migration did not restore is never touched: refuse.
  auto existing = ctx_.runtime().State(r.container_id());
  if (existing.ok()) {
    return Status::AlreadyExists("restore: a container " + r.container_id() +
                                 " already exists here (" + existing->status + ", bundle " +
                                 existing->bundle + "); it is not this migration's");
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  MIGRATE_RETURN_IF_ERROR(AwaitStreams(r).WithContext("restore"));
  MIGRATE_RETURN_IF_ERROR(CheckReceived(r).WithContext("restore refused"));
  return RunRestore(*m, request, mode, cgroups_path);
}

// What did arrive must be what preflight approved (byte for byte, when the controller named
// it), and pass this node's policy: a source may send another config than it announced.
Status DestinationSteps::CheckReceived(const proto::MigrationRecord& r) const {
  const std::string path = r.bundle_dir() + "/config.json";
  MIGRATE_ASSIGN_OR_RETURN(std::string text, runtime::ReadFileNoFollow(path));
  if (!r.approved_config_sha256().empty()) {
    const transfer::Digest got = transfer::Sha256::Of(text.data(), text.size());
    if (std::string(got.begin(), got.end()) != r.approved_config_sha256()) {
      return Status::PermissionDenied(
          "the received config.json is not the one preflight approved (sha256 " +
          transfer::DigestHex(got) + "): the source sent another");
    }
  }
  MIGRATE_ASSIGN_OR_RETURN(runtime::OciConfig config, runtime::OciConfig::Parse(text));
  MIGRATE_RETURN_IF_ERROR(
      runtime::CheckOciConfigAgainstPolicy(config, ctx_.config().received_containers()));
  return runtime::CheckReceivedBundle(r.bundle_dir(), config);
}

Result<proto::RestoreResponse> DestinationSteps::RunRestore(
    Migration& m, const proto::RestoreRequest& request, CgroupMode mode,
    const std::optional<std::string>& cgroups_path) {
  proto::MigrationRecord& r = m.record;
  r.set_cgroup_mode(request.cgroup_mode());
  r.set_cgroup_path(cgroups_path.value_or(""));
  r.set_cgroup_created(cgroups_path && !runtime::CgroupPathExists(*cgroups_path));
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kRestoreBegin));
  ctx_.Hit("destination.before_restore", m);
  runtime::RestoreOptions options;
  options.container_id = r.container_id();
  options.image_dir = r.images_dir();
  options.work_dir = ctx_.MigrationDir(r.migration_id()) + "/restore-work";
  options.bundle_dir = r.bundle_dir();
  options.cgroup_mode = mode;
  options.cgroups_path = cgroups_path;
  options.criu = CriuOptionsOf(request);
  std::shared_ptr<DestinationPages> pages;
  if (IsPostCopy(r)) {
    pages = ctx_.post_copy().Destination(r.migration_id());
    const std::vector<std::string> cgroups = FenceCgroups(r, cgroups_path);
    Status before = pages ? CheckFenceable(cgroups)
                          : Status::FailedPrecondition("the page link of this migration is gone "
                                                       "(the agent restarted)");
    if (before.ok()) before = pages->BeforeRestore(options.work_dir, cgroups);
    if (!before.ok()) {
      (void)ctx_.store().Advance(m, Event::kRestoreFailed, before.message());
      return before.WithContext("post-copy restore on " + ctx_.node());
    }
    options.extra_args.push_back("--lazy-pages");
  }
  auto restored = ctx_.runtime().Restore(options);
  auto state = restored.ok() ? ctx_.runtime().State(r.container_id())
                             : Result<runtime::ContainerState>(restored.status());
  if (state.ok() && state->status != "running") {
    state = Status::FailedPrecondition("container is not running after restore (" +
                                       state->status + ")");
  }
  Result<proto::PostCopyStats> post_copy = proto::PostCopyStats();
  if (state.ok() && pages) {
    ctx_.Hit("destination.post_copy_running", m);
    post_copy = pages->AwaitPages(restored->running_at);
    if (!post_copy.ok()) state = post_copy.status();
  } else if (!state.ok() && pages) {
    (void)pages->KillCopy("the restore failed: " + state.status().message());
  }
  if (!state.ok()) {
    (void)KillOrphans(r.images_dir(), r.migration_id());  // a CRIU the failed restore left
    Status failed = state.status().WithContext("restore on " + ctx_.node());
    (void)ctx_.store().Advance(m, Event::kRestoreFailed, failed.message());
    return failed;
  }
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kRestoreDone));
  ctx_.metrics().Downtime(proto::ROLE_DESTINATION, restored->restore_duration);
  ctx_.Hit("destination.restored", m);
  proto::RestoreResponse response = runtime::RestoreResultToProto(*restored);
  response.set_running_for_ms(MillisSince(restored->running_at));
  if (pages) *response.mutable_post_copy() = *post_copy;
  return response;
}

Status DestinationSteps::Commit(Migration& m) {
  proto::MigrationRecord& r = m.record;
  ctx_.post_copy().Drop(r.migration_id());
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kCommitBegin));
  if (!r.keep_images()) MIGRATE_RETURN_IF_ERROR(ctx_.files().RemoveTree(r.images_dir()));
  if (ctx_.deps().streams != nullptr) {
    for (const std::string& token : {r.bundle_token(), r.images_token()}) {
      ctx_.deps().streams->Forget(token);
    }
  }
  ctx_.Hit("destination.commit_half", m);
  return ctx_.store().Advance(m, Event::kCommitDone,
                              r.keep_images() ? "images kept at " + r.images_dir() : "");
}

void DestinationSteps::CancelStreams(const proto::MigrationRecord& r) {
  if (auto pages = ctx_.post_copy().Destination(r.migration_id())) {
    (void)pages->KillCopy("rolled back");
    pages->Cancel();
    ctx_.post_copy().Drop(r.migration_id());
  }
  if (ctx_.deps().streams == nullptr) return;
  for (const std::string& token : {r.bundle_token(), r.images_token()}) {
    if (!token.empty()) ctx_.deps().streams->Cancel(token);
  }
}

Status DestinationSteps::Rollback(Migration& m) {
  proto::MigrationRecord& r = m.record;
  CancelStreams(r);
  // runc restore names the image folder and CRIU reads it: a restore that outlived an earlier
  // run of the agent must end before the container's state can tell anything.
  MIGRATE_RETURN_IF_ERROR(WaitForOrphans(r.images_dir(), ctx_.deps().orphan_wait,
                                         r.migration_id()));
  // Post-copy: a fence an earlier run left kills the copy at its lease's end.
  MIGRATE_RETURN_IF_ERROR(WaitForOrphans(FenceStatePath(ctx_, r.migration_id()),
                                         ctx_.deps().orphan_wait, r.migration_id()));
  MIGRATE_RETURN_IF_ERROR(ctx_.store().Advance(m, Event::kRollbackBegin));
  auto state = ctx_.runtime().State(r.container_id());
  if (state.ok() && runtime::SameBundle(state->bundle, r.bundle_dir())) {
    if (Status killed = ctx_.runtime().KillAndDelete(r.container_id(), r.bundle_dir());
        !killed.ok()) {
      Status failed = killed.WithContext("remove the container this migration restored");
      (void)ctx_.store().Advance(m, Event::kRollbackFailed, failed.message());
      return failed;
    }
  } else if (state.ok()) {
    MIGRATE_LOG(kWarn, r.migration_id()) << "container " << r.container_id() << " runs from "
                                         << state->bundle << ", not this migration's bundle: "
                                         << "left alone";
  }
  if (r.cgroup_created() && !r.cgroup_path().empty()) {
    Status removed = runtime::RemoveEmptyCgroup(r.cgroup_path());
    if (!removed.ok()) {
      MIGRATE_LOG(kWarn, r.migration_id()) << removed.message();
    }
  }
  MIGRATE_RETURN_IF_ERROR(ctx_.files().RemoveTree(r.bundle_dir()));
  MIGRATE_RETURN_IF_ERROR(ctx_.files().RemoveTree(r.images_dir()));
  auto left = ctx_.files().List(ctx_.ContainerHome(r.container_id()));
  if (left.ok() && left->empty()) (void)ctx_.files().RemoveTree(ctx_.ContainerHome(r.container_id()));
  return ctx_.store().Advance(m, Event::kRollbackDone, "destination cleaned: no container, no data");
}

}  // namespace migrate::agent
