#include "transfer/staging_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transfer/open_beneath.h"

namespace migrate::transfer {
namespace {

using proto::stream::Entry;
using proto::stream::EntryType;

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

bool RemoveAt(int parent_fd, const char* name, int depth) {
  if (depth > 4096) return false;
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT;
  }
  fchmod(fd, 0700);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return false;
  }
  bool ok = true;
  std::vector<std::string> names;
  while (dirent* de = readdir(dir)) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  for (const auto& n : names) {
    struct stat st;
    if (fstatat(dirfd(dir), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      ok = RemoveAt(dirfd(dir), n.c_str(), depth + 1) && ok;
    } else if (unlinkat(dirfd(dir), n.c_str(), 0) != 0 && errno != ENOENT) {
      ok = false;
    }
  }
  closedir(dir);
  if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) ok = false;
  return ok;
}

}  // namespace

Status ValidateRelativePath(std::string_view path, uint32_t max_bytes) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  if (path.size() > max_bytes) {
    return Status::InvalidArgument("path of " + std::to_string(path.size()) +
                                   " bytes is over the limit of " + std::to_string(max_bytes));
  }
  if (path.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("path " + Quote(path) + " contains a NUL byte");
  }
  if (path.front() == '/') return Status::InvalidArgument("absolute path " + Quote(path));
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty()) return Status::InvalidArgument("empty component in path " + Quote(path));
    if (comp == "." || comp == "..") {
      return Status::InvalidArgument("'" + std::string(comp) + "' component in path " +
                                     Quote(path));
    }
    if (comp.size() > 255) return Status::InvalidArgument("name too long in " + Quote(path));
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateSymlinkTarget(std::string_view link_path, std::string_view target,
                             SymlinkPolicy policy) {
  if (policy == SymlinkPolicy::kNone) {
    return Status::InvalidArgument("symlink " + Quote(link_path) + " -> " + Quote(target) +
                                   ": no symlinks in this stream (checkpoint images hold none)");
  }
  if (target.empty())
    return Status::InvalidArgument("symlink " + Quote(link_path) + ": empty target");
  if (target.size() > 4095 || target.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("symlink " + Quote(link_path) + ": invalid target");
  }
  return Status::Ok();
}

StagedFile::~StagedFile() {
  if (fd_ >= 0) close(fd_);
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

StagingTree::StagingTree(std::string path, int root_fd, bool preserve_ownership, bool fsync,
                         FaultHook fault_hook)
    : path_(std::move(path)),
      root_fd_(root_fd),
      preserve_ownership_(preserve_ownership),
      fsync_(fsync),
      fault_hook_(std::move(fault_hook)) {}

StagingTree::~StagingTree() {
  if (!committed_) Remove();
  if (root_fd_ >= 0) close(root_fd_);
}

Result<std::unique_ptr<StagingTree>> StagingTree::Create(const std::string& staging_dir,
                                                         bool preserve_ownership, bool fsync,
                                                         FaultHook fault_hook) {
  std::string templ = staging_dir + "/.migrate-stream-XXXXXX";
  if (fault_hook) MIGRATE_RETURN_IF_ERROR(fault_hook("mkdtemp", 0));
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::FromErrno("create staging directory in " + staging_dir, errno);
  }
  int fd = open(templ.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    rmdir(templ.c_str());
    return Status::FromErrno("open staging directory " + templ, e);
  }
  return std::unique_ptr<StagingTree>(
      new StagingTree(templ, fd, preserve_ownership, fsync, std::move(fault_hook)));
}

Status StagingTree::Step(std::string_view name) {
  uint64_t index = steps_++;
  if (fault_hook_) return fault_hook_(name, index);
  return Status::Ok();
}

