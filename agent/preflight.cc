#include "agent/preflight.h"

#include "agent/post_copy_checks.h"

#include <linux/capability.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "agent/node_queries.h"
#include "agent/request_checks.h"
#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/oci_config.h"
#include "agent/runtime/oci_policy.h"
#include "agent/runtime/version.h"
#include "transfer/stream/byte_budget.h"
#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;
using runtime::CgroupMode;

constexpr char kModeRemedy[] =
    "choose another --cgroups-mode; see `migrate-agent probe` for what this node honours";

class Checks {
 public:
  Checks(AgentContext& ctx, const proto::PreflightRequest& request, CgroupMode mode)
      : ctx_(ctx), request_(request), mode_(mode) {}

  Result<proto::PreflightResponse> Run();

 private:
  void Add(std::string name, bool ok, std::string detail, std::string remedy);
  void ContainerFree();
  Status Source(const proto::ContainerInfo& info);
  void TaskChecks(const std::string& id);
  void FileLeases(const std::vector<int>& pids);
  void UndumpableTasks(const std::vector<int>& pids);
  void RefuseTasks(std::string name, const Result<std::vector<int>>& tids, const std::string& what,
                   const std::string& why, std::string remedy);
  void Destination(const proto::Capabilities& caps, const proto::ContainerInfo& info);
  void DestinationSpace();
  void ReceivedConfigPolicy();
  void ReceivedDeviceNodes();
  void LogChecks() const;

  AgentContext& ctx_;
  const proto::PreflightRequest& request_;
  CgroupMode mode_;
  proto::PreflightResponse response_;
};

void Checks::Add(std::string name, bool ok, std::string detail, std::string remedy) {
  proto::PreflightCheck* check = response_.add_checks();
  check->set_name(std::move(name));
  check->set_ok(ok);
  check->set_detail(std::move(detail));
  if (!ok) check->set_remedy(std::move(remedy));
}

// One unfinished migration per container per agent: a second one is refused before it starts.
void Checks::ContainerFree() {
  const std::string& id = request_.container_id();
  const std::string holder = ctx_.store().HolderOf(id);
  Add("container-free", holder.empty() || holder == request_.migration_id(),
      holder.empty() ? "no other migration of " + id + " is unfinished here"
                     : "container " + id + " is held by unfinished migration " + holder,
      "end migration " + holder + " first: it commits, or `migrate rollback " + holder +
          " <src> <dst>` ends it");
}

Status Checks::Source(const proto::ContainerInfo& info) {
  const std::string& id = request_.container_id();
  *response_.mutable_container() = info;
  const bool running = info.exists() && info.status() == "running";
  Add("container-running", running,
      info.exists() ? "container " + id + " is " + info.status()
                    : "no container " + id + " on " + ctx_.node(),
      info.exists() ? "only a running container can be migrated"
                    : "check the id with `runc --root " + ctx_.config().runc_root() + " list`");
  if (running) {
    auto plan = ctx_.runtime().PlanCheckpoint(id, mode_);
    if (!plan.ok()) return plan.status().WithContext("preflight: plan checkpoint");
    std::string detail = plan->allowed() ? "checkpoint in " +
                                               std::string(runtime::CgroupModeName(mode_)) +
                                               " via " + plan->description
                                         : plan->reason;
    if (!plan->note.empty()) detail += " (" + plan->note + ")";
    Add("cgroup-mode-checkpoint", plan->allowed(), detail, kModeRemedy);
    auto tcp = runtime::EstablishedTcpConnections(info.init_pid());
    if (tcp.ok() && *tcp > 0) {
      Add("tcp-connections", request_.tcp_established(),
          std::to_string(*tcp) + " established TCP connection(s) in the container" +
              (request_.tcp_established() ? ", carried across (--tcp-established)" : ""),
          "CRIU cannot dump established TCP connections unless asked: pass "
          "--tcp-established (the peers must reach the container at the same address on "
          "the destination), or close them first");
    }
    Add("bundle", fs::exists(info.bundle() + "/config.json"), "bundle " + info.bundle(),
        "the container's bundle (config.json + rootfs) must be readable on the source");
    TaskChecks(id);
  }
  auto cpuinfo = ctx_.deps().criu->CpuinfoDumpBytes();
  Add("cpuinfo-dump", cpuinfo.ok(),
      cpuinfo.ok() ? "criu cpuinfo dump: " + std::to_string(cpuinfo->size()) + " bytes"
                   : cpuinfo.status().message(),
      "check that `criu cpuinfo dump` works on the source");
  if (cpuinfo.ok()) response_.set_cpuinfo(*cpuinfo);
  return Status::Ok();
}

