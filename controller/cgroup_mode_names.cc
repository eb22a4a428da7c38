#include "controller/cgroup_mode_names.h"

#include <array>
#include <utility>

namespace migrate::controller {
namespace {

constexpr std::array<std::pair<std::string_view, proto::CgroupMode>, 6> kModes = {{
    {"ignore", proto::CGROUP_MODE_IGNORE},
    {"none", proto::CGROUP_MODE_NONE},
    {"props", proto::CGROUP_MODE_PROPS},
    {"soft", proto::CGROUP_MODE_SOFT},
    {"full", proto::CGROUP_MODE_FULL},
    {"strict", proto::CGROUP_MODE_STRICT},
}};

}  // namespace

Result<proto::CgroupMode> ParseCgroupModeName(std::string_view name) {
  for (const auto& [text, mode] : kModes) {
    if (text == name) return mode;
  }
  return Status::InvalidArgument("unknown cgroup mode \"" + std::string(name) + "\" (expected " +
                                 std::string(CgroupModeNamesForHelp()) + ")");
}

std::string CgroupModeName(proto::CgroupMode mode) {
  for (const auto& [text, value] : kModes) {
    if (value == mode) return std::string(text);
  }
  return "";
}

std::string_view CgroupModeNamesForHelp() { return "ignore|none|props|soft|full|strict"; }

}  // namespace migrate::controller
