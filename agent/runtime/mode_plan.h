// How a requested cgroup mode reaches CRIU through a runtime of a given version, or why it
// cannot. Pure functions: decided before anything is frozen or changed.
//
// runc (see docs/runtime.md):
//   >= 1.3.0  --manage-cgroups-mode passes every mode, ignore included (runc PR #4546).
//   1.1, 1.2  restore never sends the mode (1.1 does not read the flag; 1.2 drops ignore,
//             which is 0 in CRIU's enum): a CRIU config file named by the bundle's
//             org.criu.config annotation, "manage-cgroups=<mode>", is applied by CRIU
//             last and wins. On checkpoint the flag carries soft/full/strict; ignore (and
//             none/props) needs the config file, and runc reads the annotation of the
//             running container as it was created, so only a container created with an
//             annotation naming a file migrate may write can dump in ignore.
//   all       restore in strict is impossible: runc creates the container's cgroup before
//             CRIU runs, and strict aborts on an existing cgroup.
#pragma once

#include <string>
#include <vector>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/version.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

enum class ModeMechanism {
  kRefused,         // no mechanism can honour the mode
  kRuntimeFlag,     // the runtime's own flag passes the mode to CRIU
  kCriuConfigFile,  // a CRIU config file named by the org.criu.config annotation
  kRuntimeDefault,  // nothing passed: the runtime's default (runc: soft) runs
};
std::string_view ModeMechanismName(ModeMechanism mechanism);

struct ModePlan {
  CgroupMode requested = CgroupMode::kSoft;
  ModeMechanism mechanism = ModeMechanism::kRefused;
  // What CRIU will run. Differs from `requested` only on a checkpoint whose dump side
  // cannot run the mode (then `note` says so); a restore plan never differs.
  CgroupMode expected = CgroupMode::kSoft;
  std::vector<std::string> runtime_args;  // e.g. {"--manage-cgroups-mode", "full"}
  std::string config_file_text;           // for kCriuConfigFile: "manage-cgroups=ignore\n"
  std::string description;                // "runc flag --manage-cgroups-mode full", ...
  std::string reason;                     // kRefused: why; otherwise empty
  std::string note;                       // e.g. dump side runs soft: images carry soft

  bool allowed() const { return mechanism != ModeMechanism::kRefused; }
  // OK when allowed; else FailedPrecondition carrying `reason` (for preflight answers).
  Status ToStatus() const;
};

// crun (measured with 1.21, docs/runtime-measurements.md; later versions from their
// changelogs, each plan's mechanism says so):
//   checkpoint  --manage-cgroups-mode passes every flag mode (ignore dumps no cgroup).
//   restore     before 1.30 the parsed mode is reset to soft before use (src/restore.c), and
//               before 1.26 no org.criu.config is read: only soft can be honoured; ignore
//               into a new cgroup path fails outright. 1.26-1.29 read the annotation's
//               config file, which CRIU applies last; 1.30 (crun PR #2241) passes the flag.
ModePlan PlanCrunRestore(const Version& crun, CgroupMode mode);
ModePlan PlanCrunCheckpoint(const Version& crun, CgroupMode mode);

// By the runtime's name ("runc" or "crun") and version.
ModePlan PlanRestoreFor(const std::string& runtime, const Version& version, CgroupMode mode);
ModePlan PlanCheckpointFor(const std::string& runtime, const Version& version, CgroupMode mode,
                           bool owned_config_file);

// Restore through runc `version`.
ModePlan PlanRuncRestore(const Version& runc, CgroupMode mode);

// Checkpoint through runc `version` of a running container. `owned_config_file`: the
// container was created with org.criu.config naming a file that migrate may rewrite for
// this checkpoint (see RuncRuntime). Otherwise the annotation is absent or names another
// file (runc then passes that file or /etc/criu/runc.conf, which migrate never rewrites: it
// is global), and modes the flag cannot carry dump in soft, said in the plan's note.
ModePlan PlanRuncCheckpoint(const Version& runc, CgroupMode mode, bool owned_config_file);

}  // namespace migrate::runtime
