#include "agent/fence/cgroup_control.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "transfer/base/unique_fd.h"

namespace migrate::fence {
namespace {

// A freeze settles within a millisecond or two; the post-copy freeze is downtime.
constexpr auto kPollInterval = std::chrono::milliseconds(1);

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Status WriteControl(const std::string& path, std::string_view value) {
  transfer::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno("open " + path, errno);
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size())) {
    return Status::FromErrno("write \"" + std::string(value) + "\" to " + path, errno);
  }
  return Status::Ok();
}

// The first line of `path`, or of the "key value" line of `key` when key is not empty.
std::string ReadValue(const std::string& path, const std::string& key = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (key.empty()) return line;
    if (line.rfind(key + " ", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

bool IsFrozen(const std::string& dir, FreezerKind kind) {
  if (kind == FreezerKind::kV1) return ReadValue(dir + "/freezer.state") == "FROZEN";
  return ReadValue(dir + "/cgroup.events", "frozen") == "1";
}

template <typename Pred>
bool PollFor(Pred done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

// A cgroup that was removed has no processes (the kernel refuses to remove one that has).
bool Empty(const std::string& dir) {
  if (!Exists(dir)) return true;
  Result<std::vector<pid_t>> pids = CgroupPids(dir);
  return pids.ok() && pids->empty();
}

// Without cgroup.kill: every process gets SIGKILL while the cgroup is frozen (no fork escapes),
// and dies once thawed.
Status SignalFrozen(const std::string& dir) {
  bool freezable = DetectFreezer(dir) != FreezerKind::kNone;
  if (freezable) MIGRATE_RETURN_IF_ERROR(FreezeCgroup(dir));
  Status signalled = SignalCgroup(dir, SIGKILL);
  if (freezable) MIGRATE_RETURN_IF_ERROR(ThawCgroup(dir));
  return signalled;
}

}  // namespace

FreezerKind DetectFreezer(const std::string& dir) {
  if (Exists(dir + "/freezer.state")) return FreezerKind::kV1;
  if (Exists(dir + "/cgroup.freeze")) return FreezerKind::kV2;
  return FreezerKind::kNone;
}

Status FreezeCgroup(const std::string& dir, std::chrono::milliseconds settle) {
  FreezerKind kind = DetectFreezer(dir);
  if (kind == FreezerKind::kNone) return Status::FailedPrecondition("no freezer in " + dir);
  MIGRATE_RETURN_IF_ERROR(kind == FreezerKind::kV1 ? WriteControl(dir + "/freezer.state", "FROZEN")
                                                   : WriteControl(dir + "/cgroup.freeze", "1"));
  if (!PollFor([&] { return IsFrozen(dir, kind); }, settle)) {
    return Status::DeadlineExceeded("freeze " + dir + ": not frozen after " +
                                    std::to_string(settle.count()) + " ms");
  }
  return Status::Ok();
}

Status ThawCgroup(const std::string& dir) {
  switch (DetectFreezer(dir)) {
    case FreezerKind::kV1:
      return WriteControl(dir + "/freezer.state", "THAWED");
    case FreezerKind::kV2:
      return WriteControl(dir + "/cgroup.freeze", "0");
    case FreezerKind::kNone:
      break;
  }
  return Status::FailedPrecondition("no freezer in " + dir);
}

Result<std::vector<pid_t>> CgroupPids(const std::string& dir) {
  std::string path = dir + "/cgroup.procs";
  if (!Exists(path)) path = dir + "/tasks";
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::vector<pid_t> pids;
  for (long pid = 0; in >> pid;) pids.push_back(static_cast<pid_t>(pid));
  if (!in.eof()) return Status::IoError("malformed " + path);
  return pids;
}

Status SignalCgroup(const std::string& dir, int sig) {
  MIGRATE_ASSIGN_OR_RETURN(std::vector<pid_t> pids, CgroupPids(dir));
  for (pid_t pid : pids) {
    if (::kill(pid, sig) != 0 && errno != ESRCH) {
      return Status::FromErrno("kill " + std::to_string(pid), errno);
    }
  }
  return Status::Ok();
}

Status KillCgroup(const std::string& dir, std::chrono::milliseconds verify) {
  if (!Exists(dir)) return Status::NotFound("no cgroup " + dir);
  bool has_kill = Exists(dir + "/cgroup.kill");
  MIGRATE_RETURN_IF_ERROR(has_kill ? WriteControl(dir + "/cgroup.kill", "1") : SignalFrozen(dir));
  auto gone = [&] {
    if (Empty(dir)) return true;
    // Again for what is still listed: a cgroup without a freezer lets a fork slip through.
    if (!has_kill) (void)SignalCgroup(dir, SIGKILL);
    return false;
  };
  if (!PollFor(gone, verify)) {
    return Status::DeadlineExceeded("kill " + dir + ": processes left after " +
                                    std::to_string(verify.count()) + " ms");
  }
  return Status::Ok();
}

}  // namespace migrate::fence
