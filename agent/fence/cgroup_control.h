// The cgroup operations of the fences, on cgroup v1 (freezer.state) and v2 (cgroup.freeze,
// cgroup.kill) directories alike. A directory is named as mounted, e.g.
// /sys/fs/cgroup/freezer/<path> (v1) or /sys/fs/cgroup/unified/<path> (v2).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::fence {

enum class FreezerKind { kNone, kV1, kV2 };

// kV1 when DIR has freezer.state, kV2 when it has cgroup.freeze, else kNone.
FreezerKind DetectFreezer(const std::string& dir);

// FailedPrecondition when DIR has no freezer. Freeze waits (up to `settle`) until the kernel
// reports the cgroup frozen and fails when it does not.
Status FreezeCgroup(const std::string& dir,
                    std::chrono::milliseconds settle = std::chrono::milliseconds(1000));
Status ThawCgroup(const std::string& dir);

// The processes of DIR (cgroup.procs, else tasks).
Result<std::vector<pid_t>> CgroupPids(const std::string& dir);

// Sends `sig` to every process of DIR (a process already gone is no error).
Status SignalCgroup(const std::string& dir, int sig);

// Kills every task of DIR and verifies it: cgroup.kill where the kernel has it, else freeze
// (when DIR has a freezer), SIGKILL every process, thaw. DeadlineExceeded when processes are
// still listed after `verify`.
Status KillCgroup(const std::string& dir,
                  std::chrono::milliseconds verify = std::chrono::milliseconds(2000));

}  // namespace migrate::fence
