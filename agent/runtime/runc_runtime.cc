#include "agent/runtime/runc_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "agent/runtime/cgroup_image.h"
#include "agent/runtime/criu_log.h"
#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "transfer/json/json.h"
#include "agent/runtime/loopback.h"
#include "agent/runtime/oci_config.h"

namespace migrate::runtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kGlobalRuncCriuConfig = "/etc/criu/runc.conf";
// In a checkpoint's work directory: the CRIU options runc's CLI does not carry (criu_options.h).
constexpr std::string_view kCriuOptionsFile = "criu-options.conf";

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string ResolveInPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path
                                          : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The first CRIU "Error" line of a log that is not the harmless RLIMIT_NOFILE one.
std::string FirstCriuError(const std::string& log_path) {
  Result<std::string> log = ReadFile(log_path);
  if (!log.ok()) return {};
  std::istringstream in(*log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("Error") != std::string::npos &&
        line.find("RLIMIT_NOFILE") == std::string::npos) {
      return line;
    }
  }
  return {};
}

Status WithLog(Status status, const std::string& log_path) {
  if (!Exists(log_path)) return status;
  std::string first_error = FirstCriuError(log_path);
  std::string context = "log " + log_path;
  if (!first_error.empty()) context += ", first error: " + first_error;
  return Status(status.code(), status.message() + " (" + context + ")");
}

// Ends runc's options and names the container: an id can never be read as an option
// (every runc command accepts "--"; checked on 1.1 to 1.5).
void AppendId(std::vector<std::string>* argv, std::string_view container_id) {
  argv->push_back("--");
  argv->emplace_back(container_id);
}

Status EmptyDir(const std::string& path) {
  MIGRATE_RETURN_IF_ERROR(MakeDirs(path));
  // A directory that already holds images is refused: CRIU would mix them.
  std::string probe = path + "/inventory.img";
  if (Exists(probe)) return Status::AlreadyExists(path + " already holds checkpoint images");
  return Status::Ok();
}

// `state` and `list --format json` describe a container with the same keys (runc and crun).
ContainerState StateFromJson(const json::Value& doc) {
  ContainerState state;
  auto str = [&](std::string_view key) {
    const json::Value* v = json::Find(doc, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
  };
  state.id = str("id");
  state.status = str("status");
  state.bundle = str("bundle");
  if (const json::Value* pid = json::Find(doc, "pid"); pid != nullptr && pid->is_number_integer()) {
    state.init_pid = pid->get<int>();
  }
  return state;
}

}  // namespace

proto::ModeEvidence ModeProof::ToProto() const {
  proto::ModeEvidence out;
  out.set_requested(CgroupModeToProto(requested));
  out.set_effective(CgroupModeToProto(effective));
  out.set_evidence(evidence);
  out.set_mechanism(mechanism);
  out.set_note(note);
  return out;
}

proto::CgroupModeSupport ModeSupport::ToProto() const {
  proto::CgroupModeSupport out;
  out.set_mode(CgroupModeToProto(mode));
  out.set_checkpoint(checkpoint);
  out.set_restore(restore);
  out.set_mechanism(mechanism);
  out.set_reason(reason);
  return out;
}

Result<std::unique_ptr<RuncRuntime>> RuncRuntime::Create(ProcessRunner* runner,
                                                         RuncOptions options) {
  ProcessSpec spec;
  spec.argv = {options.runc_path, "--version"};
  spec.timeout = std::chrono::seconds(30);
  Result<ProcessResult> out = RunChecked(*runner, spec);
  if (!out.ok()) return Status::Unavailable(out.status().message()).WithContext("probe runtime");
  // runc and crun share the CLI this class drives; they differ in what reaches CRIU
  // (mode_plan.h) and in their state files.
  const bool crun = out->stdout_text.rfind("crun version", 0) == 0;
  Result<Version> version = crun ? ParseCrunVersionOutput(out->stdout_text)
                                 : ParseRuncVersionOutput(out->stdout_text);
  if (!version.ok()) {
    return Status::Unavailable(version.status().message() + " (" + options.runc_path +
                               " --version: neither runc nor crun?)")
        .WithContext("probe runtime");
  }
  RuntimeInfo info{crun ? "crun" : "runc", *version, ResolveInPath(options.runc_path)};
  return std::make_unique<RuncRuntime>(runner, std::move(options), std::move(info));
}

