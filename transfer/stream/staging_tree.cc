#include "transfer/stream/staging_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transfer/base/open_beneath.h"
#include "transfer/base/quote.h"
#include "transfer/stream/special_files.h"

namespace migrate::transfer {
namespace {

using proto::stream::Entry;
using proto::stream::EntryType;

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

StagingTree::StagingTree(std::string path, int root_fd, StagingOptions options)
    : path_(std::move(path)),
      root_fd_(root_fd),
      shared_(std::make_shared<StagingShared>(std::move(options))) {}

StagingTree::~StagingTree() {
  if (!committed_) Remove();
  if (root_fd_ >= 0) close(root_fd_);
}

Result<std::unique_ptr<StagingTree>> StagingTree::Create(const std::string& staging_dir,
                                                         StagingOptions options) {
  std::string templ = staging_dir + "/.migrate-stream-XXXXXX";
  if (options.fault_hook) MIGRATE_RETURN_IF_ERROR(options.fault_hook("mkdtemp", 0));
  if (mkdtemp(templ.data()) == nullptr) {
    return Status::FromErrno("create staging directory in " + staging_dir, errno);
  }
  int fd = open(templ.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    rmdir(templ.c_str());
    return Status::FromErrno("open staging directory " + templ, e);
  }
  return std::unique_ptr<StagingTree>(new StagingTree(templ, fd, std::move(options)));
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
  int fd = OpenBeneath(root_fd_, parent, O_PATH | O_DIRECTORY);
  if (fd >= 0) return fd;
  if (errno == ENOENT) {
    return Status::InvalidArgument("parent of " + Quote(path) + " was not sent before it");
  }
  if (errno == ENOTDIR || errno == ELOOP) {
    return Status::InvalidArgument("parent of " + Quote(path) + " is not a directory");
  }
  return Status::FromErrno("open staged directory " + Quote(parent), errno);
}

Status StagingTree::CreateError(const char* what, const std::string& path, int err) {
  if (err == EEXIST) return Status::InvalidArgument("duplicate entry " + Quote(path));
  return Status::FromErrno(std::string(what) + " " + Quote(path), err);
}

Status StagingTree::AddDirectory(const Entry& e) {
  const uint64_t cost = sizeof(DirRecord) + e.path().size();
  if (kept_bytes_ + cost > shared_->options().max_kept_bytes) {
    return Status::InvalidArgument("more than " + std::to_string(dirs_.size()) +
                                   " directories: over the limit of " +
                                   std::to_string(shared_->options().max_kept_bytes) +
                                   " bytes kept for their metadata");
  }
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("mkdir");
  // Owner-only until the metadata pass: nobody else sees a half-filled tree anyway.
  if (st.ok() && mkdirat(parent, name.c_str(), 0700) != 0) {
    st = CreateError("create directory", e.path(), errno);
  }
  close(parent);
  MIGRATE_RETURN_IF_ERROR(st);
  dirs_.push_back(DirRecord{e.path(), e.mode(), e.uid(), e.gid(), e.mtime_sec(), e.mtime_nsec()});
  kept_bytes_ += cost;
  return Status::Ok();
}

Status StagingTree::ApplyInPlace(int parent, const std::string& name, const Entry& e) {
  MIGRATE_RETURN_IF_ERROR(Step("metadata"));
  if (shared_->options().preserve_ownership &&
      fchownat(parent, name.c_str(), e.uid(), e.gid(), AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno("chown " + Quote(e.path()), errno);
  }
  // After the chown. A symlink's mode means nothing; a special file's holds no set-id bits
  // (ValidateSpecialEntry), which the chown would have cleared.
  if (e.type() != proto::stream::ENTRY_TYPE_SYMLINK &&
      fchmodat(parent, name.c_str(), e.mode() & 0777, AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno("chmod " + Quote(e.path()), errno);
  }
  timespec times[2];
  EntryTimes(e.mtime_sec(), e.mtime_nsec(), times);
  if (utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno("set times of " + Quote(e.path()), errno);
  }
  return Status::Ok();
}

Status StagingTree::AddSymlink(const Entry& e, SymlinkPolicy policy) {
  MIGRATE_RETURN_IF_ERROR(ValidateSymlinkTarget(e.path(), e.link_target(), policy));
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("symlink");
  if (st.ok() && symlinkat(e.link_target().c_str(), parent, name.c_str()) != 0) {
    st = CreateError("create symlink", e.path(), errno);
  }
  // A symlink is complete at once: nothing of it is kept for the end.
  if (st.ok()) st = ApplyInPlace(parent, name, e);
  close(parent);
  return st;
}

Status StagingTree::AddSpecial(const Entry& e, SpecialFilePolicy policy) {
  MIGRATE_RETURN_IF_ERROR(ValidateSpecialEntry(e, policy));
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("mknod");
  // Owner-only until ApplyInPlace; mknodat never follows a link and refuses an existing name.
  if (st.ok() &&
      mknodat(parent, name.c_str(), SpecialFileType(e.type()) | 0600, DeviceNumberOf(e)) != 0) {
    st = CreateError(("create " + std::string(EntryTypeName(e.type()))).c_str(), e.path(), errno);
  }
  // Complete at once, like a symlink: its metadata now, never through an open of the node.
  if (st.ok()) st = ApplyInPlace(parent, name, e);
  close(parent);
  return st;
}

Status StagingTree::AddHardlink(const Entry& e, SymlinkPolicy policy) {
  if (policy == SymlinkPolicy::kNone) {
    return Status::InvalidArgument("hard link " + Quote(e.path()) +
                                   ": no hard links in this stream (checkpoint images hold none)");
  }
  MIGRATE_RETURN_IF_ERROR(ValidateRelativePath(e.link_target(), 4096)
                              .WithContext("hard link " + Quote(e.path()) + " target"));
  const Status not_a_file = Status::InvalidArgument(
      "hard link " + Quote(e.path()) + " -> " + Quote(e.link_target()) +
      " does not name a regular file received earlier");
  std::string target_name;
  auto target_parent = OpenParent(e.link_target(), &target_name);
  if (!target_parent.ok()) return not_a_file;
  struct stat st_target;
  if (fstatat(*target_parent, target_name.c_str(), &st_target, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st_target.st_mode)) {
    close(*target_parent);
    return not_a_file;
  }
  std::string name;
  auto parent = OpenParent(e.path(), &name);
  if (!parent.ok()) {
    close(*target_parent);
    return parent.status();
  }
  Status st = Step("link");
  // No AT_SYMLINK_FOLLOW and AT_EMPTY_PATH: links exactly the staged regular file.
  if (st.ok() && linkat(*target_parent, target_name.c_str(), *parent, name.c_str(), 0) != 0) {
    st = CreateError("create hard link", e.path(), errno);
  }
  close(*target_parent);
  close(*parent);
  return st;
}

Result<std::shared_ptr<StagedFile>> StagingTree::AddRegular(const Entry& e) {
  std::string name;
  MIGRATE_ASSIGN_OR_RETURN(int parent, OpenParent(e.path(), &name));
  Status st = Step("create");
  int fd = -1;
  if (st.ok()) {
    // O_EXCL + O_NOFOLLOW: never opens anything that already exists.
    fd = openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) st = CreateError("create file", e.path(), errno);
  }
  close(parent);
  MIGRATE_RETURN_IF_ERROR(st);
  return std::make_shared<StagedFile>(fd, e.path(), e, shared_);  // owns fd
}

Status StagingTree::SetSize(StagedFile& file, uint64_t size) {
  MIGRATE_RETURN_IF_ERROR(Step("truncate"));
  if (ftruncate(file.fd(), static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("set size of " + Quote(file.path()), errno);
  }
  return Status::Ok();
}

Status StagingTree::ApplyDirectory(const DirRecord& d) {
  MIGRATE_RETURN_IF_ERROR(Step("metadata"));
  int fd = OpenBeneath(root_fd_, d.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno("open " + Quote(d.path), errno);
  Status st;
  timespec times[2];
  EntryTimes(d.mtime_sec, d.mtime_nsec, times);
  // Ownership first: chown clears set-id bits, the mode puts them back.
  if (shared_->options().preserve_ownership && fchown(fd, d.uid, d.gid) != 0) {
    st = Status::FromErrno("chown " + Quote(d.path), errno);
  } else if (fchmod(fd, d.mode & 07777) != 0) {
    st = Status::FromErrno("chmod " + Quote(d.path), errno);
  } else if (futimens(fd, times) != 0) {
    st = Status::FromErrno("set times of " + Quote(d.path), errno);
  } else if (shared_->options().fsync && (st = Step("sync")).ok() && fsync(fd) != 0) {
    st = Status::FromErrno("sync " + Quote(d.path), errno);
  }
  close(fd);
  return st;
}

Status StagingTree::ApplyMetadata() {
  MIGRATE_RETURN_IF_ERROR(FilesError());
  // Reverse stream order: children before their directory (a directory's mtime changes
  // when entries are created in it; a read-only directory must get its mode last).
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    MIGRATE_RETURN_IF_ERROR(ApplyDirectory(*it));
  }
  if (shared_->options().fsync) {
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
  if (shared_->options().fsync) {
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
  Abandon();
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
