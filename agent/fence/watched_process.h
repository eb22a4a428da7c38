// A process that is not our child (CRIU's dump, a child of runc), watched through a pidfd: no
// pid reuse can make us wait for, or kill, another process.
#pragma once

#include <sys/types.h>

#include <chrono>

#include "transfer/base/status.h"
#include "transfer/base/unique_fd.h"

namespace migrate::fence {

class WatchedProcess {
 public:
  // A process that is already gone counts as exited. InvalidArgument for pid <= 0.
  static Result<WatchedProcess> Open(pid_t pid);

  // True once the process has exited (at once when it had before Open).
  bool WaitExit(std::chrono::milliseconds timeout);
  // SIGKILL (no error when it is already gone).
  Status Kill();
  // Waits `grace`; when still alive, SIGKILL and waits `grace` again. DeadlineExceeded when it
  // survives both.
  Status Stop(std::chrono::milliseconds grace);

  pid_t pid() const { return pid_; }

 private:
  WatchedProcess(pid_t pid, transfer::UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

  pid_t pid_;
  transfer::UniqueFd pidfd_;  // -1 when the process was gone at Open
};

}  // namespace migrate::fence