RuncRuntime::RuncRuntime(ProcessRunner* runner, RuncOptions options, RuntimeInfo info)
    : runner_(runner), options_(std::move(options)), info_(std::move(info)) {}

Status RuncRuntime::FailedRun(std::string_view operation, Status status,
                              const std::string& log_path) const {
  if (Exists(log_path) && options_.on_criu_failure) options_.on_criu_failure(operation);
  return WithLog(std::move(status), log_path);
}

std::vector<std::string> RuncRuntime::Base() const {
  std::vector<std::string> base = {options_.runc_path, "--root", options_.root};
  if (!options_.criu_path.empty()) base.insert(base.end(), {"--criu", options_.criu_path});
  return base;
}

std::string RuncRuntime::OwnedConfigPath(std::string_view container_id) const {
  return options_.criu_config_dir + "/" + std::string(container_id) + ".conf";
}

std::vector<ModeSupport> RuncRuntime::ModeSupportTable() const {
  std::vector<ModeSupport> table;
  for (CgroupMode mode : kAllCgroupModes) {
    ModePlan restore = PlanRestoreFor(info_.name, info_.version, mode);
    ModePlan any = PlanCheckpointFor(info_.name, info_.version, mode, /*owned_config_file=*/false);
    ModePlan owned = PlanCheckpointFor(info_.name, info_.version, mode, /*owned_config_file=*/true);
    ModeSupport row;
    row.mode = mode;
    row.restore = restore.allowed();
    row.checkpoint = any.allowed() && any.expected == mode;
    std::string checkpoint_how =
        owned.mechanism == any.mechanism
            ? owned.description
            : "CRIU config file \"manage-cgroups=" + std::string(CgroupModeName(mode)) +
                  "\" via org.criu.config for containers created or restored by migrate, "
                  "else " +
                  any.description;
    row.mechanism = "checkpoint: " + checkpoint_how +
                    "; restore: " + (restore.allowed() ? restore.description : "refused");
    std::string reason;
    if (!row.checkpoint) reason = any.note;
    if (!row.restore) reason += (reason.empty() ? "" : "; ") + restore.reason;
    row.reason = reason;
    table.push_back(std::move(row));
  }
  return table;
}

Result<std::optional<std::string>> RuncRuntime::CreationCriuConfig(std::string_view container_id) {
  std::string path = options_.root + "/" + std::string(container_id) + "/state.json";
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status().WithContext("runc state of " + std::string(container_id));
  Result<json::Value> doc = json::Parse(*text);
  if (!doc.ok()) return doc.status().WithContext(path);
  const json::Value* config = json::Find(*doc, "config");
  const json::Value* labels = config != nullptr ? json::Find(*config, "labels") : nullptr;
  if (labels == nullptr || !labels->is_array()) return std::optional<std::string>();
  std::string prefix = std::string(kCriuConfigAnnotation) + "=";
  for (const json::Value& label : *labels) {
    if (!label.is_string()) continue;
    const std::string& value = label.get_ref<const std::string&>();
    if (value.rfind(prefix, 0) == 0) return std::optional<std::string>(value.substr(prefix.size()));
  }
  return std::optional<std::string>();
}

