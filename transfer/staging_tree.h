// The receiver's side of the file system: a fresh directory under the staging directory,
// filled entry by entry from a peer that is not trusted, then committed (renamed into place)
// or removed. Every path is resolved below the staging root with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV): no symlink is ever followed, nothing outside the
// staging root is touched, whatever the peer sends.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/stream.pb.h"
#include "transfer/status.h"
#include "transfer/stream_types.h"

namespace migrate::transfer {

// kInvalidArgument unless `path` is relative, '/'-separated, without empty, "." or ".."
// components, without NUL bytes, and at most `max_bytes` long.
Status ValidateRelativePath(std::string_view path, uint32_t max_bytes);

// kInvalidArgument unless `policy` admits a symlink at `link_path` with text `target`:
// kNone admits none; kContainerRoot any non-empty target of at most 4095 bytes without NUL.
Status ValidateSymlinkTarget(std::string_view link_path, std::string_view target,
                             SymlinkPolicy policy);

// An open regular file being written; shared by the chunk writers.
class StagedFile {
 public:
  StagedFile(int fd, std::string path, size_t entry_index)
      : fd_(fd), path_(std::move(path)), entry_index_(entry_index) {}
  ~StagedFile();
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

 private:
  friend class StagingTree;
  int fd_;
  std::string path_;
  size_t entry_index_;  // in StagingTree::entries_
  std::atomic<bool> reserve_unsupported_{false};
};

class StagingTree {
 public:
  // Creates `staging_dir`/.migrate-stream-XXXXXX (mode 0700).
  static Result<std::unique_ptr<StagingTree>> Create(const std::string& staging_dir,
                                                     bool preserve_ownership, bool fsync,
                                                     FaultHook fault_hook);
  ~StagingTree();  // removes the tree unless committed

  const std::string& path() const { return path_; }

  // Creates one entry (already validated by the caller: path, type, limits). Checks that the
  // parent is a directory entry received earlier and that the name is new.
  Status AddDirectory(const proto::stream::Entry& e);
  Status AddSymlink(const proto::stream::Entry& e, SymlinkPolicy policy);
  Status AddHardlink(const proto::stream::Entry& e, SymlinkPolicy policy);
  Result<std::shared_ptr<StagedFile>> AddRegular(const proto::stream::Entry& e);
  // Sets the final size of a regular file (holes stay holes).
  Status SetSize(StagedFile& file, uint64_t size);
  // Replaces the mtime a regular file gets at ApplyMetadata (a file sent while it was still
  // being written: its final mtime comes at its end).
  void SetMtime(const StagedFile& file, int64_t sec, uint32_t nsec);

  // After every entry is complete: ownership, modes (after chown, which clears set-id bits),
  // times, children before their directory; then fsync of files and directories.
  Status ApplyMetadata();

  // Renames the tree to `final_dir` (which must not exist; RENAME_NOREPLACE) and syncs its
  // parent. After success the destructor keeps the tree.
  Status Commit(const std::string& final_dir);

  // Removes the tree now (also done by the destructor).
  void Remove();

  // Fault-hook step counter access for tests (number of steps taken so far).
  uint64_t steps() const { return steps_; }

 private:
  StagingTree(std::string path, int root_fd, bool preserve_ownership, bool fsync,
              FaultHook fault_hook);
  Status Step(std::string_view name);
  // Opens the parent directory of `path` beneath the root (O_PATH, no symlinks followed)
  // and returns it with the last component. The parent must be a received directory entry.
  Result<int> OpenParent(std::string_view path, std::string* name);
  Status Register(const proto::stream::Entry& e);

  std::string path_;
  int root_fd_;
  bool preserve_ownership_;
  bool fsync_;
  FaultHook fault_hook_;
  uint64_t steps_ = 0;
  bool committed_ = false;
  bool removed_ = false;
  // Every entry received, in order (metadata is applied from these).
  std::vector<proto::stream::Entry> entries_;
  std::unordered_map<std::string, proto::stream::EntryType> types_;  // path -> type
};

// Removes a directory tree without following symlinks. Best effort; false on any error.
bool RemoveTreeNoFollow(const std::string& path);

}  // namespace migrate::transfer