Result<int> StagingTree::OpenParent(std::string_view path, std::string* name) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    *name = std::string(path);
    int fd = fcntl(root_fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Status::FromErrno("dup staging fd", errno);
    return fd;
  }
  std::string parent(path.substr(0, slash));
  *name = std::string(path.substr(slash + 1));
  auto it = types_.find(parent);
  if (it == types_.end()) {
    return Status::InvalidArgument("parent of " + Quote(path) + " was not sent before it");
  }
  if (it->second != proto::stream::ENTRY_TYPE_DIRECTORY) {
    return Status::InvalidArgument("parent of " + Quote(path) + " is not a directory");
  }
  int fd = OpenBeneath(root_fd_, parent, O_PATH | O_DIRECTORY);
  if (fd < 0) return Status::FromErrno("open staged directory " + Quote(parent), errno);
  return fd;
}

Status StagingTree::Register(const Entry& e) {
  auto [it, inserted] = types_.emplace(e.path(), e.type());
  if (!inserted) return Status::InvalidArgument("duplicate entry " + Quote(e.path()));
  return Status::Ok();
}

Status StagingTree::AddDirectory(const Entry& e) {
  if (types_.count(e.path()) != 0)
    return Status::InvalidArgument("duplicate entry " + Quote(e.path()));
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("mkdir");
  // Owner-only until the metadata pass: nobody else sees a half-filled tree anyway.
  if (st.ok() && mkdirat(parent, name.c_str(), 0700) != 0) {
    st = Status::FromErrno("create directory " + Quote(e.path()), errno);
  }
  close(parent);
  MIGRATE_RETURN_IF_ERROR(st);
  entries_.push_back(e);
  return Register(e);
}

Status StagingTree::AddSymlink(const Entry& e, SymlinkPolicy policy) {
  if (types_.count(e.path()) != 0)
    return Status::InvalidArgument("duplicate entry " + Quote(e.path()));
  MIGRATE_RETURN_IF_ERROR(ValidateSymlinkTarget(e.path(), e.link_target(), policy));
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("symlink");
  if (st.ok() && symlinkat(e.link_target().c_str(), parent, name.c_str()) != 0) {
    st = Status::FromErrno("create symlink " + Quote(e.path()), errno);
  }
  close(parent);
  MIGRATE_RETURN_IF_ERROR(st);
  entries_.push_back(e);
  return Register(e);
}

Status StagingTree::AddHardlink(const Entry& e, SymlinkPolicy policy) {
  if (policy == SymlinkPolicy::kNone) {
    return Status::InvalidArgument("hard link " + Quote(e.path()) +
                                   ": no hard links in this stream (checkpoint images hold none)");
  }
  if (types_.count(e.path()) != 0)
    return Status::InvalidArgument("duplicate entry " + Quote(e.path()));
  MIGRATE_RETURN_IF_ERROR(ValidateRelativePath(e.link_target(), 4096)
                              .WithContext("hard link " + Quote(e.path()) + " target"));
  auto it = types_.find(e.link_target());
  if (it == types_.end() || it->second != proto::stream::ENTRY_TYPE_REGULAR) {
    return Status::InvalidArgument("hard link " + Quote(e.path()) + " -> " +
                                   Quote(e.link_target()) +
                                   " does not name a regular file received earlier");
  }
  std::string target_name;
  MIGRATE_ASSIGN_OR_RETURN(int target_parent, OpenParent(e.link_target(), &target_name));
  std::string name;
  auto parent = OpenParent(e.path(), &name);
  if (!parent.ok()) {
    close(target_parent);
    return parent.status();
  }
  Status st = Step("link");
  // No AT_SYMLINK_FOLLOW and AT_EMPTY_PATH: links exactly the staged regular file.
  if (st.ok() && linkat(target_parent, target_name.c_str(), *parent, name.c_str(), 0) != 0) {
    st = Status::FromErrno("create hard link " + Quote(e.path()), errno);
  }
  close(target_parent);
  close(*parent);
  MIGRATE_RETURN_IF_ERROR(st);
  entries_.push_back(e);
  return Register(e);
}