Result<ModePlan> RuncRuntime::PlanCheckpoint(std::string_view container_id, CgroupMode mode) {
  if (info_.name == "crun") return PlanCrunCheckpoint(info_.version, mode);
  MIGRATE_ASSIGN_OR_RETURN(std::optional<std::string> annotation, CreationCriuConfig(container_id));
  bool owned = annotation && *annotation == OwnedConfigPath(container_id);
  ModePlan plan = PlanRuncCheckpoint(info_.version, mode, owned);
  std::string extra;
  if (annotation && !annotation->empty() && !owned) {
    extra = "org.criu.config names " + *annotation +
            ", which migrate does not manage; CRIU applies it last";
  } else if (!annotation && Exists(std::string(kGlobalRuncCriuConfig))) {
    extra = std::string(kGlobalRuncCriuConfig) +
            " exists and CRIU applies it last (runc's default config file)";
  }
  if (!extra.empty()) plan.note += (plan.note.empty() ? "" : "; ") + extra;
  return plan;
}

ModePlan RuncRuntime::PlanRestore(CgroupMode mode) const {
  return PlanRestoreFor(info_.name, info_.version, mode);
}

Result<ContainerState> RuncRuntime::State(std::string_view container_id) {
  ProcessSpec spec;
  spec.argv = Base();
  spec.argv.push_back("state");
  AppendId(&spec.argv, container_id);
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, runner_->Run(spec));
  if (!r.Succeeded()) {
    // runc: "container does not exist"; crun: "error opening file `<root>/<id>/status`: No
    // such file or directory".
    const bool unknown = r.stderr_text.find("does not exist") != std::string::npos ||
                         (r.stderr_text.find("/status`") != std::string::npos &&
                          r.stderr_text.find("No such file or directory") != std::string::npos);
    if (unknown) {
      return Status::NotFound("container " + std::string(container_id) + " does not exist");
    }
    return Status::FailedPrecondition(FormatCommand(spec.argv) + ": " + r.Describe() + ": " +
                                      r.stderr_text);
  }
  MIGRATE_ASSIGN_OR_RETURN(json::Value doc, json::Parse(r.stdout_text));
  return StateFromJson(doc);
}

Result<std::vector<ContainerState>> RuncRuntime::List() {
  ProcessSpec spec;
  spec.argv = Base();
  spec.argv.insert(spec.argv.end(), {"list", "--format", "json"});
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, RunChecked(*runner_, spec));
  MIGRATE_ASSIGN_OR_RETURN(json::Value doc, json::Parse(r.stdout_text));
  std::vector<ContainerState> containers;
  if (doc.is_array()) {  // runc prints null when there is none
    for (const json::Value& entry : doc) containers.push_back(StateFromJson(entry));
  }
  return containers;
}

Result<std::vector<int>> RuncRuntime::Pids(std::string_view container_id) {
  ProcessSpec spec;
  spec.argv = Base();
  spec.argv.insert(spec.argv.end(), {"ps", "--format", "json"});
  AppendId(&spec.argv, container_id);
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, RunChecked(*runner_, spec));
  MIGRATE_ASSIGN_OR_RETURN(json::Value doc, json::Parse(r.stdout_text));
  std::vector<int> pids;
  if (doc.is_array()) {
    for (const json::Value& v : doc) pids.push_back(v.is_number_integer() ? v.get<int>() : 0);
  }
  return pids;
}

