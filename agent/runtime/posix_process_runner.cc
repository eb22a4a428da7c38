#include "agent/runtime/posix_process_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "transfer/base/unique_fd.h"

extern char** environ;

namespace migrate::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using Fd = transfer::UniqueFd;

Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  read_end->reset(fds[0]);
  write_end->reset(fds[1]);
  return Status::Ok();
}

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Reads what is available; false at EOF or on a hard error.
bool DrainInto(int fd, std::string* out) {
  std::array<char, 16384> buf;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      out->append(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// posix_spawn attributes and file actions, released on scope exit.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// After stdio and the extra fds are in place, the child closes every other descriptor: the
// agent's sockets, pipes and files must never reach runc or CRIU, whatever their
// close-on-exec flag (a socket accepted without SOCK_CLOEXEC, one opened by a library, one
// caught between creation and fcntl by a concurrent spawn). A close of a number that is not
// open is ignored by posix_spawn; closefrom uses close_range(2).
void CloseAllButPassed(posix_spawn_file_actions_t* actions,
                       const std::vector<std::pair<int, int>>& extra_fds) {
  int highest = 2;
  for (const auto& [child_fd, parent_fd] : extra_fds) highest = std::max(highest, child_fd);
  for (int fd = 3; fd < highest; ++fd) {
    bool passed = std::any_of(extra_fds.begin(), extra_fds.end(),
                              [fd](const auto& extra) { return extra.first == fd; });
    if (!passed) posix_spawn_file_actions_addclose(actions, fd);
  }
  posix_spawn_file_actions_addclosefrom_np(actions, highest + 1);
}

}  // namespace

Result<ProcessResult> PosixProcessRunner::Run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("empty argv");
  for (const auto& [child_fd, parent_fd] : spec.extra_fds) {
    if (child_fd < 3 || parent_fd < 0) {
      return Status::InvalidArgument("extra fd " + std::to_string(child_fd) + " <- " +
                                     std::to_string(parent_fd) + ": child fd must be >= 3");
    }
  }

  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  if (spec.stdin_data) MIGRATE_RETURN_IF_ERROR(MakePipe(&in_read, &in_write));
  if (spec.output == OutputMode::kCapture) {
    MIGRATE_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
    MIGRATE_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));
  }
  // Copies of the extra fds above any fd the child uses, so that dup2 onto the child's number
  // always clears close-on-exec (dup2 of an fd onto itself would not).
  std::vector<Fd> extra_copies;
  for (const auto& [child_fd, parent_fd] : spec.extra_fds) {
    int copy = ::fcntl(parent_fd, F_DUPFD_CLOEXEC, 1000);
    if (copy < 0) return Status::FromErrno("dup extra fd " + std::to_string(parent_fd), errno);
    extra_copies.emplace_back(copy);
  }

  SpawnSetup setup;
  if (spec.stdin_data) {
    posix_spawn_file_actions_adddup2(&setup.actions, in_read.get(), 0);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (spec.output == OutputMode::kCapture) {
    posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), 2);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&setup.actions, 2, "/dev/null", O_WRONLY, 0);
  }
  for (size_t i = 0; i < spec.extra_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&setup.actions, extra_copies[i].get(),
                                     spec.extra_fds[i].first);
  }
  CloseAllButPassed(&setup.actions, spec.extra_fds);
  if (!spec.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());
  }
  // The child gets a clean signal mask, default SIGPIPE, and its own process group (so that a
  // timeout kills everything it started).
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&setup.attr, &empty);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) envp.push_back(*e);
  for (const std::string& e : spec.extra_env) env_storage.push_back(e);
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage(spec.argv);
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const Clock::time_point start = Clock::now();
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) {
    if (rc == ENOENT) return Status::NotFound("program not found: " + spec.argv[0]);
    return Status::FromErrno("spawn " + spec.argv[0], rc);
  }
  in_read.reset();
  out_write.reset();
  err_write.reset();
  extra_copies.clear();

  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Status::FromErrno("pidfd_open", err);
  }

  ProcessResult result;
  size_t stdin_written = 0;
  if (in_write.get() >= 0) SetNonBlocking(in_write.get());
  if (out_read.get() >= 0) SetNonBlocking(out_read.get());
  if (err_read.get() >= 0) SetNonBlocking(err_read.get());

  // Block SIGPIPE in this thread while we write stdin: a child that exits early must not
  // kill us. Any SIGPIPE raised meanwhile is consumed before the mask is restored.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

  bool exited = false;
  int wait_status = 0;
  while (!exited) {
    int timeout_ms = -1;
    if (spec.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + spec.timeout -
                                                                        Clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &wait_status, 0);
        exited = true;
        break;
      }
      timeout_ms = static_cast<int>(left.count());
    }
    std::vector<pollfd> fds;
    fds.push_back({pidfd.get(), POLLIN, 0});
    if (out_read.get() >= 0) fds.push_back({out_read.get(), POLLIN, 0});
    if (err_read.get() >= 0) fds.push_back({err_read.get(), POLLIN, 0});
    if (in_write.get() >= 0) fds.push_back({in_write.get(), POLLOUT, 0});
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      int err = errno;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
      return Status::FromErrno("poll", err);
    }
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == out_read.get()) {
        if (!DrainInto(p.fd, &result.stdout_text)) out_read.reset();
      } else if (p.fd == err_read.get()) {
        if (!DrainInto(p.fd, &result.stderr_text)) err_read.reset();
      } else if (p.fd == in_write.get()) {
        const std::string& data = *spec.stdin_data;
        ssize_t w = (p.revents & POLLOUT)
                        ? ::write(p.fd, data.data() + stdin_written, data.size() - stdin_written)
                        : -1;
        if (w > 0) stdin_written += static_cast<size_t>(w);
        if (w < 0 && errno == EAGAIN) continue;
        if (w < 0 || stdin_written == data.size()) in_write.reset();
      } else if (p.fd == pidfd.get()) {
        if (::waitpid(pid, &wait_status, 0) == pid) exited = true;
      }
    }
  }
  // The child is gone. Take what its pipes still hold, but do not wait for EOF: a
  // grandchild (a detached container) may keep them open forever.
  if (out_read.get() >= 0) DrainInto(out_read.get(), &result.stdout_text);
  if (err_read.get() >= 0) DrainInto(err_read.get(), &result.stderr_text);
  in_write.reset();
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);

  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (!result.timed_out) {
    if (WIFEXITED(wait_status)) {
      result.exit_code = WEXITSTATUS(wait_status);
    } else if (WIFSIGNALED(wait_status)) {
      result.term_signal = WTERMSIG(wait_status);
    }
  }
  return result;
}

}  // namespace migrate::runtime
