#include "transfer/stream/file_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace migrate::transfer {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string Full(const std::string& root, const std::string& rel) {
  return rel.empty() ? root : root + "/" + rel;
}

// Sorted names in a directory (without . and ..).
Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Status::FromErrno("list directory " + path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* de = readdir(dir)) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  int e = errno;
  closedir(dir);
  if (e != 0) return Status::FromErrno("list directory " + path, e);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

// ---- DirectoryTreeSource ----------------------------------------------------------------

struct DirectoryTreeSource::Walk {
  struct Level {
    std::string rel;
    std::vector<std::string> names;
    size_t next = 0;
  };
  bool started = false;
  std::vector<Level> stack;
};

DirectoryTreeSource::DirectoryTreeSource(std::string root)
    : root_(std::move(root)), walk_(std::make_unique<Walk>()) {}

DirectoryTreeSource::~DirectoryTreeSource() = default;

Result<std::optional<SourceEntry>> DirectoryTreeSource::Next(const CancelFlag* cancel) {
  if (cancel != nullptr && cancel->cancelled()) return Status::Aborted("cancelled");
  if (!walk_->started) {
    walk_->started = true;
    MIGRATE_ASSIGN_OR_RETURN(auto names, ListDir(root_));
    walk_->stack.push_back({"", std::move(names), 0});
  }
  while (!walk_->stack.empty()) {
    auto& top = walk_->stack.back();
    if (top.next >= top.names.size()) {
      walk_->stack.pop_back();
      continue;
    }
    std::string rel = Join(top.rel, top.names[top.next++]);
    struct stat st;
    if (lstat(Full(root_, rel).c_str(), &st) != 0) {
      return Status::FromErrno("stat " + Full(root_, rel), errno);
    }
    if (S_ISDIR(st.st_mode)) {
      MIGRATE_ASSIGN_OR_RETURN(auto names, ListDir(Full(root_, rel)));
      walk_->stack.push_back({rel, std::move(names), 0});
    }
    return std::optional<SourceEntry>(SourceEntry{rel});
  }
  return std::optional<SourceEntry>();
}

// ---- FileSource --------------------------------------------------------------------------

Result<bool> FileSource::AwaitGrowth(const SourceEntry&, const CancelFlag* cancel) {
  if (cancel != nullptr && cancel->cancelled()) return Status::Aborted("cancelled");
  return true;  // sources of finished files never return growing entries
}

// ---- GrowingDirectorySource -------------------------------------------------------------

struct GrowingDirectorySource::State {
  int inotify_fd = -1;
  int wake_fd = -1;                    // eventfd: MarkProducerDone / MarkProducerFailed
  std::vector<std::string> follow;     // fnmatch patterns of files streamed while written
  std::map<int, std::string> watches;  // wd -> relative dir ("" = root)
  std::deque<std::string> ready;
  std::set<std::string> queued;   // ready or already returned
  std::set<std::string> growing;  // followed files (queued at creation)
  std::set<std::string> closed;   // followed files their producer has closed
  struct Sent {
    ino_t ino;
    off_t size;
    timespec mtime;
    bool regular;
  };
  std::map<std::string, Sent> sent;
  bool final_scan_done = false;

  std::mutex mu;  // guards the fields below
  bool producer_done = false;
  bool producer_failed = false;
  std::string failure;

