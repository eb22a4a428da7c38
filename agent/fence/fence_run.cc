#include "agent/fence/fence_run.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "agent/fence/cgroup_control.h"
#include "agent/fence/fence_loop.h"
#include "agent/fence/system_actions.h"

namespace migrate::fence {
namespace {

constexpr int kBadOptions = 2;

int Fail(const Status& status) {
  std::cerr << "migrate-fence: " << status.ToString() << "\n";
  return kBadOptions;
}

// Takes ownership of an inherited fd and keeps it from any program the fence runs.
Result<transfer::UniqueFd> AdoptFd(int fd, std::string_view what) {
  int flags = fd >= 0 ? ::fcntl(fd, F_GETFD) : -1;
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
    return Status::InvalidArgument(std::string(what) + " " + std::to_string(fd) +
                                   " is not an open file descriptor");
  }
  return transfer::UniqueFd(fd);
}

Status CheckStateFile(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("--state is empty");
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (!dir.empty() && ::access(dir.c_str(), W_OK) != 0) {
    return Status::FromErrno("--state " + path + ": folder", errno);
  }
  return Status::Ok();
}

// The fence ignores what would end it by accident: a terminal's signals, a closed control
// socket (SIGPIPE). SIGTERM and SIGKILL still end it.
void IgnoreStraySignals() {
  for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGQUIT}) ::signal(sig, SIG_IGN);
}

Result<SourceResources> OpenSource(const SourceOptions& o) {
  if (DetectFreezer(o.freezer) == FreezerKind::kNone) {
    return Status::InvalidArgument("--freezer " + o.freezer +
                                   " has neither freezer.state nor cgroup.freeze");
  }
  MIGRATE_ASSIGN_OR_RETURN(transfer::UniqueFd socket,
                           AdoptFd(o.page_socket_fd, "--page-socket-fd"));
  transfer::UniqueFd netns(::open(o.netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (netns.get() < 0) return Status::FromErrno("--netns " + o.netns, errno);
  MIGRATE_ASSIGN_OR_RETURN(WatchedProcess criu, WatchedProcess::Open(o.criu_pid));
  return SourceResources{std::move(socket), o.freezer, std::move(netns), std::move(criu)};
}

Status CheckDestination(const DestinationOptions& o) {
  if (o.cgroups.empty()) return Status::InvalidArgument("no --cgroup");
  for (const std::string& dir : o.cgroups) {
    // The restore makes it: absent is fine, present it must be a cgroup.
    if (::access(dir.c_str(), F_OK) == 0 && ::access((dir + "/cgroup.procs").c_str(), R_OK) != 0) {
      return Status::InvalidArgument("--cgroup " + dir + " is not a cgroup directory");
    }
  }
  if (o.lease_ms <= 0) return Status::InvalidArgument("--lease-ms must be positive");
  return CheckStateFile(o.state_file);
}

}  // namespace

int RunSourceFence(const SourceOptions& options) {
  Status state_ok = CheckStateFile(options.state_file);
  if (!state_ok.ok()) return Fail(state_ok);
  Result<transfer::UniqueFd> control = AdoptFd(options.control_fd, "--control-fd");
  if (!control.ok()) return Fail(control.status());
  Result<SourceResources> resources = OpenSource(options);
  if (!resources.ok()) return Fail(resources.status());
  IgnoreStraySignals();
  SystemClock clock;
  StateFile state(options.state_file);
  SystemSourceActions actions(std::move(resources).value());
  SourceFence fence(&clock, &state, &actions, options.label, ::getpid());
  return RunFence(fence, clock, control->release());
}

int RunDestinationFence(const DestinationOptions& options) {
  Status checked = CheckDestination(options);
  if (!checked.ok()) return Fail(checked);
  Result<transfer::UniqueFd> control = AdoptFd(options.control_fd, "--control-fd");
  if (!control.ok()) return Fail(control.status());
  IgnoreStraySignals();
  SystemClock clock;
  StateFile state(options.state_file);
  CgroupKiller killer(options.cgroups);
  DestinationFence fence(&clock, &state, &killer, options.label, ::getpid(),
                         std::chrono::milliseconds(options.lease_ms));
  return RunFence(fence, clock, control->release());
}

}  // namespace migrate::fence
