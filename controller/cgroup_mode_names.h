// The CLI's names for cgroup modes: "ignore|none|props|soft|full|strict" <-> proto::CgroupMode.
#pragma once

#include <string>
#include <string_view>

#include "proto/common.pb.h"
#include "transfer/status.h"

namespace migrate::controller {

// Parses a lowercase mode name. CGROUP_MODE_UNSPECIFIED is never returned: an unknown name is
// InvalidArgument naming the accepted ones.
Result<proto::CgroupMode> ParseCgroupModeName(std::string_view name);

// "ignore", "none", "props", "soft", "full", "strict"; "" for CGROUP_MODE_UNSPECIFIED (and for
// values outside the enum).
std::string CgroupModeName(proto::CgroupMode mode);

// The names accepted by ParseCgroupModeName, "ignore|none|props|soft|full|strict".
std::string_view CgroupModeNamesForHelp();

}  // namespace migrate::controller