  ~State() {
    if (inotify_fd >= 0) close(inotify_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  void Enqueue(const std::string& rel) {
    if (queued.insert(rel).second) ready.push_back(rel);
  }
  bool Follows(const char* name) const {
    return std::any_of(follow.begin(), follow.end(),
                       [&](const std::string& p) { return fnmatch(p.c_str(), name, 0) == 0; });
  }
  bool ProducerDone() {
    std::lock_guard<std::mutex> lock(mu);
    return producer_done;
  }
};

namespace {
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR;
// How long AwaitGrowth waits when nothing happens: CRIU appends ~0.5-1 GB/s, i.e. about one
// 1 MiB chunk per wait.
constexpr int kGrowthWaitMs = 2;
}  // namespace

GrowingDirectorySource::GrowingDirectorySource(std::string root, std::unique_ptr<State> state)
    : root_(std::move(root)), state_(std::move(state)) {}

GrowingDirectorySource::~GrowingDirectorySource() = default;

Result<std::unique_ptr<GrowingDirectorySource>> GrowingDirectorySource::Open(
    std::string root, std::vector<std::string> follow) {
  auto state = std::make_unique<State>();
  state->follow = std::move(follow);
  state->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (state->inotify_fd < 0) return Status::FromErrno("inotify_init1", errno);
  state->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state->wake_fd < 0) return Status::FromErrno("eventfd", errno);
  int wd = inotify_add_watch(state->inotify_fd, root.c_str(), kWatchMask);
  if (wd < 0) return Status::FromErrno("watch " + root, errno);
  state->watches[wd] = "";
  // What is there already is complete (documented precondition); queue it in walk order.
  DirectoryTreeSource existing(root);
  for (;;) {
    MIGRATE_ASSIGN_OR_RETURN(auto entry, existing.Next(nullptr));
    if (!entry) break;
    struct stat st;
    if (lstat((root + "/" + entry->relative_path).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      int sub = inotify_add_watch(state->inotify_fd, (root + "/" + entry->relative_path).c_str(),
                                  kWatchMask);
      if (sub >= 0) state->watches[sub] = entry->relative_path;
    }
    state->Enqueue(entry->relative_path);
  }
  return std::unique_ptr<GrowingDirectorySource>(
      new GrowingDirectorySource(std::move(root), std::move(state)));
}

void GrowingDirectorySource::MarkProducerDone() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->producer_done = true;
  }
  uint64_t one = 1;
  (void)!write(state_->wake_fd, &one, sizeof(one));
}

void GrowingDirectorySource::MarkProducerFailed(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->producer_failed = true;
    state_->failure = std::move(reason);
  }
  uint64_t one = 1;
  (void)!write(state_->wake_fd, &one, sizeof(one));
}

Status GrowingDirectorySource::RecordSent(const std::string& rel, struct stat* st) {
  if (lstat(Full(root_, rel).c_str(), st) != 0) {
    return Status::FromErrno("stat " + Full(root_, rel), errno);
  }
  state_->sent[rel] = State::Sent{st->st_ino, st->st_size, st->st_mtim, S_ISREG(st->st_mode) != 0};
  return Status::Ok();
}

Status GrowingDirectorySource::Check(const CancelFlag* cancel) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->producer_failed) return Status::Aborted("producer failed: " + state_->failure);
  }
  if (cancel != nullptr && cancel->cancelled()) return Status::Aborted("cancelled");
  return Status::Ok();
}

Result<bool> GrowingDirectorySource::ReadEvents() {
  State& s = *state_;
  char buf[16384] __attribute__((aligned(__alignof__(inotify_event))));
  ssize_t n = read(s.inotify_fd, buf, sizeof(buf));
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return false;
    return Status::FromErrno("read inotify", errno);
  }
  for (ssize_t off = 0; off < n;) {
    auto* ev = reinterpret_cast<inotify_event*>(buf + off);
    off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    auto w = s.watches.find(ev->wd);
    if (w == s.watches.end() || ev->len == 0) continue;
    std::string rel = Join(w->second, ev->name);
    if (ev->mask & IN_ISDIR) {
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        int sub = inotify_add_watch(s.inotify_fd, Full(root_, rel).c_str(), kWatchMask);
        if (sub >= 0) s.watches[sub] = rel;
        s.Enqueue(rel);
      }
      continue;
    }
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
      if (s.growing.count(rel) != 0) s.closed.insert(rel);
      s.Enqueue(rel);
    } else if (ev->mask & IN_CREATE) {
      // Symlinks are complete when created; followed files are streamed from now on; other
      // regular files wait for their close.
      struct stat st;
      if (lstat(Full(root_, rel).c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        s.Enqueue(rel);
      } else if (S_ISREG(st.st_mode) && s.Follows(ev->name) && s.queued.count(rel) == 0) {
        s.growing.insert(rel);
        s.Enqueue(rel);
      }
    }
  }
  return n > 0;
}

