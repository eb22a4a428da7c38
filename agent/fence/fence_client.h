// The agent's side of a fence: spawns `migrate-fence` in a session of its own (so that it
// survives the agent and the agent's process group being killed), hands it one end of a
// control socketpair and the fds it acts on, and sends it commands.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "transfer/base/status.h"
#include "transfer/base/unique_fd.h"

namespace migrate::fence {

enum class FenceRole { kSource, kDestination };

// The fence's control socket is its fd 3 (`--control-fd 3` is added to the arguments); fds[i]
// becomes its fd kFirstHandedFd + i, which `args` name (e.g. "--page-socket-fd", "4").
struct FenceSpec {
  std::string binary;  // FindFenceBinary()
  FenceRole role = FenceRole::kDestination;
  std::vector<std::string> args;  // after `<role> --control-fd 3`
  std::vector<int> fds;           // the caller keeps its own; the fence gets copies
};

inline constexpr int kControlChildFd = 3;
inline constexpr int kFirstHandedFd = 4;

class FenceClient {
 public:
  // Starts the fence. IoError when the spawn fails; a fence that rejects its options exits 2
  // at once (Request then fails, exit_code() says 2).
  static Result<std::unique_ptr<FenceClient>> Spawn(const FenceSpec& spec);

  // Closes the control socket (the fence runs on to its deadline) and leaves the reaping of the
  // fence to a thread of its own: never blocks.
  ~FenceClient();
  FenceClient(const FenceClient&) = delete;
  FenceClient& operator=(const FenceClient&) = delete;

  // Sends one command line (no newline) and returns the fence's one-line answer. Unavailable
  // when the fence is gone (EOF), DeadlineExceeded after `timeout` (a late answer is skipped
  // by the next Request). Thread-safe: one request at a time.
  Result<std::string> Request(std::string_view line, std::chrono::milliseconds timeout);
  // Request, where the answer must start with `want` (e.g. "OK", "KILLED"): the answer, or
  // FailedPrecondition naming the answer the fence gave instead.
  Result<std::string> Ask(std::string_view line, std::string_view want,
                          std::chrono::milliseconds timeout);

  pid_t pid() const { return pid_; }
  // The fence's exit status once it has exited and been reaped (a signal: 128 + signo).
  std::optional<int> exit_code() const;
  // Waits up to `timeout` for the fence to exit; its exit status, or nullopt.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout) const;

 private:
  struct Reaped;
  FenceClient(pid_t pid, transfer::UniqueFd control, std::shared_ptr<Reaped> reaped);

  Result<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);

  pid_t pid_;
  std::mutex mu_;
  transfer::UniqueFd control_;
  std::string buffer_;     // read past the last answer
  int stale_answers_ = 0;  // answers to requests that timed out, to skip
  std::shared_ptr<Reaped> reaped_;
};

// `migrate-fence` beside the running program (/proc/self/exe), else on $PATH. NotFound when
// neither has it.
Result<std::string> FindFenceBinary();

}  // namespace migrate::fence
