#include "agent/runtime/host_stats.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

// nftw offers no user pointer; these are per-thread so that concurrent walks do not mix.
thread_local TreeScan* tree_scan = nullptr;
thread_local size_t tree_root_length = 0;
thread_local size_t tree_max_listed = 0;
thread_local int remove_errno = 0;
thread_local std::string remove_failed_path;

int AddEntry(const char* path, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F || type == FTW_SL || type == FTW_SLN) {
    tree_scan->bytes += static_cast<uint64_t>(st->st_size);
  }
  if (type == FTW_F && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))) {
    if (tree_scan->device_nodes.size() < tree_max_listed) {
      tree_scan->device_nodes.emplace_back(path + std::min(tree_root_length, std::strlen(path)));
    }
    ++tree_scan->device_node_count;
  }
  return 0;
}

int RemoveOne(const char* path, const struct stat*, int type, struct FTW*) {
  int rc = (type == FTW_DP || type == FTW_D) ? ::rmdir(path) : ::unlink(path);
  if (rc != 0 && errno != ENOENT) {
    remove_errno = errno;
    remove_failed_path = path;
    return 1;
  }
  return 0;
}

// The bytes of the first line of a /proc file that matches `format` ("Name: %llu kB").
std::optional<uint64_t> KbField(const std::string& text, const char* format) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), format, &kb) == 1) return kb * 1024ULL;
  }
  return std::nullopt;
}

}  // namespace

Result<uint64_t> FreeBytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

Result<TreeScan> ScanTree(const std::string& path, size_t max_listed) {
  TreeScan scan;
  tree_scan = &scan;
  tree_root_length = path.size() + 1;  // "<path>/"
  tree_max_listed = max_listed;
  const int rc = ::nftw(path.c_str(), AddEntry, 64, FTW_PHYS | FTW_MOUNT);
  tree_scan = nullptr;
  if (rc != 0) return Status::FromErrno("walk " + path, errno);
  return scan;
}

Result<uint64_t> TreeBytes(const std::string& path) {
  MIGRATE_ASSIGN_OR_RETURN(TreeScan scan, ScanTree(path, 0));
  return scan.bytes;
}

Result<uint64_t> ProcessRssBytes(int pid, const std::string& proc_root) {
  std::string path = proc_root + "/" + std::to_string(pid) + "/status";
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return KbField(*text, "VmRSS: %llu kB").value_or(0);  // kernel threads, zombies: none
}

Result<uint64_t> MemAvailableBytes(const std::string& proc_root) {
  MIGRATE_ASSIGN_OR_RETURN(std::string text, ReadFile(proc_root + "/meminfo"));
  std::optional<uint64_t> bytes = KbField(text, "MemAvailable: %llu kB");
  if (!bytes) return Status::NotFound("no MemAvailable line in " + proc_root + "/meminfo");
  return *bytes;
}

uint64_t ProcessesRssBytes(const std::vector<int>& pids, const std::string& proc_root) {
  uint64_t total = 0;
  for (int pid : pids) {
    Result<uint64_t> rss = ProcessRssBytes(pid, proc_root);
    if (rss.ok()) total += *rss;
  }
  return total;
}

Result<std::vector<std::string>> ProcessCgroups(int pid, const std::string& proc_root) {
  Result<std::string> text = ReadFile(proc_root + "/" + std::to_string(pid) + "/cgroup");
  if (!text.ok()) return text.status();
  std::vector<std::string> lines;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

Result<int> EstablishedTcpConnections(int pid, const std::string& proc_root) {
  int established = 0;
  for (const char* table : {"tcp", "tcp6"}) {
    Result<std::string> text =
        ReadFile(proc_root + "/" + std::to_string(pid) + "/net/" + table);
    if (!text.ok()) {
      if (std::string(table) == "tcp6") continue;  // a kernel without IPv6
      return text.status();
    }
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // "  sl  local_address rem_address   st ...": the 4th field is the state.
      std::istringstream fields(line);
      std::string sl, local, remote, state;
      if (fields >> sl >> local >> remote >> state && state == "01") ++established;
    }
  }
  return established;
}

