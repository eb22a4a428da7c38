// The container runtime behind the agent (runc now; crun next), and what checkpoint and
// restore return. Every call that reaches runc/CRIU runs through a ProcessRunner.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/criu_options.h"
#include "agent/runtime/mode_plan.h"
#include "agent/runtime/version.h"
#include "proto/agent_api.pb.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

struct RuntimeInfo {
  std::string name;  // "runc" | "crun"
  Version version;
  std::string path;  // resolved executable path
};

struct ContainerState {
  std::string id;
  std::string status;  // runtime's word: "running", "stopped", "paused", "created"
  int init_pid = 0;
  std::string bundle;
};

// Whether two bundle paths name the same folder (trailing slashes aside). A container belongs
// to whoever owns the bundle it runs from.
inline bool SameBundle(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.back() == '/') a.remove_suffix(1);
  while (b.size() > 1 && b.back() == '/') b.remove_suffix(1);
  return !a.empty() && a == b;
}

// The cgroup mode CRIU really ran, with the proof. Mirrors proto::ModeEvidence.
struct ModeProof {
  CgroupMode requested = CgroupMode::kSoft;
  CgroupMode effective = CgroupMode::kSoft;
  std::string evidence;   // the log line (or its absence) that shows it
  std::string mechanism;  // how the mode was passed
  std::string note;
  proto::ModeEvidence ToProto() const;
};

struct CheckpointOptions {
  std::string container_id;
  std::string image_dir;  // created if missing; must be empty
  std::string work_dir;   // created if missing; dump.log is kept here
  CgroupMode cgroup_mode = CgroupMode::kSoft;
  CriuOptions criu;
  bool leave_running = false;
  std::vector<std::string> extra_args;         // appended to `runc checkpoint` (e.g. lazy pages)
  std::vector<std::pair<int, int>> extra_fds;  // see ProcessSpec::extra_fds
};

struct CheckpointResult {
  ModeProof dump_mode;
  std::string image_dir;
  std::string work_dir;
  std::string log_path;                           // dump.log
  int cgroup_image_dirs = -1;                     // dirs in cgroup.img (-1: not read)
  std::chrono::system_clock::time_point started;  // just before the freeze
  std::chrono::milliseconds checkpoint_duration{0};
  std::vector<std::string> criu_warnings;  // what dump.log warned about (CriuWarnings)
  std::vector<std::string> criu_options;   // how each CRIU option reached CRIU (DescribeCriuOptions)
};

struct RestoreOptions {
  std::string container_id;
  std::string image_dir;
  std::string work_dir;    // created if missing; restore.log is kept here
  std::string bundle_dir;  // config.json + rootfs; config.json is edited in place
  CgroupMode cgroup_mode = CgroupMode::kSoft;
  std::optional<std::string> cgroups_path;  // rewrites linux.cgroupsPath when set
  CriuOptions criu;
  bool bring_up_loopback = true;        // runc restores a runtime-created netns with lo DOWN
  std::vector<std::string> extra_args;  // appended to `runc restore`
};

struct LoopbackState {
  bool checked = false;   // false: not asked, or the container shares the host netns
  bool up = false;        // link flag UP
  bool has_ipv4 = false;  // 127.0.0.1 present
  std::string detail;     // the `ip` output that shows it
};

struct RestoreResult {
  ModeProof restore_mode;
  int init_pid = 0;
  std::vector<std::string> cgroups;  // /proc/<pid>/cgroup lines of the restored init
  LoopbackState loopback;
  std::string work_dir;  // where CRIU ran (its stats-restore)
  std::string log_path;  // restore.log
  std::chrono::system_clock::time_point running_at;
  std::chrono::milliseconds restore_duration{0};  // runc restore
  std::chrono::milliseconds total_duration{0};    // incl. config edit and loopback
  std::vector<std::string> criu_warnings;         // what restore.log warned about
};