// What CRIU cannot dump, or dumps only when asked, read from the container's tasks.
void Checks::TaskChecks(const std::string& id) {
  auto pids = ctx_.runtime().Pids(id);
  if (!pids.ok()) return;  // the container-running check said what matters
  auto locks = runtime::FileLocksHeld(*pids);
  if (locks.ok() && *locks > 0) {
    Add("file-locks", request_.file_locks(),
        std::to_string(*locks) + " file lock(s) held by the container's tasks" +
            (request_.file_locks() ? ", carried across (--file-locks)" : ""),
        "CRIU refuses to dump file locks unless asked: pass --file-locks (the locked files "
        "must be in the container's root file system, which moves with it)");
  }
  FileLeases(*pids);
  UndumpableTasks(*pids);
}

// Reading a file with a write lease while its holder is frozen would break the lease (and
// queue SIGIO, which ends the restored holder): the source then sends the root file system
// after the dump (SourceSteps::BundleAfterDumpReason), and the container stays frozen longer.
void Checks::FileLeases(const std::vector<int>& pids) {
  const std::vector<std::string> leases = runtime::WriteLeasesHeld(pids);
  if (leases.empty()) return;
  std::string list;
  for (const std::string& lease : leases) list += (list.empty() ? "" : "; ") + lease;
  if (IsPostCopy(request_)) {
    Add("file-leases", false,
        std::to_string(leases.size()) + " write lease(s) held by the container's tasks (" + list +
            "): post-copy reads the root file system while their holder is frozen and alive, "
            "which would break them",
        "use --strategy stop-and-copy");
    return;
  }
  // Not a refusal: the file-locks check (which counts leases too) asks for --file-locks.
  Add("file-leases", true,
      std::to_string(leases.size()) + " write lease(s) held by the container's tasks (" + list +
          "): the root file system is sent after the dump, not during it, so that no lease is "
          "broken; the container stays frozen longer",
      "");
}

// Task states CRIU cannot dump: refused here, before anything is frozen, rather than failing
// (or hanging) the dump after the freeze.
void Checks::UndumpableTasks(const std::vector<int>& pids) {
  RefuseTasks("stopped-tasks", runtime::StoppedTasks(pids), "are stopped",
              "CRIU cannot seize a stopped task of a frozen container, its dump would hang",
              "continue them first (kill -CONT), or migrate once they run");
  RefuseTasks("traced-tasks", runtime::TracedTasks(pids), "are traced (ptrace) by another task",
              "CRIU must trace every task itself and cannot seize one traced by another",
              "detach the tracer (a debugger, strace) first");
  RefuseTasks("vfork-parents", runtime::VforkParents(pids),
              "wait in vfork() for a child to exec or exit",
              "CRIU cannot seize a task in that state", "migrate once the child has exec'd");
  RefuseTasks("pending-sigtrap", runtime::TasksWithPendingSignal(pids, SIGTRAP),
              "have a SIGTRAP pending", "CRIU refuses to dump it (its parasite code traps itself)",
              "let the tasks take the signal (unblock SIGTRAP) first");
  RefuseTasks("time-namespace", runtime::TasksWithChildTimeNamespace(pids),
              "are in another time namespace than the one their children get",
              "CRIU cannot dump that (\"Can't make timens id\")",
              "fork into the new time namespace before migrating, or do not unshare it");
  RefuseTasks("notify-events", runtime::TasksWithQueuedNotifyEvents(pids),
              "have inotify or fanotify events queued and not yet read",
              "CRIU dumps the watches but drops the queued events: the restored application "
              "would never get them",
              "migrate once the application has read its events");
  auto resource = runtime::HasEffectiveCapability(CAP_SYS_RESOURCE);
  if (resource.ok() && !*resource) {
    RefuseTasks("task-credentials", runtime::TasksWithOtherIds(pids, ::getuid(), ::getgid()),
                "have a uid or gid (real, effective or saved) other than the agent's (" +
                    std::to_string(::getuid()) + "/" + std::to_string(::getgid()) + ")",
                "CRIU reads every task's rlimits with prlimit(), which the kernel allows on such "
                "a task only with CAP_SYS_RESOURCE, and this agent lacks it",
                "run the agent with CAP_SYS_RESOURCE (root normally has it)");
  }
}

