#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/cgroup_mode_names.h"
#include "controller/version_compare.h"

namespace migrate::controller {
namespace {

TEST(CgroupModeNamesTest, RoundTripsEveryRealMode) {
  for (const char* name : {"ignore", "none", "props", "soft", "full", "strict"}) {
    Result<proto::CgroupMode> mode = ParseCgroupModeName(name);
    ASSERT_TRUE(mode.ok()) << name;
    EXPECT_NE(*mode, proto::CGROUP_MODE_UNSPECIFIED);
    EXPECT_EQ(CgroupModeName(*mode), name);
  }
  EXPECT_EQ(*ParseCgroupModeName("ignore"), proto::CGROUP_MODE_IGNORE);
  EXPECT_EQ(*ParseCgroupModeName("strict"), proto::CGROUP_MODE_STRICT);
}

TEST(CgroupModeNamesTest, RefusesUnknownAndUnspecified) {
  for (const char* name : {"", "IGNORE", "default", "unspecified", "soft "}) {
    Result<proto::CgroupMode> mode = ParseCgroupModeName(name);
    ASSERT_FALSE(mode.ok()) << name;
    EXPECT_THAT(mode.status().message(), ::testing::HasSubstr("ignore|none|props|soft"));
  }
  EXPECT_EQ(CgroupModeName(proto::CGROUP_MODE_UNSPECIFIED), "");
}

TEST(VersionCompareTest, ComparesNumerically) {
  EXPECT_EQ(*CompareVersions("4.1.1", "4.1.1"), 0);
  EXPECT_EQ(*CompareVersions("4.1", "4.1.0"), 0);
  EXPECT_EQ(*CompareVersions("4.1.1", "3.17.1"), 1);
  EXPECT_EQ(*CompareVersions("3.17.1", "4.1.1"), -1);
  EXPECT_EQ(*CompareVersions("3.9", "3.17"), -1) << "numeric, not lexicographic";
  EXPECT_EQ(*CompareVersions("4.1.1-rc2", "4.1.1"), 0);
  EXPECT_EQ(*CompareVersions("4.2", "4.1.9"), 1);
}

TEST(VersionCompareTest, RefusesNonVersions) {
  EXPECT_FALSE(CompareVersions("", "4.1").ok());
  EXPECT_FALSE(CompareVersions("v4.1", "4.1").ok());
  EXPECT_FALSE(CompareVersions("4.1", "unknown").ok());
}

}  // namespace
}  // namespace migrate::controller
