#include "transfer/stream/staged_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "transfer/base/quote.h"

namespace migrate::transfer {

Status StagingShared::Step(std::string_view name) {
  uint64_t index = steps_.fetch_add(1);
  if (options_.fault_hook) return options_.fault_hook(name, index);
  return Status::Ok();
}

void StagingShared::RecordError(const Status& st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = st;
}

Status StagingShared::error() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void EntryTimes(int64_t sec, uint32_t nsec, struct timespec times[2]) {
  times[0].tv_sec = times[1].tv_sec = sec;
  times[0].tv_nsec = times[1].tv_nsec = nsec < 1'000'000'000 ? nsec : 0;
}

StagedFile::StagedFile(int fd, std::string path, const proto::stream::Entry& e,
                       std::shared_ptr<StagingShared> shared)
    : fd_(fd),
      path_(std::move(path)),
      mode_(e.mode()),
      uid_(e.uid()),
      gid_(e.gid()),
      mtime_sec_(e.mtime_sec()),
      mtime_nsec_(e.mtime_nsec()),
      shared_(std::move(shared)) {}

StagedFile::~StagedFile() {
  if (!shared_->abandoned()) {
    Status st = Finish();
    if (!st.ok()) shared_->RecordError(st);
  }
  if (fd_ >= 0) close(fd_);
}

void StagedFile::set_mtime(int64_t sec, uint32_t nsec) {
  mtime_sec_ = sec;
  mtime_nsec_ = nsec;
}

Status StagedFile::Finish() {
  // Ownership first: chown clears set-id bits, the mode puts them back.
  MIGRATE_RETURN_IF_ERROR(shared_->Step("metadata"));
  if (shared_->options().preserve_ownership && fchown(fd_, uid_, gid_) != 0) {
    return Status::FromErrno("chown " + Quote(path_), errno);
  }
  if (fchmod(fd_, mode_ & 07777) != 0) return Status::FromErrno("chmod " + Quote(path_), errno);
  timespec times[2];
  EntryTimes(mtime_sec_, mtime_nsec_, times);
  if (futimens(fd_, times) != 0) return Status::FromErrno("set times of " + Quote(path_), errno);
  if (!shared_->options().fsync) return Status::Ok();
  MIGRATE_RETURN_IF_ERROR(shared_->Step("sync"));
  if (fdatasync(fd_) != 0) return Status::FromErrno("sync " + Quote(path_), errno);
  return Status::Ok();
}

Status StagedFile::WriteAt(const char* data, size_t size, uint64_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd_, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path_, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status StagedFile::Reserve(uint64_t offset, uint64_t length) {
  if (reserve_unsupported_.load(std::memory_order_relaxed)) return Status::Ok();
  for (;;) {
    if (fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
      return Status::Ok();
    }
    if (errno == EINTR) continue;
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
      reserve_unsupported_.store(true, std::memory_order_relaxed);
      return Status::Ok();
    }
    return Status::FromErrno("allocate " + std::to_string(length) + " bytes at offset " +
                                 std::to_string(offset) + " of " + path_,
                             errno);
  }
}

}  // namespace migrate::transfer
