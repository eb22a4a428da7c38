#include "agent/fence/system_actions.h"

#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <chrono>

#include "agent/fence/cgroup_control.h"
#include "agent/fence/network_lock.h"
#include "transfer/base/unix_time.h"

namespace migrate::fence {
namespace {

constexpr auto kCriuGrace = std::chrono::milliseconds(2000);
constexpr auto kCriuExitAfterFin = std::chrono::milliseconds(10000);

}  // namespace

int64_t SystemClock::MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

uint64_t SystemClock::UnixMs() { return UnixMillis(std::chrono::system_clock::now()); }

Status StateFile::Write(const FenceState& state) { return WriteFenceState(path_, state); }

Status CgroupKiller::KillCopy() {
  // A cgroup not made (yet) holds no copy: the restore may not have got that far.
  for (const std::string& cgroup : cgroups_) {
    Status killed = KillCgroup(cgroup);
    if (!killed.ok() && killed.code() != StatusCode::kNotFound) return killed;
  }
  return Status::Ok();
}

void SystemSourceActions::ClosePageSocket() { r_.page_socket.reset(); }

Status SystemSourceActions::StopCriu() { return r_.criu.Stop(kCriuGrace).WithContext("stop CRIU"); }

Status SystemSourceActions::UnlockNetwork() { return RemoveCriuNetworkLock(r_.netns.get()); }

Status SystemSourceActions::Thaw() { return ThawCgroup(r_.freezer).WithContext("thaw the source"); }

Status SystemSourceActions::KillTasks() {
  return SignalCgroup(r_.freezer, SIGKILL).WithContext("kill the source's tasks");
}

Status SystemSourceActions::SendFin() {
  linger off{0, 0};
  if (::setsockopt(r_.page_socket.get(), SOL_SOCKET, SO_LINGER, &off, sizeof off) != 0) {
    return Status::FromErrno("clear SO_LINGER on the page socket", errno);
  }
  if (::shutdown(r_.page_socket.get(), SHUT_WR) != 0) {
    return Status::FromErrno("shutdown the page socket", errno);
  }
  return Status::Ok();
}

Status SystemSourceActions::WaitCriuExit() {
  if (r_.criu.WaitExit(kCriuExitAfterFin)) return Status::Ok();
  return Status::DeadlineExceeded("CRIU (pid " + std::to_string(r_.criu.pid()) +
                                  ") did not exit within 10 s of the FIN");
}

}  // namespace migrate::fence
