#include "agent/runtime/mode_plan.h"

#include "agent/runtime/criu_log.h"

namespace migrate::runtime {
namespace {

// runc >= 1.3.0 always sends --manage-cgroups-mode to CRIU (runc PR #4546).
bool RuncSendsEveryFlagMode(const Version& runc) { return runc.AtLeast(1, 3, 0); }

// Modes runc's --manage-cgroups-mode parser accepts at all (none/props never).
bool RuncFlagKnows(CgroupMode mode) {
  return mode == CgroupMode::kIgnore || mode == CgroupMode::kSoft || mode == CgroupMode::kFull ||
         mode == CgroupMode::kStrict;
}

void UseFlag(ModePlan* plan, const std::string& runtime = "runc") {
  plan->mechanism = ModeMechanism::kRuntimeFlag;
  plan->runtime_args = {"--manage-cgroups-mode", std::string(CgroupModeName(plan->requested))};
  plan->description =
      runtime + " flag --manage-cgroups-mode " + std::string(CgroupModeName(plan->requested));
}

void Refuse(ModePlan* plan, std::string reason) {
  plan->mechanism = ModeMechanism::kRefused;
  plan->reason = std::move(reason);
}

void UseConfigFile(ModePlan* plan, const std::string& why) {
  plan->mechanism = ModeMechanism::kCriuConfigFile;
  plan->config_file_text = CriuConfigForMode(plan->requested);
  plan->description =
      "CRIU config file \"manage-cgroups=" + std::string(CgroupModeName(plan->requested)) +
      "\" named by the org.criu.config annotation (" + why + ")";
}

}  // namespace

Status ModePlan::ToStatus() const {
  if (allowed()) return Status::Ok();
  return Status::FailedPrecondition(reason);
}

std::string_view ModeMechanismName(ModeMechanism mechanism) {
  switch (mechanism) {
    case ModeMechanism::kRefused:
      return "refused";
    case ModeMechanism::kRuntimeFlag:
      return "runtime flag";
    case ModeMechanism::kCriuConfigFile:
      return "CRIU config file via org.criu.config";
    case ModeMechanism::kRuntimeDefault:
      return "runtime default";
  }
  return "unknown";
}

ModePlan PlanRuncRestore(const Version& runc, CgroupMode mode) {
  ModePlan plan;
  plan.requested = mode;
  plan.expected = mode;
  if (mode == CgroupMode::kStrict) {
    Refuse(&plan,
           "cgroup mode strict cannot be honoured on restore under runc " + runc.ToString() +
           ": runc creates and enters "
           "the container's cgroup before CRIU runs, and CRIU's strict mode aborts on any "
           "existing cgroup (\"cg: Abort restore of existing cgroups\"); use soft or full, or "
           "ignore with a new cgroup path");
    return plan;
  }
  if (RuncSendsEveryFlagMode(runc) && RuncFlagKnows(mode)) {
    UseFlag(&plan);
  } else if (RuncFlagKnows(mode)) {
    UseConfigFile(&plan, "runc " + runc.ToString() + " does not pass the restore mode to CRIU");
  } else {
    UseConfigFile(&plan, "runc has no flag value for " + std::string(CgroupModeName(mode)));
  }
  return plan;
}

ModePlan PlanRuncCheckpoint(const Version& runc, CgroupMode mode, bool owned_config_file) {
  ModePlan plan;
  plan.requested = mode;
  plan.expected = mode;
  // runc 1.1 rejects ignore on checkpoint; 1.2 accepts it but drops it (0 in CRIU's enum);
  // soft/full/strict are non-zero and reach CRIU on every version.
  bool flag_works =
      RuncFlagKnows(mode) && (mode != CgroupMode::kIgnore || RuncSendsEveryFlagMode(runc));
  if (flag_works) {
    UseFlag(&plan);
    return plan;
  }
  std::string why = RuncFlagKnows(mode)
                        ? "runc " + runc.ToString() + " cannot pass " +
                              std::string(CgroupModeName(mode)) + " on checkpoint"
                        : "runc has no flag value for " + std::string(CgroupModeName(mode));
  if (owned_config_file) {
    UseConfigFile(&plan, why + "; the container was created with a migrate-owned file");
    return plan;
  }
  // No way to reach CRIU: runc sends manage_cgroups=true, which CRIU runs as soft. The dump
  // still proceeds: the restore mode governs, and soft images restore in every mode.
  plan.mechanism = ModeMechanism::kRuntimeDefault;
  plan.expected = CgroupMode::kSoft;
  plan.description = "runc default (manage_cgroups=true: soft)";
  plan.note = "dump side cannot run " + std::string(CgroupModeName(mode)) + ": " + why +
              ", and the container was not created with an org.criu.config annotation naming "
              "a migrate-owned CRIU config file, so CRIU dumps in soft; the images restore in " +
              std::string(CgroupModeName(mode)) + " all the same (the restore mode governs)";
  return plan;
}

ModePlan PlanCrunRestore(const Version& crun, CgroupMode mode) {
  ModePlan plan;
  plan.requested = mode;
  plan.expected = mode;
  if (crun.AtLeast(1, 30, 0) && RuncFlagKnows(mode) && mode != CgroupMode::kStrict) {
    UseFlag(&plan, "crun");  // crun PR #2241: restore reads the flag
    return plan;
  }
  if (crun.AtLeast(1, 26, 0) && mode != CgroupMode::kStrict) {
    UseConfigFile(&plan, "crun " + crun.ToString() + " resets the restore flag to soft");
    return plan;
  }
  if (mode == CgroupMode::kSoft) {
    plan.mechanism = ModeMechanism::kRuntimeDefault;
    plan.description = "crun default (restore always runs soft)";
    return plan;
  }
  Refuse(&plan,
         "crun " + crun.ToString() + " restores in soft whatever mode is asked (it resets "
         "--manage-cgroups-mode before use; fixed after crun 1.29.1) and reads no CRIU config "
         "file before 1.26, so " + std::string(CgroupModeName(mode)) +
         " cannot be honoured on restore" +
         (mode == CgroupMode::kIgnore
              ? " (ignore into a new cgroup path fails: CRIU looks for the old one); use soft "
                "with --cgroup-path to move the container into a new cgroup"
              : "; use soft"));
  return plan;
}

ModePlan PlanCrunCheckpoint(const Version& crun, CgroupMode mode) {
  ModePlan plan;
  plan.requested = mode;
  plan.expected = mode;
  if (RuncFlagKnows(mode)) {
    UseFlag(&plan, "crun");
    return plan;
  }
  if (crun.AtLeast(1, 26, 0)) {
    UseConfigFile(&plan, "crun has no flag value for " + std::string(CgroupModeName(mode)));
    return plan;
  }
  plan.mechanism = ModeMechanism::kRuntimeDefault;
  plan.expected = CgroupMode::kSoft;
  plan.description = "crun default (soft)";
  plan.note = "dump side cannot run " + std::string(CgroupModeName(mode)) + " through crun " +
              crun.ToString() + " (no flag value, no config file): CRIU dumps in soft; the "
              "images restore in the requested mode all the same where the restore can";
  return plan;
}

ModePlan PlanRestoreFor(const std::string& runtime, const Version& version, CgroupMode mode) {
  return runtime == "crun" ? PlanCrunRestore(version, mode) : PlanRuncRestore(version, mode);
}

ModePlan PlanCheckpointFor(const std::string& runtime, const Version& version, CgroupMode mode,
                           bool owned_config_file) {
  return runtime == "crun" ? PlanCrunCheckpoint(version, mode)
                           : PlanRuncCheckpoint(version, mode, owned_config_file);
}

}  // namespace migrate::runtime
