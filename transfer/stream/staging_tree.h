// The receiver's side of the file system: a fresh directory under the staging directory,
// filled entry by entry from a peer that is not trusted, then committed (renamed into place)
// or removed. Every path is resolved below the staging root with OpenBeneath (openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV): no symlink is ever followed,
// nothing outside the staging root is touched, whatever the peer sends.
//
// What is kept in memory: one record per directory (its metadata is applied at the end,
// after its children), nothing per file, link or special file. Whether a parent was sent,
// and whether a name is new, the staging tree itself tells (only received entries are in it).
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/stream.pb.h"
#include "transfer/stream/staged_file.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

// kInvalidArgument unless `path` is relative, '/'-separated, without empty, "." or ".."
// components, without NUL bytes, and at most `max_bytes` long.
Status ValidateRelativePath(std::string_view path, uint32_t max_bytes);

// kInvalidArgument unless `policy` admits a symlink at `link_path` with text `target`:
// kNone admits none; kContainerRoot any non-empty target of at most 4095 bytes without NUL.
Status ValidateSymlinkTarget(std::string_view link_path, std::string_view target,
                             SymlinkPolicy policy);

class StagingTree {
 public:
  // Creates `staging_dir`/.migrate-stream-XXXXXX (mode 0700).
  static Result<std::unique_ptr<StagingTree>> Create(const std::string& staging_dir,
                                                     StagingOptions options);
  ~StagingTree();  // removes the tree unless committed

  const std::string& path() const { return path_; }

  // Creates one entry (already validated by the caller: path, type, limits). Checks that the
  // parent is a directory entry received earlier and that the name is new.
  Status AddDirectory(const proto::stream::Entry& e);
  Status AddSymlink(const proto::stream::Entry& e, SymlinkPolicy policy);
  Status AddHardlink(const proto::stream::Entry& e, SymlinkPolicy policy);
  // A FIFO, socket or device node (mknod), if `policy` admits it (ValidateSpecialEntry).
  Status AddSpecial(const proto::stream::Entry& e, SpecialFilePolicy policy);
  Result<std::shared_ptr<StagedFile>> AddRegular(const proto::stream::Entry& e);
  // Sets the final size of a regular file (holes stay holes).
  Status SetSize(StagedFile& file, uint64_t size);
  // The first error of a file finished so far (a file finishes when its last chunk is
  // written and the receiver has let go of it).
  Status FilesError() { return shared_->error(); }

  // After every entry is complete and every file finished: the directories' ownership, modes
  // and times, children before their directory, and their fsync (the root's too).
  Status ApplyMetadata();

  // Renames the tree to `final_dir` (which must not exist; RENAME_NOREPLACE) and syncs its
  // parent. After success the destructor keeps the tree.
  Status Commit(const std::string& final_dir);

  // Files not finished yet are left as they are from now on (the tree is going away).
  void Abandon() { shared_->Abandon(); }
  // Removes the tree now (also done by the destructor).
  void Remove();

  // Bytes kept for the end of the stream (directory records).
  uint64_t kept_bytes() const { return kept_bytes_; }

 private:
  struct DirRecord {
    std::string path;
    uint32_t mode, uid, gid;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
  };

  StagingTree(std::string path, int root_fd, StagingOptions options);
  Status Step(std::string_view name) { return shared_->Step(name); }
  // Opens the parent directory of `path` beneath the root (O_PATH, no symlinks followed)
  // and returns it with the last component. The parent must be a received directory.
  Result<int> OpenParent(std::string_view path, std::string* name);
  // `what` failed on `path` with `err`: a duplicate name is the peer's error, not ours.
  static Status CreateError(const char* what, const std::string& path, int err);
  Status ApplyDirectory(const DirRecord& d);
  // Ownership, mode (not a symlink's: it means nothing) and times of an entry that is
  // complete when created (a symlink, a special file), by name, never following a link.
  Status ApplyInPlace(int parent, const std::string& name, const proto::stream::Entry& e);

  std::string path_;
  int root_fd_;
  std::shared_ptr<StagingShared> shared_;
  bool committed_ = false;
  bool removed_ = false;
  std::deque<DirRecord> dirs_;  // in stream order (a deque: no 2x growth spike)
  uint64_t kept_bytes_ = 0;
};

// Removes a directory tree without following symlinks. Best effort; false on any error.
bool RemoveTreeNoFollow(const std::string& path);

}  // namespace migrate::transfer
