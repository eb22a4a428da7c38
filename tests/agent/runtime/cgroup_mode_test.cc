#include "agent/runtime/cgroup_mode.h"

#include <gtest/gtest.h>

#include <set>

namespace migrate::runtime {
namespace {

TEST(CgroupModeTest, UnspecifiedProtoIsNeverAMode) {
  Result<CgroupMode> mode = CgroupModeFromProto(proto::CGROUP_MODE_UNSPECIFIED);
  ASSERT_FALSE(mode.ok());
  EXPECT_EQ(mode.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mode.status().message().find("unspecified"), std::string::npos);
  EXPECT_FALSE(CgroupModeFromProto(static_cast<proto::CgroupMode>(42)).ok());
}

TEST(CgroupModeTest, ProtoMappingIsExplicit) {
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_IGNORE), CgroupMode::kIgnore);
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_NONE), CgroupMode::kNone);
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_PROPS), CgroupMode::kProps);
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_SOFT), CgroupMode::kSoft);
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_FULL), CgroupMode::kFull);
  EXPECT_EQ(*CgroupModeFromProto(proto::CGROUP_MODE_STRICT), CgroupMode::kStrict);
  for (CgroupMode mode : kAllCgroupModes) {
    EXPECT_NE(CgroupModeToProto(mode), proto::CGROUP_MODE_UNSPECIFIED);
    EXPECT_EQ(*CgroupModeFromProto(CgroupModeToProto(mode)), mode);
  }
}

TEST(CgroupModeTest, CriuRpcNumbersMatchRpcProto) {
  // images/rpc.proto: IGNORE=0, CG_NONE=1, PROPS=2, SOFT=3, FULL=4, STRICT=5, DEFAULT=6.
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kIgnore), 0);
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kNone), 1);
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kProps), 2);
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kSoft), 3);
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kFull), 4);
  EXPECT_EQ(CgroupModeToCriuRpc(CgroupMode::kStrict), 5);
  EXPECT_EQ(*CgroupModeFromCriuRpc(6), CgroupMode::kSoft) << "DEFAULT is soft";
  EXPECT_EQ(*CgroupModeFromCriuRpc(0), CgroupMode::kIgnore);
  EXPECT_FALSE(CgroupModeFromCriuRpc(7).ok());
  EXPECT_FALSE(CgroupModeFromCriuRpc(-1).ok());
  for (CgroupMode mode : kAllCgroupModes) {
    EXPECT_EQ(*CgroupModeFromCriuRpc(CgroupModeToCriuRpc(mode)), mode);
  }
}

TEST(CgroupModeTest, OurEnumHasNoZeroMode) {
  std::set<int> values;
  for (CgroupMode mode : kAllCgroupModes) {
    EXPECT_NE(static_cast<int>(mode), 0);
    values.insert(static_cast<int>(mode));
  }
  EXPECT_EQ(values.size(), kAllCgroupModes.size());
}

TEST(CgroupModeTest, NamesRoundTripAndRejectOthers) {
  for (CgroupMode mode : kAllCgroupModes) {
    EXPECT_EQ(*ParseCgroupMode(CgroupModeName(mode)), mode);
  }
  EXPECT_EQ(*ParseCgroupMode("ignore"), CgroupMode::kIgnore);
  EXPECT_EQ(*ParseCgroupMode("strict"), CgroupMode::kStrict);
  for (const char* bad : {"", "IGNORE", " soft", "default", "unspecified", "cg_none"}) {
    EXPECT_FALSE(ParseCgroupMode(bad).ok()) << bad;
  }
}

TEST(CgroupModeTest, CriuLogFlags) {
  EXPECT_EQ(*CgroupModeFromCriuFlag(0x1), CgroupMode::kNone);
  EXPECT_EQ(*CgroupModeFromCriuFlag(0x2), CgroupMode::kProps);
  EXPECT_EQ(*CgroupModeFromCriuFlag(0x4), CgroupMode::kSoft);
  EXPECT_EQ(*CgroupModeFromCriuFlag(0x8), CgroupMode::kFull);
  EXPECT_EQ(*CgroupModeFromCriuFlag(0x10), CgroupMode::kStrict);
  EXPECT_FALSE(CgroupModeFromCriuFlag(0x3).ok());
  for (CgroupMode mode : kAllCgroupModes) {
    EXPECT_EQ(*CgroupModeFromCriuFlag(CgroupModeToCriuFlag(mode)), mode);
  }
}

}  // namespace
}  // namespace migrate::runtime