// Everything before the freeze: the checks that can refuse, the folders, the CRIU config
// files, and the command (with `more_args` before the container id).
Result<RuncRuntime::DumpSetup> RuncRuntime::PrepareDump(const CheckpointOptions& options,
                                                        const std::vector<std::string>& more_args) {
  const std::string& id = options.container_id;
  // Everything that can refuse runs before the freeze.
  MIGRATE_RETURN_IF_ERROR(CheckCriuOptions(options.criu));
  MIGRATE_ASSIGN_OR_RETURN(ContainerState state, State(id));
  if (state.status != "running") {
    return Status::FailedPrecondition("container " + id + " is " + state.status + ", not running");
  }
  MIGRATE_ASSIGN_OR_RETURN(ModePlan plan, PlanCheckpoint(id, options.cgroup_mode));
  if (!plan.allowed()) return Status::FailedPrecondition(plan.reason);
  MIGRATE_RETURN_IF_ERROR(EmptyDir(options.image_dir).WithContext("image dir"));
  MIGRATE_RETURN_IF_ERROR(MakeDirs(options.work_dir).WithContext("work dir"));

  // A container created with a migrate-owned config file: runc passes that file to CRIU on
  // every checkpoint and CRIU applies it last, so it must say exactly what this checkpoint
  // wants (a stale "manage-cgroups=ignore" would override the flag).
  std::optional<std::string> annotation;
  if (info_.name == "runc") {
    MIGRATE_ASSIGN_OR_RETURN(annotation, CreationCriuConfig(id));
  }
  if (annotation && *annotation == OwnedConfigPath(id)) {
    std::string text = plan.mechanism == ModeMechanism::kCriuConfigFile
                           ? plan.config_file_text
                           : "# migrate: no CRIU options for this checkpoint\n";
    MIGRATE_RETURN_IF_ERROR(MakeDirs(options_.criu_config_dir));
    MIGRATE_RETURN_IF_ERROR(WriteFileAtomic(*annotation, text));
  }

  DumpSetup setup;
  ProcessSpec& spec = setup.spec;
  setup.plan = plan;
  spec.argv = Base();
  spec.argv.insert(spec.argv.end(), {"checkpoint", "--image-path", options.image_dir, "--work-path",
                                     options.work_dir});
  for (const std::string& arg : options.criu.RuntimeArgs()) spec.argv.push_back(arg);
  if (options.leave_running) spec.argv.push_back("--leave-running");
  spec.argv.insert(spec.argv.end(), plan.runtime_args.begin(), plan.runtime_args.end());
  spec.argv.insert(spec.argv.end(), options.extra_args.begin(), options.extra_args.end());
  spec.argv.insert(spec.argv.end(), more_args.begin(), more_args.end());
  AppendId(&spec.argv, id);
  spec.extra_fds = options.extra_fds;
  spec.timeout = options_.timeout;
  const std::string& criu_file = setup.criu_file =
      options.work_dir + "/" + std::string(kCriuOptionsFile);
  if (const std::string text = options.criu.ConfigFileText(); !text.empty()) {
    MIGRATE_RETURN_IF_ERROR(
        WriteFileAtomic(criu_file, "# migrate: CRIU options of this checkpoint\n" + text, 0600));
    spec.extra_env.push_back("CRIU_CONFIG_FILE=" + criu_file);
  }

  return setup;
}

