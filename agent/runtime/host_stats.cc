#include "agent/runtime/host_stats.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

// nftw offers no user pointer; these are per-thread so that concurrent walks do not mix.
thread_local uint64_t tree_bytes = 0;
thread_local int remove_errno = 0;
thread_local std::string remove_failed_path;

int AddSize(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F || type == FTW_SL || type == FTW_SLN) {
    tree_bytes += static_cast<uint64_t>(st->st_size);
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

Result<uint64_t> TreeBytes(const std::string& path) {
  tree_bytes = 0;
  if (::nftw(path.c_str(), AddSize, 64, FTW_PHYS | FTW_MOUNT) != 0) {
    return Status::FromErrno("walk " + path, errno);
  }
  return tree_bytes;
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

}  // namespace

Result<int> FileLocksHeld(const std::vector<int>& pids, const std::string& proc_root) {
  int locks = 0;
  for (int pid : pids) {
    const std::string fdinfo = proc_root + "/" + std::to_string(pid) + "/fdinfo";
    for (const std::string& fd : ListNames(fdinfo)) {
      Result<std::string> text = ReadFile(fdinfo + "/" + fd);
      if (!text.ok()) continue;  // closed meanwhile
      for (size_t at = text->find("lock:"); at != std::string::npos;
           at = text->find("lock:", at + 5)) {
        ++locks;
      }
    }
  }
  return locks;
}

Result<std::vector<int>> StoppedTasks(const std::vector<int>& pids, const std::string& proc_root) {
  std::vector<int> stopped;
  for (int pid : pids) {
    const std::string tasks = proc_root + "/" + std::to_string(pid) + "/task";
    for (const std::string& tid : ListNames(tasks)) {
      // The state is the field after "(comm)" in stat: T stopped, t traced-stopped.
      Result<std::string> stat = ReadFile(tasks + "/" + tid + "/stat");
      const size_t comm_end = stat.ok() ? stat->rfind(") ") : std::string::npos;
      if (comm_end != std::string::npos && comm_end + 2 < stat->size() &&
          ((*stat)[comm_end + 2] == 'T' || (*stat)[comm_end + 2] == 't')) {
        stopped.push_back(std::atoi(tid.c_str()));
      }
    }
  }
  return stopped;
}

}  // namespace migrate::runtime
