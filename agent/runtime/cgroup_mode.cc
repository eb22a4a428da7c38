#include "agent/runtime/cgroup_mode.h"

#include <optional>
#include <string>

#include "proto/cgroup_mode_names.h"

namespace migrate::runtime {

std::string CgroupModeName(CgroupMode mode) {
  return proto::CgroupModeName(CgroupModeToProto(mode));
}

Result<CgroupMode> ParseCgroupMode(std::string_view name) {
  std::optional<proto::CgroupMode> mode = proto::CgroupModeFromName(name);
  if (!mode) {
    return Status::InvalidArgument("unknown cgroup mode \"" + std::string(name) + "\" (expected " +
                                   proto::JoinedCgroupModeNames("|") + ")");
  }
  return CgroupModeFromProto(*mode);
}

Result<CgroupMode> CgroupModeFromProto(proto::CgroupMode mode) {
  switch (mode) {
    case proto::CGROUP_MODE_IGNORE:
      return CgroupMode::kIgnore;
    case proto::CGROUP_MODE_NONE:
      return CgroupMode::kNone;
    case proto::CGROUP_MODE_PROPS:
      return CgroupMode::kProps;
    case proto::CGROUP_MODE_SOFT:
      return CgroupMode::kSoft;
    case proto::CGROUP_MODE_FULL:
      return CgroupMode::kFull;
    case proto::CGROUP_MODE_STRICT:
      return CgroupMode::kStrict;
    case proto::CGROUP_MODE_UNSPECIFIED:
      return Status::InvalidArgument("cgroup mode is unspecified: a mode must be chosen");
    default:
      break;
  }
  return Status::InvalidArgument("unknown cgroup mode number " +
                                 std::to_string(static_cast<int>(mode)));
}

proto::CgroupMode CgroupModeToProto(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kIgnore:
      return proto::CGROUP_MODE_IGNORE;
    case CgroupMode::kNone:
      return proto::CGROUP_MODE_NONE;
    case CgroupMode::kProps:
      return proto::CGROUP_MODE_PROPS;
    case CgroupMode::kSoft:
      return proto::CGROUP_MODE_SOFT;
    case CgroupMode::kFull:
      return proto::CGROUP_MODE_FULL;
    case CgroupMode::kStrict:
      return proto::CGROUP_MODE_STRICT;
  }
  return proto::CGROUP_MODE_UNSPECIFIED;
}

int CgroupModeToCriuRpc(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kIgnore:
      return criu_rpc::kIgnore;
    case CgroupMode::kNone:
      return criu_rpc::kCgNone;
    case CgroupMode::kProps:
      return criu_rpc::kProps;
    case CgroupMode::kSoft:
      return criu_rpc::kSoft;
    case CgroupMode::kFull:
      return criu_rpc::kFull;
    case CgroupMode::kStrict:
      return criu_rpc::kStrict;
  }
  return -1;
}

Result<CgroupMode> CgroupModeFromCriuRpc(int value) {
  switch (value) {
    case criu_rpc::kIgnore:
      return CgroupMode::kIgnore;
    case criu_rpc::kCgNone:
      return CgroupMode::kNone;
    case criu_rpc::kProps:
      return CgroupMode::kProps;
    case criu_rpc::kSoft:
      return CgroupMode::kSoft;
    case criu_rpc::kFull:
      return CgroupMode::kFull;
    case criu_rpc::kStrict:
      return CgroupMode::kStrict;
    case criu_rpc::kDefault:
      return CgroupMode::kSoft;
    default:
      break;
  }
  return Status::InvalidArgument("unknown CRIU cgroup mode number " + std::to_string(value));
}

int CgroupModeToCriuFlag(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kIgnore:
      return 0;
    case CgroupMode::kNone:
      return 0x1;
    case CgroupMode::kProps:
      return 0x2;
    case CgroupMode::kSoft:
      return 0x4;
    case CgroupMode::kFull:
      return 0x8;
    case CgroupMode::kStrict:
      return 0x10;
  }
  return -1;
}

Result<CgroupMode> CgroupModeFromCriuFlag(int flag) {
  switch (flag) {
    case 0:
      return CgroupMode::kIgnore;
    case 0x1:
      return CgroupMode::kNone;
    case 0x2:
      return CgroupMode::kProps;
    case 0x4:
      return CgroupMode::kSoft;
    case 0x8:
      return CgroupMode::kFull;
    case 0x10:
      return CgroupMode::kStrict;
    default:
      break;
  }
  return Status::InvalidArgument("unknown CRIU cgroup mode flag " + std::to_string(flag));
}

bool IgnoreLosesCgroupNamespace(int criu_major, int criu_minor, int criu_patch) {
  const int version = criu_major * 10000 + criu_minor * 100 + criu_patch;
  return version <= 40201;  // 4.2.1, the last release checked
}

}  // namespace migrate::runtime