// The proof, from CRIU's log: what CRIU really did.
Status RuncRuntime::ProveDump(const CheckpointOptions& options, const DumpSetup& setup,
                             CheckpointResult& result) {
  MIGRATE_ASSIGN_OR_RETURN(std::string log, ReadFile(result.log_path));
  Result<DumpLogFinding> finding = ParseDumpLog(log);
  if (!finding.ok()) return finding.status().WithContext(result.log_path);
  const ModePlan& plan = setup.plan;
  const std::string& criu_file = setup.criu_file;
  ModeProof& proof = result.dump_mode;
  proof.requested = options.cgroup_mode;
  proof.mechanism = plan.description;
  std::vector<std::string> configs = ConfigFilesParsed(log);
  if (!configs.empty()) {
    proof.mechanism += "; CRIU read config file";
    for (const std::string& c : configs) proof.mechanism += " " + c;
  }
  proof.evidence = finding->evidence;
  result.criu_warnings = CriuWarnings(log);
  result.criu_options = DescribeCriuOptions(options.criu, info_.name, criu_file, log);
  Result<CgroupImageSummary> image = ReadCgroupImage(options.image_dir + "/cgroup.img");
  if (image.ok()) {
    result.cgroup_image_dirs = image->total_dirs;
    proof.evidence += "; cgroup.img: " + std::to_string(image->controllers.size()) +
                      " controllers, " + std::to_string(image->total_dirs) + " dirs";
  } else {
    proof.evidence += "; cgroup.img unreadable: " + image.status().message();
  }
  bool managed = finding->cgroups_managed || (image.ok() && image->total_dirs > 0);
  if (!managed) {
    proof.effective = CgroupMode::kIgnore;
  } else {
    // soft, full and strict dump alike; which of them CRIU was told is the mechanism's.
    proof.effective = plan.expected == CgroupMode::kIgnore ? CgroupMode::kSoft : plan.expected;
  }
  proof.note = plan.note;
  if (proof.effective != proof.requested && proof.effective != plan.expected) {
    proof.note += std::string(proof.note.empty() ? "" : "; ") + "CRIU dumped " +
                  (managed ? "cgroup dirs" : "no cgroup dirs") + " although " +
                  std::string(CgroupModeName(plan.expected)) + " was passed";
  }
  if (managed && proof.effective != CgroupMode::kIgnore) {
    proof.note += std::string(proof.note.empty() ? "" : "; ") +
                  "at dump time CRIU treats soft, full and strict alike (the mode acts on "
                  "restore)";
  }
  return Status::Ok();
}


namespace {
std::string DumpLogPath(const CheckpointOptions& options) { return options.work_dir + "/dump.log"; }
}  // namespace

std::string RuncRuntime::CgroupFreezingDumpLog(const CheckpointOptions& options) const {
  return DumpLogPath(options);
}

CheckpointResult RuncRuntime::NewCheckpointResult(const CheckpointOptions& options) {
  CheckpointResult result;
  result.image_dir = options.image_dir;
  result.work_dir = options.work_dir;
  result.log_path = DumpLogPath(options);
  result.started = std::chrono::system_clock::now();
  return result;
}

Result<CheckpointResult> RuncRuntime::Checkpoint(const CheckpointOptions& options) {
  MIGRATE_ASSIGN_OR_RETURN(DumpSetup setup, PrepareDump(options, {}));
  CheckpointResult result = NewCheckpointResult(options);
  Clock::time_point start = Clock::now();
  Result<ProcessResult> run = RunChecked(*runner_, setup.spec);
  result.checkpoint_duration = Since(start);
  if (!run.ok()) {
    return FailedRun("checkpoint", run.status(), result.log_path)
        .WithContext("checkpoint container " + options.container_id);
  }
  MIGRATE_RETURN_IF_ERROR(ProveDump(options, setup, result));
  return result;
}

