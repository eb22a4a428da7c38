#include "agent/fence/network_lock.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/fence/executable_path.h"
#include "transfer/base/unique_fd.h"

extern char** environ;

namespace migrate::fence {
namespace {

constexpr auto kProgramTimeout = std::chrono::seconds(10);

constexpr char kUnlockRules[] =
    "*filter\n-D INPUT -j CRIU\n-D OUTPUT -j CRIU\n-F CRIU\n-X CRIU\nCOMMIT\n";

struct Program {
  std::string path;
  std::vector<std::string> args;  // without argv[0]
  std::string input;              // written to its stdin; /dev/null when empty
};

// Waits for `pid`; SIGKILL after kProgramTimeout. The exit code, or -1 when it did not exit.
int WaitWithTimeout(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + kProgramTimeout;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Runs `program` inside `netns_fd`; stdout goes to /dev/null, stderr too when `quiet`.
Result<int> RunInNetns(int netns_fd, const Program& program, bool quiet) {
  transfer::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int pipe_fds[2] = {-1, -1};
  if (devnull.get() < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::FromErrno("prepare " + program.path, errno);
  }
  transfer::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  std::vector<char*> argv{const_cast<char*>(program.path.c_str())};
  for (const std::string& arg : program.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int in_fd = program.input.empty() ? devnull.get() : read_end.get();
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in_fd, 0);
    ::dup2(devnull.get(), 1);
    if (quiet) ::dup2(devnull.get(), 2);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  read_end.reset();
  // The rules are far smaller than a pipe's buffer: this write does not wait for the child.
  if (!program.input.empty())
    (void)!::write(write_end.get(), program.input.data(), program.input.size());
  write_end.reset();
  return WaitWithTimeout(pid);
}

std::string ChildFailure(int code) {
  if (code == 126) return "cannot enter the network namespace";
  if (code == 127) return "cannot run it";
  return "killed or timed out";
}

Status RemoveWith(int netns_fd, const std::string& tool) {
  std::string list = FindExecutable(tool);
  if (list.empty()) return Status::Ok();
  MIGRATE_ASSIGN_OR_RETURN(int probe,
                           RunInNetns(netns_fd, {list, {"-w", "-n", "-L", "CRIU"}, ""}, true));
  if (probe == 126 || probe == 127 || probe < 0) {
    return Status::IoError(list + " in the network namespace: " + ChildFailure(probe));
  }
  if (probe != 0) return Status::Ok();  // no chain CRIU: nothing to remove
  std::string restore = FindExecutable(tool + "-restore");
  if (restore.empty())
    return Status::NotFound(tool + " has a CRIU chain but no " + tool + "-restore");
  MIGRATE_ASSIGN_OR_RETURN(
      int code, RunInNetns(netns_fd, {restore, {"-w", "--noflush"}, kUnlockRules}, false));
  if (code != 0) {
    return Status::IoError(tool + "-restore of the CRIU chain's removal exited with " +
                           std::to_string(code));
  }
  return Status::Ok();
}

}  // namespace

Status RemoveCriuNetworkLock(int netns_fd) {
  for (const char* tool : {"iptables", "ip6tables"}) {
    MIGRATE_RETURN_IF_ERROR(RemoveWith(netns_fd, tool).WithContext("remove CRIU's network lock"));
  }
  return Status::Ok();
}

Status RemoveCriuNetworkLock(const std::string& netns_path) {
  transfer::UniqueFd fd(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno("open network namespace " + netns_path, errno);
  return RemoveCriuNetworkLock(fd.get());
}

}  // namespace migrate::fence
