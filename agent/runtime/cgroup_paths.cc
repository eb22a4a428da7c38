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

// The folder of `cgroup_path` in each mounted hierarchy (existing or not).
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

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

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