Result<std::optional<SourceEntry>> GrowingDirectorySource::Next(const CancelFlag* cancel) {
  State& s = *state_;
  for (;;) {
    MIGRATE_RETURN_IF_ERROR(Check(cancel));
    if (!s.ready.empty()) {
      std::string rel = std::move(s.ready.front());
      s.ready.pop_front();
      struct stat st;
      MIGRATE_RETURN_IF_ERROR(RecordSent(rel, &st));
      SourceEntry entry{std::move(rel)};
      // A followed file already closed is sent like any finished file.
      entry.growing = S_ISREG(st.st_mode) && s.growing.count(entry.relative_path) != 0 &&
                      s.closed.count(entry.relative_path) == 0;
      return std::optional<SourceEntry>(std::move(entry));
    }
    if (s.final_scan_done) return std::optional<SourceEntry>();
    // Read pending events (also after "done": they may name files to send first).
    const bool done = s.ProducerDone();
    MIGRATE_ASSIGN_OR_RETURN(bool any, ReadEvents());
    if (any) continue;
    if (done) {
      // Final scan: everything not sent yet (files whose events were lost or that were
      // made in a directory before we watched it), in walk order.
      DirectoryTreeSource all(root_);
      for (;;) {
        MIGRATE_ASSIGN_OR_RETURN(auto entry, all.Next(cancel));
        if (!entry) break;
        s.Enqueue(entry->relative_path);
      }
      s.final_scan_done = true;
      continue;
    }
    pollfd fds[2] = {{s.inotify_fd, POLLIN, 0}, {s.wake_fd, POLLIN, 0}};
    if (poll(fds, 2, 100) < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
  }
}

Result<bool> GrowingDirectorySource::AwaitGrowth(const SourceEntry& entry,
                                                 const CancelFlag* cancel) {
  State& s = *state_;
  const std::string& rel = entry.relative_path;
  MIGRATE_RETURN_IF_ERROR(Check(cancel));
  bool waited = false;
  for (;;) {
    const bool done = s.ProducerDone();
    bool any;
    do {
      MIGRATE_ASSIGN_OR_RETURN(any, ReadEvents());
    } while (any && done);  // after the producer's exit, read every event that is left
    if (s.closed.count(rel) != 0 || done) {
      // Closed (or its producer has exited): the size is final.
      struct stat st;
      MIGRATE_RETURN_IF_ERROR(RecordSent(rel, &st));
      return true;
    }
    if (waited || any) return false;
    pollfd fds[2] = {{s.inotify_fd, POLLIN, 0}, {s.wake_fd, POLLIN, 0}};
    if (poll(fds, 2, kGrowthWaitMs) < 0 && errno != EINTR) {
      return Status::FromErrno("poll", errno);
    }
    MIGRATE_RETURN_IF_ERROR(Check(cancel));
    waited = true;
  }
}

Status GrowingDirectorySource::Finish() {
  State& s = *state_;
  for (const auto& [rel, sent] : s.sent) {
    struct stat st;
    if (lstat(Full(root_, rel).c_str(), &st) != 0) {
      return Status::FailedPrecondition(rel + " disappeared after it was sent");
    }
    if (st.st_ino != sent.ino ||
        (sent.regular && (st.st_size != sent.size || st.st_mtim.tv_sec != sent.mtime.tv_sec ||
                          st.st_mtim.tv_nsec != sent.mtime.tv_nsec))) {
      return Status::FailedPrecondition(rel + " changed after it was sent");
    }
  }
  DirectoryTreeSource all(root_);
  for (;;) {
    MIGRATE_ASSIGN_OR_RETURN(auto entry, all.Next(nullptr));
    if (!entry) break;
    if (s.sent.count(entry->relative_path) == 0) {
      return Status::FailedPrecondition(entry->relative_path + " appeared after the end");
    }
  }
  return Status::Ok();
}

}  // namespace migrate::transfer
