// The name of each real cgroup mode: the one users type (--cgroups-mode), reports print and
// CRIU reads (manage-cgroups=<name>). CGROUP_MODE_IGNORE is "ignore": the names are derived
// from the enum in proto/common.proto, their only spelling.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/common.pb.h"

namespace migrate::proto {

// "ignore", "none", "props", "soft", "full", "strict"; "" for CGROUP_MODE_UNSPECIFIED and for
// numbers outside the enum.
std::string CgroupModeName(CgroupMode mode);
// The mode of an exact, lowercase name; nullopt for anything else ("", "IGNORE", "soft ",
// "unspecified"): CGROUP_MODE_UNSPECIFIED is never returned.
std::optional<CgroupMode> CgroupModeFromName(std::string_view name);
// The names of every real mode, in the enum's order (for a CLI's list of choices).
const std::vector<std::string>& CgroupModeNames();
// Those names joined: JoinedCgroupModeNames("|") is "ignore|none|props|soft|full|strict".
std::string JoinedCgroupModeNames(std::string_view separator);

}  // namespace migrate::proto
