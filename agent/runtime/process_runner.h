// Spawning other programs (runc, criu, ip, nsenter): an interface so that unit tests use a
// fake and the real implementation is tested for real. No shell is ever involved.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::runtime {

// What to do with the child's stdout/stderr.
enum class OutputMode {
  kCapture,  // read through a pipe into ProcessResult (the default)
  kDevNull,  // /dev/null: for `runc run -d` / `runc restore -d`, whose container would
             // otherwise inherit the pipe and block us until it exits
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  // Extra environment (NAME=value) on top of the inherited one.
  std::vector<std::string> extra_env;
  std::optional<std::string> stdin_data;  // nullopt: stdin is /dev/null
  OutputMode output = OutputMode::kCapture;
  // Parent fds handed to the child at the given child fd numbers (child_fd >= 3),
  // e.g. runc's --status-fd.
  std::vector<std::pair<int /*child_fd*/, int /*parent_fd*/>> extra_fds;
  // Killed with SIGKILL when it runs longer (zero or negative: no limit).
  std::chrono::milliseconds timeout{0};
  std::string cwd;  // empty: inherit
};

struct ProcessResult {
  int exit_code = -1;   // valid when term_signal == 0 and !timed_out
  int term_signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
  std::chrono::milliseconds duration{0};

  bool Succeeded() const { return !timed_out && term_signal == 0 && exit_code == 0; }
  // "exit status 1", "killed by signal 9", "timed out after 5000 ms".
  std::string Describe() const;
};

// "runc --root /run/x restore -d ..." (quoted where needed) for logs and messages.
std::string FormatCommand(const std::vector<std::string>& argv);

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs to completion (or timeout). A non-zero exit is NOT an error here: it is in the
  // result. Errors: spawn failure (NotFound when the program does not exist, IoError).
  virtual Result<ProcessResult> Run(const ProcessSpec& spec) = 0;
};

// Runs `spec` and turns a non-zero exit, a signal or a timeout into an error that names the
// command and carries the tail of stderr (and stdout if stderr is empty).
Result<ProcessResult> RunChecked(ProcessRunner& runner, const ProcessSpec& spec);

}  // namespace migrate::runtime
