// A regular file of a staging tree while its chunks arrive, and what the tree shares with its
// files. A file is finished (ownership, mode, times, fdatasync) when its last user lets go
// of it: the receiver at its ENTRY_END, or the chunk writer that wrote its last chunk. So the
// receiver keeps nothing of a file once it is complete: its memory does not grow with the
// number of files (docs/transfer.md).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "proto/stream.pb.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

struct StagingOptions {
  bool preserve_ownership = true;       // chown entries to the sender's uid/gid (needs root)
  bool fsync = true;                    // fdatasync files, fsync directories
  uint64_t max_kept_bytes = 64u << 20;  // directory records kept until the end
  FaultHook fault_hook;                 // tests only
};

// Shared by a staging tree and its files (a file may be finished on a writer thread).
class StagingShared {
 public:
  explicit StagingShared(StagingOptions options) : options_(std::move(options)) {}
  const StagingOptions& options() const { return options_; }
  // One file-system step: the fault hook's chance to fail it.
  Status Step(std::string_view name);
  // Files still to be finished after this are not (the tree is being removed).
  void Abandon() { abandoned_.store(true); }
  bool abandoned() const { return abandoned_.load(); }
  void RecordError(const Status& st);
  Status error();

 private:
  const StagingOptions options_;
  std::atomic<uint64_t> steps_{0};
  std::atomic<bool> abandoned_{false};
  std::mutex mu_;
  Status error_;
};

class StagedFile {
 public:
  // Owns `fd`. `e` gives the metadata the file gets when it is finished.
  StagedFile(int fd, std::string path, const proto::stream::Entry& e,
             std::shared_ptr<StagingShared> shared);
  ~StagedFile();  // finishes the file (errors go to the shared state), then closes it
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // pwrite all of it; kIoError naming the file.
  Status WriteAt(const char* data, size_t size, uint64_t offset);
  // Allocates disk blocks for [offset, offset + length) without changing the file size
  // (fallocate, FALLOC_FL_KEEP_SIZE). A chunk whose zero pages stay holes is then written
  // into one allocated range rather than as many separate delayed allocations: on ext4 that
  // costs about a third less CPU, here and at writeback (docs/benchmarks.md). Pages left
  // unwritten read as zeros. Where the file system cannot do it, a no-op from then on; any
  // other failure (no space) is kIoError naming the file.
  Status Reserve(uint64_t offset, uint64_t length);
  // The mtime the file gets when finished (a file sent while it was still being written:
  // its final mtime comes at its end). Only by the receiver, before it lets go.
  void set_mtime(int64_t sec, uint32_t nsec);

 private:
  Status Finish();

  int fd_;
  std::string path_;
  uint32_t mode_;
  uint32_t uid_;
  uint32_t gid_;
  int64_t mtime_sec_;
  uint32_t mtime_nsec_;
  std::shared_ptr<StagingShared> shared_;
  std::atomic<bool> reserve_unsupported_{false};
};

// {mtime, mtime} with a nanosecond field the kernel accepts.
void EntryTimes(int64_t sec, uint32_t nsec, struct timespec times[2]);

}  // namespace migrate::transfer
