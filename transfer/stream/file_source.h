// Where a sender's files come from: a finished directory tree (a bundle: config.json +
// rootfs), or a directory that another process (CRIU) is still writing.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

// One entry ready to send: its path relative to the source root ("rootfs/bin/sh"), never
// empty, never absolute, never with "." or ".." components.
struct SourceEntry {
  std::string relative_path;
  // A regular file its producer is still writing (appending): the sender follows it with
  // FileSource::AwaitGrowth until the producer has closed it.
  bool growing = false;
};

class FileSource {
 public:
  virtual ~FileSource() = default;

  // The directory entries are relative to (opened once by the sender).
  virtual const std::string& root() const = 0;

  // Blocks until the next entry is complete and ready, and returns it; returns nullopt when
  // every entry has been returned. A directory is returned before anything inside it.
  // Fails when `cancel` is set (kAborted) or the source cannot be read.
  virtual Result<std::optional<SourceEntry>> Next(const CancelFlag* cancel) = 0;

  // For an entry returned with `growing` set: waits a little (a few milliseconds, less when
  // something happens) and returns true once the producer has closed the file, so that its
  // size is final; false means it may have grown since. Fails when `cancel` is set or the
  // producer failed (kAborted).
  virtual Result<bool> AwaitGrowth(const SourceEntry& entry, const CancelFlag* cancel);

  // Called by the sender once the stream has finished, with the entries it sent. A source
  // whose files may change (a growing directory) checks that nothing changed after it was
  // sent; the default accepts.
  virtual Status Finish() { return Status::Ok(); }
};

// A finished tree, walked depth-first (directories before their contents, names sorted).
// Ownership, modes, special bits, symlinks, hard links and holes are sent as they are.
class DirectoryTreeSource : public FileSource {
 public:
  explicit DirectoryTreeSource(std::string root);
  ~DirectoryTreeSource() override;
  const std::string& root() const override { return root_; }
  Result<std::optional<SourceEntry>> Next(const CancelFlag* cancel) override;

 private:
  struct Walk;
  std::string root_;
  std::unique_ptr<Walk> walk_;
};

// A directory a producer (CRIU) is still writing. Create it BEFORE the producer starts
// writing (Open() starts watching with inotify): a regular file is ready once the producer
// closed it after writing (IN_CLOSE_WRITE) or renamed it into place (IN_MOVED_TO); new
// subdirectories are watched too. A file whose name matches one of `follow` (fnmatch
// patterns, e.g. "pages-*.img") is ready as soon as it is created, as a growing entry: the
// sender streams it while the producer appends to it. Such files must only ever be appended
// to, then closed once. After MarkProducerDone() the directory is scanned once more,
// anything not yet sent is sent, and Next() returns nullopt. Finish() fails if a file
// changed after it was sent (size, mtime or inode differ). Files present before Open() are
// treated as complete.
class GrowingDirectorySource : public FileSource {
 public:
  // Starts watching `root` (which must exist).
  static Result<std::unique_ptr<GrowingDirectorySource>> Open(
      std::string root, std::vector<std::string> follow = {});
  ~GrowingDirectorySource() override;

  const std::string& root() const override { return root_; }
  Result<std::optional<SourceEntry>> Next(const CancelFlag* cancel) override;
  Result<bool> AwaitGrowth(const SourceEntry& entry, const CancelFlag* cancel) override;
  Status Finish() override;

  // Thread-safe; call once the producer has exited successfully. Files closed before this
  // call are all sent.
  void MarkProducerDone();

  // Thread-safe; makes Next() fail with kAborted (e.g. the producer failed).
  void MarkProducerFailed(std::string reason);

 private:
  struct State;
  explicit GrowingDirectorySource(std::string root, std::unique_ptr<State> state);
  // Reads the pending inotify events (queues what became ready); false when there were none.
  Result<bool> ReadEvents();
  Status Check(const CancelFlag* cancel);
  // Notes what `rel` is now (into *st), which Finish() compares with at the end.
  Status RecordSent(const std::string& rel, struct stat* st);
  std::string root_;
  std::unique_ptr<State> state_;
};

}  // namespace migrate::transfer
