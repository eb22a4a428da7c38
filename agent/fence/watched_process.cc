#include "agent/fence/watched_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace migrate::fence {

Result<WatchedProcess> WatchedProcess::Open(pid_t pid) {
  if (pid <= 0) return Status::InvalidArgument("no such process id " + std::to_string(pid));
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0 && errno != ESRCH)
    return Status::FromErrno("pidfd_open " + std::to_string(pid), errno);
  return WatchedProcess(pid, transfer::UniqueFd(fd));
}

bool WatchedProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pidfd_.get() < 0) return true;
  pollfd p{pidfd_.get(), POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

Status WatchedProcess::Kill() {
  if (pidfd_.get() < 0) return Status::Ok();
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0) != 0 && errno != ESRCH) {
    return Status::FromErrno("kill " + std::to_string(pid_), errno);
  }
  return Status::Ok();
}

Status WatchedProcess::Stop(std::chrono::milliseconds grace) {
  if (WaitExit(grace)) return Status::Ok();
  MIGRATE_RETURN_IF_ERROR(Kill());
  if (WaitExit(grace)) return Status::Ok();
  return Status::DeadlineExceeded("process " + std::to_string(pid_) + " survived SIGKILL for " +
                                  std::to_string(grace.count()) + " ms");
}

}  // namespace migrate::fence
