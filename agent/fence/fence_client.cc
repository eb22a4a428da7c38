#include "agent/fence/fence_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <thread>

#include "agent/fence/executable_path.h"

extern char** environ;

namespace migrate::fence {

// The fence's exit status, set by the reaper thread.
struct FenceClient::Reaped {
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::optional<int> code;
};

namespace {

// Above any fd a child is given: the parent's copies are moved here before the child's dup2s,
// so that no source fd is overwritten by an earlier target.
constexpr int kStagingFdBase = 64;

class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
};

std::vector<std::string> Argv(const FenceSpec& spec) {
  std::vector<std::string> argv{spec.binary,
                                spec.role == FenceRole::kSource ? "source" : "destination",
                                "--control-fd", std::to_string(kControlChildFd)};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  return argv;
}

// The child: a session of its own, default signal dispositions and an empty mask (the agent
// blocks or ignores some), only fds 0-2, the control end and the handed fds.
Status PrepareSpawn(SpawnAttributes& sa, const std::vector<int>& staged) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (posix_spawnattr_setflags(&sa.attr, flags) != 0 ||
      posix_spawnattr_setsigdefault(&sa.attr, &all) != 0 ||
      posix_spawnattr_setsigmask(&sa.attr, &none) != 0) {
    return Status::Internal("posix_spawnattr");
  }
  for (size_t i = 0; i < staged.size(); ++i) {
    if (posix_spawn_file_actions_adddup2(&sa.actions, staged[i],
                                         kControlChildFd + static_cast<int>(i)) != 0) {
      return Status::Internal("posix_spawn_file_actions_adddup2");
    }
  }
  if (posix_spawn_file_actions_addclosefrom_np(
          &sa.actions, kControlChildFd + static_cast<int>(staged.size())) != 0) {
    return Status::Internal("posix_spawn_file_actions_addclosefrom_np");
  }
  return Status::Ok();
}

// Copies of `fds` at kStagingFdBase and above, close-on-exec (the child's dup2 clears it).
Result<std::vector<transfer::UniqueFd>> Stage(const std::vector<int>& fds) {
  std::vector<transfer::UniqueFd> staged;
  for (int fd : fds) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, kStagingFdBase);
    if (copy < 0)
      return Status::FromErrno("hand fd " + std::to_string(fd) + " to the fence", errno);
    staged.emplace_back(copy);
  }
  return staged;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<std::unique_ptr<FenceClient>> FenceClient::Spawn(const FenceSpec& spec) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Status::FromErrno("fence control socketpair", errno);
  }
  transfer::UniqueFd ours(pair[0]), theirs(pair[1]);
  std::vector<int> handed{theirs.get()};
  handed.insert(handed.end(), spec.fds.begin(), spec.fds.end());
  MIGRATE_ASSIGN_OR_RETURN(std::vector<transfer::UniqueFd> staged, Stage(handed));
  std::vector<int> staged_fds;
  for (const transfer::UniqueFd& fd : staged) staged_fds.push_back(fd.get());
  SpawnAttributes sa;
  MIGRATE_RETURN_IF_ERROR(PrepareSpawn(sa, staged_fds));
  std::vector<std::string> args = Argv(spec);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, spec.binary.c_str(), &sa.actions, &sa.attr, argv.data(), environ);
  if (err != 0) return Status::FromErrno("spawn " + spec.binary, err);
  auto reaped = std::make_shared<Reaped>();
  std::thread([pid, reaped] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(reaped->mu);
    reaped->code = DecodeWaitStatus(status);
    reaped->cv.notify_all();
  }).detach();
  return std::unique_ptr<FenceClient>(new FenceClient(pid, std::move(ours), std::move(reaped)));
}

FenceClient::FenceClient(pid_t pid, transfer::UniqueFd control, std::shared_ptr<Reaped> reaped)
    : pid_(pid), control_(std::move(control)), reaped_(std::move(reaped)) {}

FenceClient::~FenceClient() = default;  // closes the control fd; the reaper thread runs on

Result<std::string> FenceClient::Ask(std::string_view line, std::string_view want,
                                     std::chrono::milliseconds timeout) {
  MIGRATE_ASSIGN_OR_RETURN(std::string answer, Request(line, timeout));
  if (answer.rfind(want, 0) != 0) {
    return Status::FailedPrecondition("fence answered \"" + answer + "\" to " + std::string(line));
  }
  return answer;
}

Result<std::string> FenceClient::Request(std::string_view line, std::chrono::milliseconds timeout) {
  if (line.find('\n') != std::string_view::npos) {
    return Status::InvalidArgument("a fence command is one line");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::string(line) + "\n";
  if (::send(control_.get(), out.data(), out.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(out.size())) {
    return Status::Unavailable("fence " + std::to_string(pid_) + ": send: " + std::strerror(errno));
  }
  while (true) {
    Result<std::string> answer = ReadLine(deadline);
    if (!answer.ok() && answer.status().code() == StatusCode::kDeadlineExceeded) ++stale_answers_;
    if (!answer.ok() || stale_answers_ == 0) return answer;
    --stale_answers_;  // the answer to a request that timed out earlier
  }
}

Result<std::string> FenceClient::ReadLine(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{control_.get(), POLLIN, 0};
    int n = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0)
      return Status::DeadlineExceeded("fence " + std::to_string(pid_) + ": no answer in time");
    char chunk[512];
    ssize_t got = ::read(control_.get(), chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      return Status::Unavailable("fence " + std::to_string(pid_) + " closed its control socket");
    buffer_.append(chunk, static_cast<size_t>(got));
  }
}

std::optional<int> FenceClient::exit_code() const {
  std::lock_guard<std::mutex> lock(reaped_->mu);
  return reaped_->code;
}

std::optional<int> FenceClient::WaitForExit(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(reaped_->mu);
  reaped_->cv.wait_for(lock, timeout, [&] { return reaped_->code.has_value(); });
  return reaped_->code;
}

Result<std::string> FindFenceBinary() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::string beside = (self.parent_path() / "migrate-fence").string();
    if (IsExecutable(beside)) return beside;
  }
  std::string on_path = FindExecutable("migrate-fence");
  if (!on_path.empty()) return on_path;
  return Status::NotFound("migrate-fence is neither beside " + self.string() + " nor on PATH");
}

}  // namespace migrate::fence