Status RemoveTree(const std::string& path) {
  if (path.empty() || path == "/") {
    return Status::InvalidArgument("refusing to remove \"" + path + "\"");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("stat " + path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("unlink " + path, errno);
    }
    return Status::Ok();
  }
  remove_errno = 0;
  if (::nftw(path.c_str(), RemoveOne, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
    if (remove_errno != 0) return Status::FromErrno("remove " + remove_failed_path, remove_errno);
    return Status::FromErrno("walk " + path, errno);
  }
  return Status::Ok();
}

Result<std::vector<int>> ProcessesUsing(const std::string& path, const std::string& proc_root) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("processes using: not an absolute path: " + path);
  }
  std::string target = path;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  auto within = [&](const std::string& link) {
    return link == target ||
           (link.size() > target.size() && link.compare(0, target.size(), target) == 0 &&
            (target == "/" || link[target.size()] == '/'));
  };
  auto read_link = [](const std::string& p) -> std::string {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof(buf) - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  DIR* proc = ::opendir(proc_root.c_str());
  if (proc == nullptr) return Status::FromErrno("list " + proc_root, errno);
  std::vector<int> pids;
  const int self = static_cast<int>(::getpid());
  while (dirent* de = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(de->d_name, &end, 10);
    if (end == de->d_name || *end != '\0' || pid <= 0 || pid == self) continue;
    const std::string base = proc_root + "/" + de->d_name;
    bool uses = within(read_link(base + "/cwd")) || within(read_link(base + "/root"));
    if (!uses) {
      Result<std::string> cmdline = ReadFile(base + "/cmdline");
      if (!cmdline.ok()) continue;  // gone
      for (size_t start = 0; start < cmdline->size() && !uses;) {
        size_t stop = cmdline->find('\0', start);
        if (stop == std::string::npos) stop = cmdline->size();
        uses = within(cmdline->substr(start, stop - start));
        start = stop + 1;
      }
    }
    if (!uses) {
      DIR* fds = ::opendir((base + "/fd").c_str());
      if (fds == nullptr) continue;  // gone, or a kernel thread
      while (dirent* fd = ::readdir(fds)) {
        if (fd->d_name[0] == '.') continue;
        if (within(read_link(base + "/fd/" + fd->d_name))) {
          uses = true;
          break;
        }
      }
      ::closedir(fds);
    }
    if (uses) pids.push_back(static_cast<int>(pid));
  }
  ::closedir(proc);
  return pids;
}

Result<bool> SharesHostNamespace(int pid, std::string_view ns, const std::string& proc_root) {
  struct stat mine, theirs;
  const std::string self = proc_root + "/self/ns/" + std::string(ns);
  const std::string other = proc_root + "/" + std::to_string(pid) + "/ns/" + std::string(ns);
  if (::stat(self.c_str(), &mine) != 0) return Status::FromErrno("stat " + self, errno);
  if (::stat(other.c_str(), &theirs) != 0) return Status::FromErrno("stat " + other, errno);
  return mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

namespace {

// The names in `dir` (no . or ..); empty when it cannot be listed (e.g. the process is gone).
std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = ::readdir(d)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  ::closedir(d);
  return names;
}

// Calls `on_lock(pid, fd, line)` for every "lock:" line of the fdinfo of every open file of
// `pids` (a file closed meanwhile is skipped).
template <typename OnLock>
void ForEachLockLine(const std::vector<int>& pids, const std::string& proc_root, OnLock on_lock) {
  for (int pid : pids) {
    const std::string fdinfo = proc_root + "/" + std::to_string(pid) + "/fdinfo";
    for (const std::string& fd : ListNames(fdinfo)) {
      Result<std::string> text = ReadFile(fdinfo + "/" + fd);
      if (!text.ok()) continue;  // closed meanwhile
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("lock:", 0) == 0) on_lock(pid, fd, line);
      }
    }
  }
}

}  // namespace

Result<int> FileLocksHeld(const std::vector<int>& pids, const std::string& proc_root) {
  int locks = 0;
  ForEachLockLine(pids, proc_root, [&](int, const std::string&, const std::string&) { ++locks; });
  return locks;
}

std::vector<std::string> WriteLeasesHeld(const std::vector<int>& pids,
                                        const std::string& proc_root) {
  std::vector<std::string> leases;
  ForEachLockLine(pids, proc_root, [&](int pid, const std::string& fd, const std::string& line) {
    // "lock:\t1: LEASE  ACTIVE    WRITE 151 00:2c:1234 0 EOF"
    std::istringstream words(line);
    std::string tag, number, kind, state, access;
    words >> tag >> number >> kind >> state >> access;
    if (kind != "LEASE" || access != "WRITE") return;
    const std::string link = proc_root + "/" + std::to_string(pid) + "/fd/" + fd;
    char target[4096];
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    const std::string path = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
    leases.push_back("pid " + std::to_string(pid) + ": " + access + " lease on " + path +
                     " (fd " + fd + ")");
  });
  return leases;
}

namespace {

// The task ids of `pids` (threads included) whose folder <proc>/<pid>/task/<tid> satisfies
// `has`; tasks that vanish meanwhile are skipped.
template <typename Predicate>
std::vector<int> TasksWhere(const std::vector<int>& pids, const std::string& proc_root,
                            Predicate has) {
  std::vector<int> found;
  for (int pid : pids) {
    const std::string tasks = proc_root + "/" + std::to_string(pid) + "/task";
    for (const std::string& tid : ListNames(tasks)) {
      if (has(tasks + "/" + tid)) found.push_back(std::atoi(tid.c_str()));
    }
  }
  return found;
}

// A task's state letter, the field after "(comm)" in its stat; '?' when unreadable.
char TaskState(const std::string& task_dir) {
  Result<std::string> stat = ReadFile(task_dir + "/stat");
  const size_t comm_end = stat.ok() ? stat->rfind(") ") : std::string::npos;
  return comm_end != std::string::npos && comm_end + 2 < stat->size() ? (*stat)[comm_end + 2] : '?';
}

// The values of the line "key:" of a task's status ("Uid" -> real, effective, saved, fs);
// empty when the line or the task is missing.
std::vector<std::string> StatusFields(const std::string& task_dir, std::string_view key) {
  std::vector<std::string> fields;
  Result<std::string> text = ReadFile(task_dir + "/status");
  if (!text.ok()) return fields;
  const std::string prefix = std::string(key) + ":";
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    std::istringstream values(line.substr(prefix.size()));
    for (std::string value; values >> value;) fields.push_back(value);
    break;
  }
  return fields;
}

