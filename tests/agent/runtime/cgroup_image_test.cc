#include "agent/runtime/cgroup_image.h"

#include <gtest/gtest.h>

#include <cstring>

namespace migrate::runtime {
namespace {

std::string Path(const char* name) { return std::string(MIGRATE_RUNTIME_TESTDATA) + "/" + name; }

TEST(CgroupImageTest, SoftDumpCarriesTheContainerDirs) {
  Result<CgroupImageSummary> s = ReadCgroupImage(Path("cgroup-soft.img"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GE(s->sets, 1);
  EXPECT_FALSE(s->controllers.empty());
  EXPECT_GT(s->total_dirs, 0);
  bool found_memory = false;
  for (const CgroupImageController& c : s->controllers) {
    for (const std::string& n : c.names) found_memory = found_memory || n == "memory";
  }
  EXPECT_TRUE(found_memory);
}

TEST(CgroupImageTest, IgnoreDumpHasControllersButNoDirs) {
  Result<CgroupImageSummary> s = ReadCgroupImage(Path("cgroup-ignore.img"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->controllers.empty());
  EXPECT_EQ(s->total_dirs, 0);
}

TEST(CgroupImageTest, RejectsGarbage) {
  EXPECT_FALSE(ParseCgroupImage("").ok());
  EXPECT_FALSE(ParseCgroupImage(std::string(16, '\0')).ok());
  Result<CgroupImageSummary> s = ReadCgroupImage(Path("cgroup-soft.img"));
  ASSERT_TRUE(s.ok());
  // Truncate a real image in the middle of its entry.
  std::string bytes(12, '\0');
  const uint32_t magic[2] = {0x54564319, 0x59383330};
  std::memcpy(bytes.data(), magic, 8);
  const uint32_t size = 1000;
  std::memcpy(bytes.data() + 8, &size, 4);
  EXPECT_FALSE(ParseCgroupImage(bytes).ok());
  EXPECT_EQ(ReadCgroupImage(Path("missing.img")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace migrate::runtime
