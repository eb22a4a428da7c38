// A container's cgroup as folders in every mounted cgroup hierarchy: whether it exists, and
// removing it once it is empty (a rollback removes only a cgroup its own restore made).
#pragma once

#include <string>

#include "transfer/base/status.h"

namespace migrate::runtime {

// True when `cgroup_path` (absolute, e.g. /migrate/web) exists in any hierarchy mounted as
// `mountinfo_path` lists them.
bool CgroupPathExists(const std::string& cgroup_path,
                      const std::string& mountinfo_path = "/proc/self/mountinfo");

// rmdir of `cgroup_path` in every hierarchy where it exists. The kernel refuses a cgroup with
// tasks or children (EBUSY): that one is reported and left, never forced.
Status RemoveEmptyCgroup(const std::string& cgroup_path,
                         const std::string& mountinfo_path = "/proc/self/mountinfo");

}  // namespace migrate::runtime
