// One mapping of a checkpoint's and a restore's results to what the API reports, CRIU's own
// statistics included when CRIU left them in its work directory.
#include "agent/runtime/result_proto.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "agent/runtime/criu_stats.h"

namespace migrate::runtime {
namespace {

class ResultProtoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "migrate-result-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ResultProtoTest, CheckpointCarriesTheProofTimesWarningsAndCriuStats) {
  criu::StatsEntry stats;
  stats.mutable_dump()->set_frozen_time(450000);
  std::ofstream(dir_ + "/stats-dump", std::ios::binary) << CriuStatsImage(stats);
  CheckpointResult result;
  result.work_dir = dir_;
  result.dump_mode.requested = CgroupMode::kIgnore;
  result.dump_mode.effective = CgroupMode::kIgnore;
  result.started = std::chrono::system_clock::time_point(std::chrono::milliseconds(1234));
  result.checkpoint_duration = std::chrono::milliseconds(56);
  result.criu_warnings = {"inotify events dropped"};
  proto::CheckpointSendResponse out = CheckpointResultToProto(result);
  EXPECT_EQ(out.dump_mode().effective(), proto::CGROUP_MODE_IGNORE);
  EXPECT_EQ(out.freeze_unix_ms(), 1234u);
  EXPECT_EQ(out.checkpoint_ms(), 56u);
  ASSERT_EQ(out.criu_warnings_size(), 1);
  EXPECT_EQ(out.criu_stats().frozen_time(), 450000u);
}

TEST_F(ResultProtoTest, RestoreCarriesPidCgroupsLoopbackAndCriuStats) {
  criu::StatsEntry stats;
  stats.mutable_restore()->set_restore_time(310000);
  std::ofstream(dir_ + "/stats-restore", std::ios::binary) << CriuStatsImage(stats);
  RestoreResult result;
  result.work_dir = dir_;
  result.restore_mode.requested = CgroupMode::kSoft;
  result.restore_mode.effective = CgroupMode::kSoft;
  result.init_pid = 4242;
  result.cgroups = {"4:memory:/host-b/c1"};
  result.loopback.up = true;
  result.loopback.has_ipv4 = false;  // up without 127.0.0.1 is not a working loopback
  proto::RestoreResponse out = RestoreResultToProto(result);
  EXPECT_EQ(out.restore_mode().effective(), proto::CGROUP_MODE_SOFT);
  EXPECT_EQ(out.init_pid(), 4242);
  ASSERT_EQ(out.cgroups_size(), 1);
  EXPECT_FALSE(out.loopback_up());
  EXPECT_EQ(out.criu_stats().restore_time(), 310000u);
}

TEST_F(ResultProtoTest, NoStatsWhereCriuLeftNone) {
  CheckpointResult checkpoint;
  checkpoint.work_dir = dir_;
  EXPECT_FALSE(CheckpointResultToProto(checkpoint).has_criu_stats());
  RestoreResult restore;
  restore.work_dir = dir_ + "/missing";
  EXPECT_FALSE(RestoreResultToProto(restore).has_criu_stats());
}

}  // namespace
}  // namespace migrate::runtime