// A failed check `name` when `tids` lists tasks: "<n> task(s) of the container <what> (pids
// ...): <why>". A task list that could not be read refuses nothing: CRIU will say.
void Checks::RefuseTasks(std::string name, const Result<std::vector<int>>& tids,
                         const std::string& what, const std::string& why, std::string remedy) {
  if (!tids.ok() || tids->empty()) return;
  std::string list;
  for (int tid : *tids) list += (list.empty() ? "" : " ") + std::to_string(tid);
  Add(std::move(name), false,
      std::to_string(tids->size()) + " task(s) of the container " + what + " (pids " + list +
          "): " + why,
      std::move(remedy));
}

void Checks::Destination(const proto::Capabilities& caps, const proto::ContainerInfo& info) {
  const std::string& id = request_.container_id();
  Add("container-absent", !info.exists(),
      info.exists() ? "a container " + id + " already exists here (" + info.status() + ")"
                    : "no container " + id + " here",
      "remove the existing container (runc delete) before migrating here");
  if (!request_.source_criu_version().empty()) {
    auto mine = runtime::ParseVersion(caps.criu_version());
    auto theirs = runtime::ParseVersion(request_.source_criu_version());
    bool ok = mine.ok() && theirs.ok() && !(*mine < *theirs);
    Add("criu-version", ok,
        "destination criu " + caps.criu_version() + ", source criu " +
            request_.source_criu_version(),
        "upgrade CRIU on the destination to at least the source's version");
  }
  runtime::ModePlan plan = ctx_.runtime().PlanRestore(mode_);
  Add("cgroup-mode-restore", plan.allowed(),
      plan.allowed() ? "restore in " + std::string(runtime::CgroupModeName(mode_)) + " via " +
                           plan.description
                     : plan.reason,
      kModeRemedy);
  if (!request_.cgroup_path().empty()) {
    Status path_ok = runtime::ModeTakesCgroupPath(mode_)
                         ? CheckCgroupPath(request_.cgroup_path())
                         : Status::InvalidArgument(
                               "a new cgroup path needs cgroup mode ignore or soft: in " +
                               std::string(runtime::CgroupModeName(mode_)) +
                               " CRIU restores the cgroups the container was dumped from");
    Add("cgroup-path", path_ok.ok(),
        path_ok.ok() ? "restored container goes to cgroup " + request_.cgroup_path()
                     : path_ok.message(),
        "give --cgroup-path as an absolute cgroup path, e.g. /migrate/web-1, with "
        "--cgroups-mode ignore or soft");
  }
  if (request_.cgroup_namespace() && mode_ == CgroupMode::kIgnore) {
    auto criu = runtime::ParseVersion(caps.criu_version());
    const bool loses = !criu.ok() || runtime::IgnoreLosesCgroupNamespace(criu->major, criu->minor,
                                                                          criu->patch);
    Add("cgroup-namespace", !loses,
        loses ? "the container has its own cgroup namespace, and CRIU " + caps.criu_version() +
                    " restores in ignore mode into the host's (runc #5417): the container "
                    "would see host cgroup paths"
              : "the container's cgroup namespace is restored (CRIU " + caps.criu_version() + ")",
        "use --cgroups-mode soft with --cgroup-path to move it into a new cgroup: soft keeps "
        "its cgroup namespace");
  }
  if (!request_.source_cpuinfo().empty()) {
    auto check = ctx_.deps().criu->CpuinfoCheckBytes(request_.source_cpuinfo());
    bool ok = check.ok() && check->ok;
    Add("cpu-compatible", ok,
        check.ok() ? (ok ? "criu cpuinfo check passed" : "criu cpuinfo check: " + check->output)
                   : check.status().message(),
        "migrate between hosts with compatible CPUs (same CPU features)");
  }
  DestinationSpace();
  ReceivedConfigPolicy();
}

// The destination restores what the source sends as root: its config's host-touching parts
// (hooks, host mounts, namespaces by path, devices, ...) must pass this node's own policy
// (docs/agent.md, "Policy for received containers"), decided here, before the freeze. The
// restore checks the config that did arrive again.
void Checks::ReceivedConfigPolicy() {
  if (request_.source_config_json().empty()) {
    Add("container-policy", false, "the source sent no config.json to judge",
        "upgrade the source agent: a destination restores only a config it has checked");
    return;
  }
  auto config = runtime::OciConfig::Parse(request_.source_config_json());
  Status allowed = config.ok() ? runtime::CheckOciConfigAgainstPolicy(
                                     *config, ctx_.config().received_containers())
                               : config.status();
  Add("container-policy", allowed.ok(),
      allowed.ok() ? "the container's config passes this node's policy for received containers"
                   : allowed.message(),
      "allow what the container needs in received_containers of this agent's configuration "
      "(docs/agent.md), or migrate it elsewhere");
  ReceivedDeviceNodes();
}

