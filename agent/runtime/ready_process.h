// A long-running child that says when it is ready with one byte on a status fd (CRIU's and
// runc's --status-fd): `runc checkpoint --lazy-pages` once its page server listens, `criu
// lazy-pages` once its socket for the restore listens. It runs on a thread of its own; the
// caller waits for the byte, then, later, for the end.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/runtime/process_runner.h"
#include "transfer/base/unique_fd.h"

namespace migrate::runtime {

class ReadyProcess {
 public:
  // Runs `spec` with a pipe's write end as the child's fd `status_fd` (added to extra_fds).
  static Result<std::unique_ptr<ReadyProcess>> Start(ProcessRunner& runner, ProcessSpec spec,
                                                     int status_fd);
  ~ReadyProcess();  // waits for the child's end
  ReadyProcess(const ReadyProcess&) = delete;
  ReadyProcess& operator=(const ReadyProcess&) = delete;

  // OK once the byte came; the child's failure when it ended first; DeadlineExceeded when
  // neither happened within `timeout` (the child runs on).
  Status WaitReady(std::chrono::milliseconds timeout);
  // Waits for the child's end; its result as RunChecked words it (a non-zero exit is an error).
  Result<ProcessResult> Wait();
  bool finished() const { return finished_.load(); }
  const ProcessSpec& spec() const { return spec_; }

 private:
  ReadyProcess(ProcessRunner& runner, ProcessSpec spec) : runner_(runner), spec_(std::move(spec)) {}
  ProcessRunner& runner_;
  ProcessSpec spec_;
  transfer::UniqueFd status_read_;
  transfer::UniqueFd status_write_;
  std::atomic<bool> finished_{false};
  std::mutex mu_;
  Result<ProcessResult> result_ = Status::Internal("not run");
  std::thread thread_;
};

}  // namespace migrate::runtime