// A post-copy dump under way (Runtime::StartLazyCheckpoint): CRIU dumps all but the memory
// pages, then serves them from its page server until the destination has them all or the
// connection is cut; the tasks stay seized (and, by the agent, frozen) meanwhile.
class LazyCheckpoint {
 public:
  virtual ~LazyCheckpoint() = default;
  // Once every image but the pages is written and the page server listens: the result so far
  // (the mode proof from CRIU's log; checkpoint_duration up to now). The dump's failure if it
  // ended first.
  virtual Result<CheckpointResult> WaitReady(std::chrono::milliseconds timeout) = 0;
  // Waits for the runtime's end: OK when CRIU served every page and ended the tasks (its
  // success), else the failure with CRIU's log.
  virtual Status Finish() = 0;
};

// Whether this runtime can honour a mode, per side (for Capabilities and preflight).
struct ModeSupport {
  CgroupMode mode = CgroupMode::kSoft;
  bool checkpoint = false;
  bool restore = false;
  std::string mechanism;
  std::string reason;
  proto::CgroupModeSupport ToProto() const;
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  virtual const RuntimeInfo& info() const = 0;

  // The per-mode table (all modes, offered or not).
  virtual std::vector<ModeSupport> ModeSupportTable() const = 0;

  // Preflight: how checkpoint/restore would pass `mode`, or a refusal, without touching
  // the container. PlanCheckpoint reads the container's creation-time annotation.
  virtual Result<ModePlan> PlanCheckpoint(std::string_view container_id, CgroupMode mode) = 0;
  virtual ModePlan PlanRestore(CgroupMode mode) const = 0;

  // NotFound when the runtime does not know the container.
  virtual Result<ContainerState> State(std::string_view container_id) = 0;
  // Every container the runtime knows under its root.
  virtual Result<std::vector<ContainerState>> List() = 0;
  virtual Result<std::vector<int>> Pids(std::string_view container_id) = 0;

  // Checkpoint a running container. FailedPrecondition (nothing frozen) when the plan is
  // refused. The result's dump_mode says what CRIU really ran.
  virtual Result<CheckpointResult> Checkpoint(const CheckpointOptions& options) = 0;

  // Restore detached. FailedPrecondition (nothing changed) when the plan is refused;
  // FailedPrecondition naming the log line when CRIU ran another mode than requested
  // (the restored container is then killed and deleted).
  virtual Result<RestoreResult> Restore(const RestoreOptions& options) = 0;

  // SIGKILL (ignoring "not running"), then delete, only when the runtime reports the
  // container running from `owned_bundle`: a container of that id from another bundle is not
  // the caller's (FailedPrecondition, left alone). OK when the container does not exist.
  virtual Status KillAndDelete(std::string_view container_id, std::string_view owned_bundle) = 0;

  // Thaws a paused (frozen) container, e.g. one an interrupted dump left frozen.
  virtual Status Resume(std::string_view container_id) = 0;

  // CRIU's log of a checkpoint with `options` (written as it runs) when CRIU freezes the
  // container with its freezer cgroup, so that the agent may freeze it first (the early
  // freeze, agent/early_freeze.h); "" when this runtime's CRIU may seize with ptrace alone,
  // which a frozen task would never answer.
  virtual std::string CgroupFreezingDumpLog(const CheckpointOptions& options) const {
    (void)options;
    return "";
  }

  // Post-copy: a checkpoint whose page server listens on 127.0.0.1:`page_server_port`.
  // Why not, when this runtime cannot (FailedPrecondition, nothing frozen).
  virtual Result<std::unique_ptr<LazyCheckpoint>> StartLazyCheckpoint(
      const CheckpointOptions& options, uint16_t page_server_port) {
    (void)options;
    (void)page_server_port;
    return Status::FailedPrecondition(info().name + " cannot run a post-copy checkpoint");
  }
};

}  // namespace migrate::runtime
