#include "proto/cgroup_mode_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace migrate::proto {
namespace {

TEST(CgroupModeNamesTest, NamesEveryRealModeAsCriuSpellsIt) {
  EXPECT_THAT(CgroupModeNames(),
              ::testing::ElementsAre("ignore", "none", "props", "soft", "full", "strict"));
  EXPECT_EQ(CgroupModeName(CGROUP_MODE_IGNORE), "ignore");
  EXPECT_EQ(CgroupModeName(CGROUP_MODE_STRICT), "strict");
  EXPECT_EQ(JoinedCgroupModeNames("|"), "ignore|none|props|soft|full|strict");
}

TEST(CgroupModeNamesTest, RoundTripsEveryRealMode) {
  for (const std::string& name : CgroupModeNames()) {
    std::optional<CgroupMode> mode = CgroupModeFromName(name);
    ASSERT_TRUE(mode.has_value()) << name;
    EXPECT_NE(*mode, CGROUP_MODE_UNSPECIFIED);
    EXPECT_EQ(CgroupModeName(*mode), name);
  }
}

TEST(CgroupModeNamesTest, RefusesUnknownAndUnspecified) {
  for (const char* name : {"", "IGNORE", "Ignore", "default", "unspecified", "soft ", " soft"}) {
    EXPECT_FALSE(CgroupModeFromName(name).has_value()) << '"' << name << '"';
  }
  EXPECT_EQ(CgroupModeName(CGROUP_MODE_UNSPECIFIED), "");
  EXPECT_EQ(CgroupModeName(static_cast<CgroupMode>(99)), "");
}

}  // namespace
}  // namespace migrate::proto