// The bundle stream would meet the source's device nodes after the freeze, and this node's
// receiver refuses them unless its policy allows them: refused here instead.
void Checks::ReceivedDeviceNodes() {
  const uint32_t count = request_.source_device_node_count();
  if (count == 0) return;
  std::string list;
  for (const std::string& node : request_.source_device_nodes()) {
    list += (list.empty() ? "" : ", ") + node;
  }
  if (static_cast<uint32_t>(request_.source_device_nodes_size()) < count) list += ", ...";
  const bool allowed = ctx_.config().received_containers().allow_device_nodes();
  Add("device-nodes", allowed,
      std::to_string(count) + " device node(s) in the container's bundle (" + list + "): " +
          (allowed ? "received as such (received_containers.allow_device_nodes)"
                   : "this node's policy for received containers refuses device nodes"),
      "remove the device nodes from the container's root file system (bind-mount devices "
      "instead), or set received_containers.allow_device_nodes on this node (docs/agent.md)");
}

void Checks::DestinationSpace() {
  const std::string& state_dir = ctx_.config().state_dir();
  (void)ctx_.files().MakeDirs(state_dir);
  auto free_bytes = runtime::FreeBytes(state_dir);
  const uint64_t needed = transfer::AgreedStreamBytes(request_.bytes_needed());
  Add("free-space", free_bytes.ok() && *free_bytes >= needed,
      free_bytes.ok() ? std::to_string(*free_bytes >> 20) + " MiB free in " + state_dir + ", " +
                            std::to_string(needed >> 20) + " MiB needed"
                      : free_bytes.status().message(),
      "free space in the agent's state_dir on the destination");
}

void Checks::LogChecks() const {
  for (const auto& check : response_.checks()) {
    LogLine(check.ok() ? LogLevel::kDebug : LogLevel::kWarn, request_.migration_id(),
            "preflight " + check.name() + ": " + (check.ok() ? "ok" : "FAILED") + ": " +
                check.detail());
  }
}

Result<proto::PreflightResponse> Checks::Run() {
  auto caps = QueryCapabilities(ctx_);
  if (!caps.ok()) return caps.status().WithContext("preflight: probe node");
  *response_.mutable_capabilities() = *caps;
  Add("criu-check", caps->criu_check_ok(),
      caps->criu_check_ok() ? "criu " + caps->criu_version() + ": criu check passed"
                            : "criu check failed: " + caps->criu_check_output(),
      "install a CRIU that passes `criu check` on this kernel (scripts/install-deps.sh)");
  Add("runtime", caps->runtime_problem().empty(),
      caps->runtime_problem().empty()
          ? caps->runtime_name() + " " + caps->runtime_version() + " (" + caps->runtime_path() + ")"
          : caps->runtime_problem(),
      "make the runtime usable on this host, or configure another (runtime_path)");
  ContainerFree();
  auto info = InspectContainer(ctx_, request_.container_id());
  if (!info.ok()) return info.status().WithContext("preflight");
  if (request_.role() == proto::ROLE_SOURCE) {
    MIGRATE_RETURN_IF_ERROR(Source(*info));
  } else {
    Destination(*caps, *info);
  }
  if (IsPostCopy(request_)) {
    for (proto::PreflightCheck& c : PostCopyChecks(ctx_, request_, *caps, info->init_pid())) {
      *response_.add_checks() = std::move(c);
    }
  }
  LogChecks();
  return response_;
}

}  // namespace

Result<proto::PreflightResponse> RunPreflight(AgentContext& ctx,
                                              const proto::PreflightRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  auto mode = runtime::CgroupModeFromProto(request.cgroup_mode());
  if (!mode.ok()) return mode.status().WithContext("preflight");
  if (request.role() != proto::ROLE_SOURCE && request.role() != proto::ROLE_DESTINATION) {
    return Status::InvalidArgument("preflight: role must be source or destination");
  }
  MIGRATE_RETURN_IF_ERROR(runtime::CheckCriuOptions(CriuOptionsOf(request)).WithContext("preflight"));
  return Checks(ctx, request, *mode).Run();
}

}  // namespace migrate::agent
