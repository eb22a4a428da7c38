// A container's cgroup as folders in every mounted cgroup hierarchy: whether it exists, and
// removing it once it is empty (a rollback removes only a cgroup its own restore made).
#pragma once

#include <string>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::runtime {

// The folder of `cgroup_path` (absolute) in each mounted hierarchy, existing or not.
std::vector<std::string> CgroupDirs(const std::string& cgroup_path,
                                    const std::string& mountinfo_path = "/proc/self/mountinfo");

// True when `cgroup_path` (absolute, e.g. /migrate/web) exists in any hierarchy mounted as
// `mountinfo_path` lists them.
bool CgroupPathExists(const std::string& cgroup_path,
                      const std::string& mountinfo_path = "/proc/self/mountinfo");

// rmdir of `cgroup_path` in every hierarchy where it exists. The kernel refuses a cgroup with
// tasks or children (EBUSY): that one is reported and left, never forced.
Status RemoveEmptyCgroup(const std::string& cgroup_path,
                         const std::string& mountinfo_path = "/proc/self/mountinfo");

// The folder that freezes the cgroup task `pid` is in: in the v1 freezer hierarchy (it has
// freezer.state) when the task has one, else in the v2 hierarchy (cgroup.freeze).
Result<std::string> FreezerDirOf(int pid, const std::string& proc_root = "/proc",
                                 const std::string& mountinfo_path = "/proc/self/mountinfo");

}  // namespace migrate::runtime
