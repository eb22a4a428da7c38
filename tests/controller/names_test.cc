#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/version_compare.h"

namespace migrate::controller {
namespace {

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