Result<RestoreResult> RuncRuntime::Restore(const RestoreOptions& options) {
  const std::string& id = options.container_id;
  Clock::time_point total_start = Clock::now();
  ModePlan plan = PlanRestore(options.cgroup_mode);
  if (!plan.allowed()) {
    return Status::FailedPrecondition(plan.reason).WithContext("restore container " + id);
  }
  Result<ContainerState> existing = State(id);
  if (existing.ok()) {
    return Status::AlreadyExists("container " + id + " already exists (" + existing->status + ")");
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  if (!Exists(options.image_dir + "/inventory.img")) {
    return Status::NotFound("no checkpoint images in " + options.image_dir);
  }

  // The bundle: new cgroupsPath, and org.criu.config naming this container's own file (the
  // restore mode now, and any mode on a later checkpoint of the restored container).
  std::string config_path = options.bundle_dir + "/config.json";
  MIGRATE_ASSIGN_OR_RETURN(OciConfig config, OciConfig::Load(config_path));
  if (options.cgroups_path) config.set_cgroups_path(*options.cgroups_path);
  std::string owned = OwnedConfigPath(id);
  config.set_annotation(kCriuConfigAnnotation, owned);
  // A marked hook in a received bundle is the source's (from its own restore, or forged):
  // never run here. This node adds its own below where it is needed.
  config.RemoveHooks("prestart", kLoopbackHookMarker);
  if (options.bring_up_loopback && config.creates_network_namespace()) {
    // The hook reads the container state (JSON) on stdin; best effort: the check after the
    // restore reports a loopback that is still down.
    std::string script = "# " + std::string(kLoopbackHookMarker) +
                         "\np=$(sed -n 's/.*\"pid\": *\\([0-9][0-9]*\\).*/\\1/p')\n"
                         "[ -n \"$p\" ] && " +
                         ResolveInPath(options_.nsenter_path) + " --net=" + options_.proc_root +
                         "/$p/ns/net " + ResolveInPath(options_.ip_path) +
                         " link set lo up\nexit 0\n";
    config.SetHook("prestart", kLoopbackHookMarker, options_.hook_shell, {"sh", "-c", script},
                   {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  }
  MIGRATE_RETURN_IF_ERROR(MakeDirs(options_.criu_config_dir));
  MIGRATE_RETURN_IF_ERROR(
      WriteFileAtomic(owned, plan.mechanism == ModeMechanism::kCriuConfigFile
                                 ? plan.config_file_text
                                 : "# migrate: no CRIU options for this restore\n"));
  MIGRATE_RETURN_IF_ERROR(config.Save(config_path).WithContext("edit bundle"));
  MIGRATE_RETURN_IF_ERROR(MakeDirs(options.work_dir).WithContext("work dir"));

  ProcessSpec spec;
  spec.argv = Base();
  spec.argv.insert(spec.argv.end(),
                   {"restore", "--detach", "--image-path", options.image_dir, "--work-path",
                    options.work_dir, "--bundle", options.bundle_dir});
  for (const std::string& arg : options.criu.RuntimeArgs()) spec.argv.push_back(arg);
  spec.argv.insert(spec.argv.end(), plan.runtime_args.begin(), plan.runtime_args.end());
  spec.argv.insert(spec.argv.end(), options.extra_args.begin(), options.extra_args.end());
  AppendId(&spec.argv, id);
  spec.timeout = options_.timeout;
  // runc's output is captured for its error messages. The restored tasks get their stdio
  // from the images (a container must run with stdio on /dev/null or pipes, never on files
  // outside it), and the runner stops reading once runc has exited, so a pipe inherited by
  // anything detached cannot block us.
  spec.output = OutputMode::kCapture;

  RestoreResult result;
  result.work_dir = options.work_dir;
  result.log_path = options.work_dir + "/restore.log";
  Clock::time_point start = Clock::now();
  Result<ProcessResult> run = RunChecked(*runner_, spec);
  result.restore_duration = Since(start);
  auto fail = [&](Status status) {
    (void)KillAndDelete(id, options.bundle_dir);
    return status.WithContext("restore container " + id);
  };
  if (!run.ok()) return fail(FailedRun("restore", run.status(), result.log_path));
  result.running_at = std::chrono::system_clock::now();

  // The proof: the restore mode CRIU really ran.
  Result<std::string> log = ReadFile(result.log_path);
  if (!log.ok()) return fail(log.status());
  Result<RestoreLogFinding> finding = ParseRestoreLogMode(*log);
  if (!finding.ok()) return fail(finding.status().WithContext(result.log_path));
  ModeProof& proof = result.restore_mode;
  proof.requested = options.cgroup_mode;
  proof.effective = finding->mode;
  proof.evidence = finding->evidence;
  proof.mechanism = plan.description;
  result.criu_warnings = CriuWarnings(*log);
  std::vector<std::string> configs = ConfigFilesParsed(*log);
  if (!configs.empty()) {
    proof.mechanism += "; CRIU read config file";
    for (const std::string& c : configs) proof.mechanism += " " + c;
  }
  if (proof.effective != proof.requested) {
    return fail(Status::FailedPrecondition(
        "CRIU restored in cgroup mode " + std::string(CgroupModeName(proof.effective)) +
        ", not the requested " + std::string(CgroupModeName(proof.requested)) + " (" +
        proof.mechanism + "): " + proof.evidence + " (log " + result.log_path + ")"));
  }

  Result<ContainerState> state = State(id);
  if (!state.ok()) return fail(state.status());
  if (state->status != "running") {
    return fail(Status::FailedPrecondition("restored container is " + state->status));
  }
  result.init_pid = state->init_pid;
  Result<std::vector<std::string>> cgroups = ProcessCgroups(result.init_pid, options_.proc_root);
  if (!cgroups.ok()) return fail(cgroups.status());
  result.cgroups = *cgroups;
  if (config.creates_namespace("cgroup")) {
    // CRIU up to 4.2.1 skips the container's own cgroup namespace in ignore mode (runc
    // #5417): the tasks would see the host's cgroup paths. Never accept that silently.
    Result<bool> host_ns = SharesHostNamespace(result.init_pid, "cgroup", options_.proc_root);
    if (!host_ns.ok()) return fail(host_ns.status());
    if (*host_ns) {
      return fail(Status::FailedPrecondition(
          "the restored container lost its private cgroup namespace (its tasks are in the "
          "host's, and see host cgroup paths): CRIU " +
          std::string(CgroupModeName(options.cgroup_mode)) + " restore (runc #5417)"));
    }
  }

  if (options.bring_up_loopback) {
    Result<bool> shared = SharesHostNetns(result.init_pid, options_.proc_root);
    if (!shared.ok()) return fail(shared.status());
    if (!*shared) {
      LoopbackTools tools{options_.nsenter_path, options_.ip_path, options_.proc_root};
      Result<LoopbackState> lo = BringUpLoopback(*runner_, result.init_pid, tools);
      if (!lo.ok()) return fail(lo.status());
      if (!lo->up || !lo->has_ipv4) {
        return fail(
            Status::FailedPrecondition("loopback of the restored container is not "
                                       "usable after bringing it up: " +
                                       lo->detail));
      }
      result.loopback = *lo;
    }
  }
  result.total_duration = Since(total_start);
  return result;
}

Status RuncRuntime::KillAndDelete(std::string_view container_id, std::string_view owned_bundle) {
  Result<ContainerState> state = State(container_id);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) return Status::Ok();
    return state.status();
  }
  if (!SameBundle(state->bundle, owned_bundle)) {
    return Status::FailedPrecondition("container " + std::string(container_id) + " runs from " +
                                      state->bundle + ", not from " + std::string(owned_bundle) +
                                      ": not ours, left alone");
  }
  ProcessSpec kill;
  kill.argv = Base();
  kill.argv.push_back("kill");
  AppendId(&kill.argv, container_id);
  kill.argv.push_back("KILL");
  kill.timeout = std::chrono::seconds(30);
  (void)runner_->Run(kill);  // "container not running" is fine
  ProcessSpec del;
  del.argv = Base();
  del.argv.insert(del.argv.end(), {"delete", "--force"});
  AppendId(&del.argv, container_id);
  del.timeout = std::chrono::seconds(60);
  Result<ProcessResult> deleted = runner_->Run(del);
  if (!deleted.ok()) return deleted.status();
  if (!deleted->Succeeded() && deleted->stderr_text.find("does not exist") == std::string::npos) {
    return Status::FailedPrecondition(FormatCommand(del.argv) + ": " + deleted->Describe() + ": " +
                                      deleted->stderr_text);
  }
  return Status::Ok();
}

Status RuncRuntime::Resume(std::string_view container_id) {
  ProcessSpec spec;
  spec.argv = Base();
  spec.argv.push_back("resume");
  AppendId(&spec.argv, container_id);
  spec.timeout = std::chrono::seconds(30);
  return RunChecked(*runner_, spec).status();
}

}  // namespace migrate::runtime
