#include "agent/runtime/cgroup_paths.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <vector>

#include "agent/runtime/file_util.h"
#include "agent/runtime/node_probe.h"

namespace migrate::runtime {
namespace {

}  // namespace

std::vector<std::string> CgroupDirs(const std::string& cgroup_path,
                                    const std::string& mountinfo_path) {
  std::vector<std::string> dirs;
  Result<std::string> mountinfo = ReadFile(mountinfo_path);
  if (!mountinfo.ok() || cgroup_path.empty() || cgroup_path[0] != '/') return dirs;
  for (const CgroupMount& mount : ParseCgroupMounts(*mountinfo)) {
    dirs.push_back(mount.mount_point + cgroup_path);
  }
  return dirs;
}

namespace {

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The path after the second ':' of the /proc/<pid>/cgroup line whose controllers satisfy
// `wanted` ("" when none).
template <typename Pred>
std::string CgroupLinePath(std::string_view text, Pred wanted) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    if (wanted(line.substr(a + 1, b - a - 1))) return std::string(line.substr(b + 1));
  }
  return {};
}

bool HasFreezer(std::string_view controllers) {
  size_t pos = 0;
  while (pos <= controllers.size()) {
    size_t end = controllers.find(',', pos);
    if (end == std::string_view::npos) end = controllers.size();
    if (controllers.substr(pos, end - pos) == "freezer") return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

Result<std::string> FreezerDirOf(int pid, const std::string& proc_root,
                                 const std::string& mountinfo_path) {
  const std::string cgroup_file = proc_root + "/" + std::to_string(pid) + "/cgroup";
  MIGRATE_ASSIGN_OR_RETURN(std::string text, ReadFile(cgroup_file));
  MIGRATE_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile(mountinfo_path));
  const std::vector<CgroupMount> mounts = ParseCgroupMounts(mountinfo);
  const std::string v1 = CgroupLinePath(text, HasFreezer);
  const std::string v2 = CgroupLinePath(text, [](std::string_view c) { return c.empty(); });
  for (const CgroupMount& m : mounts) {
    if (!v1.empty() && !m.v2 && IsFile(m.mount_point + v1 + "/freezer.state")) {
      return m.mount_point + v1;
    }
  }
  for (const CgroupMount& m : mounts) {
    if (!v2.empty() && m.v2 && IsFile(m.mount_point + v2 + "/cgroup.freeze")) {
      return m.mount_point + v2;
    }
  }
  return Status::FailedPrecondition("no freezer for task " + std::to_string(pid) + " (" +
                                    cgroup_file + ")");
}

bool CgroupPathExists(const std::string& cgroup_path, const std::string& mountinfo_path) {
  for (const std::string& dir : CgroupDirs(cgroup_path, mountinfo_path)) {
    if (IsDir(dir)) return true;
  }
  return false;
}

Status RemoveEmptyCgroup(const std::string& cgroup_path, const std::string& mountinfo_path) {
  if (cgroup_path.empty() || cgroup_path == "/") {
    return Status::InvalidArgument("refusing to remove cgroup \"" + cgroup_path + "\"");
  }
  std::string busy;
  for (const std::string& dir : CgroupDirs(cgroup_path, mountinfo_path)) {
    if (!IsDir(dir) || ::rmdir(dir.c_str()) == 0 || errno == ENOENT) continue;
    busy += (busy.empty() ? "" : ", ") + dir + " (" + std::string(strerror(errno)) + ")";
  }
  if (!busy.empty()) return Status::FailedPrecondition("cgroup left in place: " + busy);
  return Status::Ok();
}

}  // namespace migrate::runtime
