// Cgroup modes of CRIU, and the explicit mappings between our wire enum, our internal enum,
// CRIU's RPC enum and the names users type.
//
// Why explicit: CRIU's RPC enum has IGNORE = 0, and runtimes that test "mode != 0" silently
// drop it (runc 1.1/1.2 run soft when ignore is asked). Our own wire enum starts at
// CGROUP_MODE_UNSPECIFIED = 0, which is never a real mode and maps to an error.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "proto/common.pb.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

// Internal enum: no zero-valued "default" that could be mistaken for a choice.
enum class CgroupMode {
  kIgnore = 1,  // CRIU leaves cgroups alone; restored tasks stay in the runtime's cgroup.
  kNone,        // CRIU "none": no cgroup restore beyond what the runtime set up.
  kProps,       // CRIU "props": restore properties only.
  kSoft,        // CRIU "soft" (its default): restore properties, reuse existing dirs.
  kFull,        // CRIU "full": restore everything, create missing dirs.
  kStrict,      // CRIU "strict": fail on any existing cgroup.
};

inline constexpr std::array<CgroupMode, 6> kAllCgroupModes = {
    CgroupMode::kIgnore, CgroupMode::kNone, CgroupMode::kProps,
    CgroupMode::kSoft,   CgroupMode::kFull, CgroupMode::kStrict};

// CRIU's criu_cg_mode numbers (images/rpc.proto).
namespace criu_rpc {
inline constexpr int kIgnore = 0;
inline constexpr int kCgNone = 1;
inline constexpr int kProps = 2;
inline constexpr int kSoft = 3;
inline constexpr int kFull = 4;
inline constexpr int kStrict = 5;
inline constexpr int kDefault = 6;  // CRIU treats it as soft.
}  // namespace criu_rpc

// Modes in which a restored container can be put into a new cgroup path (the runtime's
// cgroupsPath): ignore (CRIU leaves cgroups to the runtime) and soft (the runtime hands CRIU
// the new path as cg_root, and CRIU rewrites the dumped paths to it; measured on every runc
// and crun 1.21, docs/runtime-measurements.md). The other modes restore the dumped paths.
inline constexpr bool ModeTakesCgroupPath(CgroupMode mode) {
  return mode == CgroupMode::kIgnore || mode == CgroupMode::kSoft;
}

// Restoring in ignore mode loses a container's own cgroup namespace with every CRIU up to
// 4.2.1 (runc #5417; CRIU's fix, PR #3139, is in no release yet): true for such a CRIU.
bool IgnoreLosesCgroupNamespace(int criu_major, int criu_minor, int criu_patch);

// "ignore", "none", "props", "soft", "full", "strict" (also CRIU's manage-cgroups values),
// the names of proto/cgroup_mode_names.h.
std::string CgroupModeName(CgroupMode mode);
// Parses a name as above (case-sensitive, no surrounding spaces). InvalidArgument otherwise.
Result<CgroupMode> ParseCgroupMode(std::string_view name);

// proto::CGROUP_MODE_UNSPECIFIED (or an unknown number) -> InvalidArgument.
Result<CgroupMode> CgroupModeFromProto(proto::CgroupMode mode);
proto::CgroupMode CgroupModeToProto(CgroupMode mode);

// Our mode -> CRIU's criu_cg_mode number (IGNORE is 0 there).
int CgroupModeToCriuRpc(CgroupMode mode);
// CRIU's number -> our mode; DEFAULT (6) is soft. Unknown numbers -> InvalidArgument.
Result<CgroupMode> CgroupModeFromCriuRpc(int value);

// CRIU's internal bit flags, printed in restore.log as
// "cg: Preparing cgroups yard (cgroups restore mode 0x..)": none 0x1, props 0x2, soft 0x4,
// full 0x8, strict 0x10. Ignore has no bit (CRIU prints no such line).
int CgroupModeToCriuFlag(CgroupMode mode);
Result<CgroupMode> CgroupModeFromCriuFlag(int flag);

}  // namespace migrate::runtime