unsigned long long StatusHex(const std::string& task_dir, std::string_view key) {
  std::vector<std::string> fields = StatusFields(task_dir, key);
  return fields.empty() ? 0 : std::strtoull(fields[0].c_str(), nullptr, 16);
}

}  // namespace

Result<std::vector<int>> StoppedTasks(const std::vector<int>& pids, const std::string& proc_root) {
  return TasksWhere(pids, proc_root, [](const std::string& task) {
    const char state = TaskState(task);
    return state == 'T' || state == 't';
  });
}

Result<std::vector<int>> TracedTasks(const std::vector<int>& pids, const std::string& proc_root) {
  return TasksWhere(pids, proc_root, [](const std::string& task) {
    std::vector<std::string> tracer = StatusFields(task, "TracerPid");
    return !tracer.empty() && tracer[0] != "0";
  });
}

Result<std::vector<int>> VforkParents(const std::vector<int>& pids, const std::string& proc_root) {
  return TasksWhere(pids, proc_root, [](const std::string& task) {
    if (TaskState(task) != 'D') return false;
    // wait_for_vfork_done() is inlined into kernel_clone() on recent kernels.
    Result<std::string> wchan = ReadFile(task + "/wchan");
    return wchan.ok() && (*wchan == "kernel_clone" || *wchan == "wait_for_vfork_done" ||
                          *wchan == "_do_fork" || *wchan == "do_fork");
  });
}

Result<std::vector<int>> TasksWithPendingSignal(const std::vector<int>& pids, int signo,
                                                const std::string& proc_root) {
  if (signo < 1 || signo > 64) return Status::InvalidArgument("no signal " + std::to_string(signo));
  const unsigned long long bit = 1ULL << (signo - 1);
  return TasksWhere(pids, proc_root, [bit](const std::string& task) {
    return ((StatusHex(task, "SigPnd") | StatusHex(task, "ShdPnd")) & bit) != 0;
  });
}

Result<std::vector<int>> TasksWithOtherIds(const std::vector<int>& pids, unsigned uid, unsigned gid,
                                           const std::string& proc_root) {
  auto other = [](const std::vector<std::string>& ids, unsigned mine) {
    for (size_t i = 0; i < ids.size() && i < 3; ++i) {  // real, effective, saved
      if (std::strtoul(ids[i].c_str(), nullptr, 10) != mine) return true;
    }
    return false;
  };
  return TasksWhere(pids, proc_root, [&](const std::string& task) {
    return other(StatusFields(task, "Uid"), uid) || other(StatusFields(task, "Gid"), gid);
  });
}

Result<std::vector<int>> TasksWithChildTimeNamespace(const std::vector<int>& pids,
                                                     const std::string& proc_root) {
  return TasksWhere(pids, proc_root, [](const std::string& task) {
    struct stat own, children;
    return ::stat((task + "/ns/time").c_str(), &own) == 0 &&
           ::stat((task + "/ns/time_for_children").c_str(), &children) == 0 &&
           (own.st_ino != children.st_ino || own.st_dev != children.st_dev);
  });
}

Result<std::vector<int>> TasksWithQueuedNotifyEvents(const std::vector<int>& pids,
                                                     const std::string& proc_root) {
  std::vector<int> found;
  for (int pid : pids) {
    const std::string fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
    int pidfd = -1;
    for (const std::string& name : ListNames(fd_dir)) {
      char target[64];
      const ssize_t n = ::readlink((fd_dir + "/" + name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string_view link(target, static_cast<size_t>(n));
      if (link != "anon_inode:inotify" && link != "anon_inode:[fanotify]") continue;
      if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
      if (pidfd < 0) break;
      const int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, std::atoi(name.c_str()), 0));
      if (fd < 0) continue;
      int queued = 0;
      const bool has = ::ioctl(fd, FIONREAD, &queued) == 0 && queued > 0;
      ::close(fd);
      if (has) {
        found.push_back(pid);
        break;
      }
    }
    if (pidfd >= 0) ::close(pidfd);
  }
  return found;
}

Result<bool> HasEffectiveCapability(int cap, const std::string& proc_root) {
  if (cap < 0 || cap > 63) return Status::InvalidArgument("no capability " + std::to_string(cap));
  std::vector<std::string> caps = StatusFields(proc_root + "/self", "CapEff");
  if (caps.empty()) return Status::NotFound("no CapEff in " + proc_root + "/self/status");
  return (std::strtoull(caps[0].c_str(), nullptr, 16) >> cap & 1ULL) != 0;
}

}  // namespace migrate::runtime
