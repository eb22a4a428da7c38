// CRIU's stats images: read back what CRIU writes (magics, a length, the entry), and refuse
// what is not one.
#include "agent/runtime/criu_stats.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace migrate::runtime {
namespace {

class CriuStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "migrate-stats-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
  }
  std::string dir_;
};

TEST_F(CriuStatsTest, ReadsTheDumpAndRestoreEntries) {
  criu::StatsEntry dump;
  dump.mutable_dump()->set_freezing_time(1200);
  dump.mutable_dump()->set_frozen_time(450000);
  dump.mutable_dump()->set_pages_written(65536);
  Write("stats-dump", CriuStatsImage(dump));
  criu::StatsEntry restore;
  restore.mutable_restore()->set_restore_time(310000);
  Write("stats-restore", CriuStatsImage(restore));

  Result<criu::StatsEntry> d = ReadCriuStats(dir_, "stats-dump");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->dump().frozen_time(), 450000u);
  EXPECT_EQ(d->dump().pages_written(), 65536u);
  Result<criu::StatsEntry> r = ReadCriuStats(dir_, "stats-restore");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->restore().restore_time(), 310000u);
}

TEST_F(CriuStatsTest, MissingIsNotFoundAndGarbageIsDataLoss) {
  EXPECT_EQ(ReadCriuStats(dir_, "stats-dump").status().code(), StatusCode::kNotFound);
  criu::StatsEntry dump;
  dump.mutable_dump()->set_frozen_time(1);
  std::string image = CriuStatsImage(dump);
  std::string wrong_magic = image;
  wrong_magic[4] ^= 1;
  std::string cut = image.substr(0, image.size() - 1);
  std::string huge = image;
  huge[10] = 0x7f;  // length far beyond the file
  for (const std::string& bad : {std::string("short"), wrong_magic, cut, huge}) {
    Write("stats-dump", bad);
    EXPECT_EQ(ReadCriuStats(dir_, "stats-dump").status().code(), StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace migrate::runtime
