#include "agent/runtime/version.h"

#include <gtest/gtest.h>

namespace migrate::runtime {
namespace {

TEST(VersionTest, RuncOutput) {
  Result<Version> v = ParseRuncVersionOutput(
      "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->major, 1);
  EXPECT_EQ(v->minor, 1);
  EXPECT_EQ(v->patch, 5);
  EXPECT_EQ(v->text, "1.1.5+ds1");
  EXPECT_EQ(v->ToString(), "1.1.5");

  Result<Version> rc = ParseRuncVersionOutput("runc version 1.2.0-rc.1\ncommit: v1.2.0-rc.1\n");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->ToString(), "1.2.0");
  Result<Version> v13 = ParseRuncVersionOutput("runc version 1.3.0\n");
  ASSERT_TRUE(v13.ok());
  EXPECT_TRUE(v13->AtLeast(1, 3, 0));
  EXPECT_FALSE(v->AtLeast(1, 3, 0));
  EXPECT_FALSE(ParseRuncVersionOutput("crun version 1.8.1\n").ok());
  EXPECT_FALSE(ParseRuncVersionOutput("").ok());
}

TEST(VersionTest, CriuOutput) {
  Result<Version> v = ParseCriuVersionOutput("Version: 4.1.1\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ToString(), "4.1.1");
  Result<Version> two = ParseCriuVersionOutput("Version: 4.1\nGitID: v4.1-12-gabc\n");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->ToString(), "4.1.0");
  Result<Version> old = ParseCriuVersionOutput("Version: 3.17.1\n");
  ASSERT_TRUE(old.ok());
  EXPECT_LT(*old, *v);
  EXPECT_FALSE(ParseCriuVersionOutput("criu: command not found").ok());
}

TEST(VersionTest, CrunAndKernel) {
  Result<Version> crun = ParseCrunVersionOutput("crun version 1.8.1\ncommit: f8a0\n+SYSTEMD\n");
  ASSERT_TRUE(crun.ok());
  EXPECT_EQ(crun->ToString(), "1.8.1");
  Result<Version> k = ParseKernelRelease("6.18.44-fc-v657");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->major, 6);
  EXPECT_EQ(k->minor, 18);
  EXPECT_EQ(k->patch, 44);
  Result<Version> deb = ParseKernelRelease("6.1.0-18-amd64");
  ASSERT_TRUE(deb.ok());
  EXPECT_EQ(deb->ToString(), "6.1.0");
}

TEST(VersionTest, Ordering) {
  auto v = [](const char* s) { return *ParseVersion(s); };
  EXPECT_LT(v("1.1.5"), v("1.1.15"));  // numeric, not lexical
  EXPECT_LT(v("1.1.15"), v("1.2.0"));
  EXPECT_LT(v("1.2.9"), v("1.3.0"));
  EXPECT_EQ(v("1.3"), v("1.3.0"));
  EXPECT_EQ(v("v1.3.0"), v("1.3.0"));
  EXPECT_FALSE(ParseVersion("x1.2").ok());
  EXPECT_FALSE(ParseVersion("").ok());
}

}  // namespace
}  // namespace migrate::runtime