Result<std::shared_ptr<StagedFile>> StagingTree::AddRegular(const Entry& e) {
  if (types_.count(e.path()) != 0)
    return Status::InvalidArgument("duplicate entry " + Quote(e.path()));
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("create");
  int fd = -1;
  if (st.ok()) {
    // O_EXCL + O_NOFOLLOW: never opens anything that already exists.
    fd = openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) st = Status::FromErrno("create file " + Quote(e.path()), errno);
  }
  close(parent);
  MIGRATE_RETURN_IF_ERROR(st);
  auto file = std::make_shared<StagedFile>(fd, e.path(), entries_.size());  // owns fd
  entries_.push_back(e);
  MIGRATE_RETURN_IF_ERROR(Register(e));
  return file;
}

Status StagingTree::SetSize(StagedFile& file, uint64_t size) {
  MIGRATE_RETURN_IF_ERROR(Step("truncate"));
  if (ftruncate(file.fd(), static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("set size of " + Quote(file.path()), errno);
  }
  return Status::Ok();
}

void StagingTree::SetMtime(const StagedFile& file, int64_t sec, uint32_t nsec) {
  Entry& e = entries_.at(file.entry_index_);
  e.set_mtime_sec(sec);
  e.set_mtime_nsec(nsec);
}

Status StagingTree::ApplyMetadata() {
  // Reverse stream order: children before their directory (a directory's mtime changes
  // when entries are created in it; a read-only directory must get its mode last).
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    const Entry& e = *it;
    if (e.type() == proto::stream::ENTRY_TYPE_HARDLINK) continue;  // same inode as its target
    std::string name;
    MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
    Status st = Step("metadata");
    if (st.ok() && preserve_ownership_ &&
        fchownat(parent, name.c_str(), e.uid(), e.gid(), AT_SYMLINK_NOFOLLOW) != 0) {
      st = Status::FromErrno("chown " + Quote(e.path()), errno);
    }
    if (st.ok() && e.type() != proto::stream::ENTRY_TYPE_SYMLINK) {
      // Via an O_PATH-free descriptor opened beneath the root (never through a symlink).
      int fd = OpenBeneath(root_fd_, e.path(),
                           e.type() == proto::stream::ENTRY_TYPE_DIRECTORY
                               ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                               : O_RDONLY | O_NOFOLLOW);
      if (fd < 0) {
        st = Status::FromErrno("open " + Quote(e.path()), errno);
      } else {
        if (fchmod(fd, e.mode() & 07777) != 0)
          st = Status::FromErrno("chmod " + Quote(e.path()), errno);
        if (st.ok() && fsync_ &&
            (e.type() == proto::stream::ENTRY_TYPE_DIRECTORY ? fsync(fd) : fdatasync(fd)) != 0) {
          st = Status::FromErrno("sync " + Quote(e.path()), errno);
        }
        close(fd);
      }
    }
    if (st.ok()) {
      timespec times[2];
      times[0].tv_sec = times[1].tv_sec = e.mtime_sec();
      times[0].tv_nsec = times[1].tv_nsec = e.mtime_nsec() < 1'000'000'000 ? e.mtime_nsec() : 0;
      if (utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
        st = Status::FromErrno("set times of " + Quote(e.path()), errno);
      }
    }
    close(parent);
    MIGRATE_RETURN_IF_ERROR(st);
  }
  if (fsync_) {
    MIGRATE_RETURN_IF_ERROR(Step("sync"));
    if (fsync(root_fd_) != 0) return Status::FromErrno("sync " + path_, errno);
  }
  return Status::Ok();
}

Status StagingTree::Commit(const std::string& final_dir) {
  MIGRATE_RETURN_IF_ERROR(Step("commit"));
  if (renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) != 0) {
    return Status::FromErrno("move " + path_ + " to " + final_dir, errno);
  }
  committed_ = true;
  std::string parent = final_dir.substr(0, final_dir.rfind('/'));
  if (parent.empty()) parent = "/";
  if (fsync_) {
    int fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
  }
  return Status::Ok();
}

void StagingTree::Remove() {
  if (removed_ || committed_) return;
  removed_ = true;
  RemoveTreeNoFollow(path_);
}

bool RemoveTreeNoFollow(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  int pfd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) return errno == ENOENT;
  bool ok = RemoveAt(pfd, name.c_str(), 0);
  close(pfd);
  return ok;
}

}  // namespace migrate::transfer
