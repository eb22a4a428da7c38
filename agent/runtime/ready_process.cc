#include "agent/runtime/ready_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace migrate::runtime {

Result<std::unique_ptr<ReadyProcess>> ReadyProcess::Start(ProcessRunner& runner, ProcessSpec spec,
                                                          int status_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  std::unique_ptr<ReadyProcess> p(new ReadyProcess(runner, std::move(spec)));
  p->status_read_.reset(fds[0]);
  p->status_write_.reset(fds[1]);
  p->spec_.extra_fds.emplace_back(status_fd, fds[1]);
  ReadyProcess* self = p.get();
  self->thread_ = std::thread([self] {
    Result<ProcessResult> r = RunChecked(self->runner_, self->spec_);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->result_ = std::move(r);
    }
    self->finished_.store(true);
  });
  return p;
}

ReadyProcess::~ReadyProcess() {
  if (thread_.joinable()) thread_.join();
}

Status ReadyProcess::WaitReady(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{status_read_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 100);
    if (n > 0) {
      char byte = 1;
      ssize_t got = ::read(status_read_.get(), &byte, 1);
      if (got == 1) return Status::Ok();
    }
    if (finished_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!result_.ok()) return result_.status();
      return Status::FailedPrecondition(FormatCommand(spec_.argv) +
                                        " ended without saying it was ready");
    }
  }
  return Status::DeadlineExceeded(FormatCommand(spec_.argv) + " not ready after " +
                                  std::to_string(timeout.count()) + " ms");
}

Result<ProcessResult> ReadyProcess::Wait() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

}  // namespace migrate::runtime
