#include "transfer/stream/fd_reserve.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "transfer/base/log.h"

namespace migrate::transfer {

FdReserve::FdReserve(std::string who, std::chrono::seconds log_interval)
    : who_(std::move(who)), log_interval_(log_interval) {
  Reopen();
}

bool FdReserve::IsExhaustion(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void FdReserve::Reopen() { spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

bool FdReserve::ShedOne(int listen_fd) {
  const int err = errno;
  Log(err);
  if (spare_.get() < 0) {
    Reopen();
    return false;
  }
  spare_.reset();
  int fd = ::accept4(listen_fd, nullptr, nullptr, kAcceptFlags | SOCK_NONBLOCK);
  if (fd >= 0) {
    ::close(fd);
    ++shed_;
  }
  Reopen();
  return fd >= 0;
}

void FdReserve::Log(int err) {
  auto now = Clock::now();
  if (last_log_ != Clock::time_point{} && now - last_log_ < log_interval_) return;
  MIGRATE_LOG(kWarn, "") << who_ << ": accept: " << std::strerror(err)
                         << ": closing new connections at once until descriptors are free ("
                         << (shed_ - shed_at_last_log_) << " shed since the last warning)";
  last_log_ = now;
  shed_at_last_log_ = shed_;
}

}  // namespace migrate::transfer
