// EarlyFreeze against a stand-in freezer (a folder with freezer.state, as cgroup v1 has) and
// a CRIU log the test writes: it freezes once the dump run starts, undoes its freeze when
// CRIU says it froze the cgroup itself, and does nothing when the dump never starts.
#include "agent/early_freeze.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/fake_runtime.h"
#include "tests/support/poll.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

class EarlyFreezeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/early-freeze-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "freezer");
    Write(freezer_state(), "THAWED");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path freezer_state() const { return dir_ / "freezer" / "freezer.state"; }
  std::string log() const { return (dir_ / "dump.log").string(); }
  std::string freezer() const { return (dir_ / "freezer").string(); }

  fs::path dir_;
};

TEST_F(EarlyFreezeTest, FreezesOnceCriusDumpRunStarts) {
  EarlyFreeze freeze(log(), freezer());
  Write(log(), "(00.000000) CRIU run id = a\n");  // a feature check: not yet
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(Read(freezer_state()), "THAWED");
  Write(log(), "(00.000000) CRIU run id = a\n(00.000000) CRIU run id = b\n"
               "(00.000022) Version: 4.1.1 (gitid 0)\n");
  EXPECT_TRUE(testing::PollUntil([&] { return Read(freezer_state()) == "FROZEN"; },
                                 milliseconds(2000), milliseconds(1)));
  EXPECT_TRUE(freeze.Stop());
  EXPECT_EQ(Read(freezer_state()), "FROZEN");
}

TEST_F(EarlyFreezeTest, UndoesItsFreezeWhenCriuFrozeFirst) {
  Write(log(), "(00.000022) Version: 4.1.1 (gitid 0)\n"
               "(00.034655) freezing processes: 1 attempts done\n");
  EarlyFreeze freeze(log(), freezer());
  EXPECT_TRUE(testing::PollUntil([&] { return Read(freezer_state()) == "THAWED"; },
                                 milliseconds(2000), milliseconds(1)));
  EXPECT_FALSE(freeze.Stop());
  EXPECT_EQ(Read(freezer_state()), "THAWED");
}

TEST_F(EarlyFreezeTest, StartsOnlyForACgroupFreezingCriuAndARestoreThatKeepsItThawed) {
  testing::FakeRuntime runtime;
  runtime::CheckpointOptions options;
  options.cgroup_mode = runtime::CgroupMode::kSoft;
  EXPECT_EQ(StartEarlyFreeze(runtime, options, freezer()), nullptr);  // ptrace alone
  runtime.cgroup_freezing_dump_log = log();
  options.cgroup_mode = runtime::CgroupMode::kFull;
  EXPECT_EQ(StartEarlyFreeze(runtime, options, freezer()), nullptr);
  options.cgroup_mode = runtime::CgroupMode::kSoft;
  std::unique_ptr<EarlyFreeze> freeze = StartEarlyFreeze(runtime, options, freezer());
  ASSERT_NE(freeze, nullptr);
  Write(log(), "(00.000022) Version: 4.1.1 (gitid 0)\n");
  EXPECT_TRUE(testing::PollUntil([&] { return Read(freezer_state()) == "FROZEN"; },
                                 milliseconds(2000), milliseconds(1)));
  EXPECT_TRUE(freeze->Stop());
}

TEST_F(EarlyFreezeTest, DoesNothingWhenTheDumpNeverStarts) {
  EarlyFreeze freeze(log(), freezer());
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_FALSE(freeze.Stop());
  EXPECT_EQ(Read(freezer_state()), "THAWED");
}

}  // namespace
}  // namespace migrate::agent

namespace migrate::agent {
namespace {

// CRIU records the FROZEN it found; a restore that writes existing cgroups' properties would
// bring the container back frozen (the runc 1.1.5 matrix's full-mode restore hung on it).
TEST(EarlyFreezeAllowedTest, OnlyWhereTheRestoreLeavesExistingCgroupsAlone) {
  EXPECT_TRUE(EarlyFreezeAllowed(runtime::CgroupMode::kIgnore));
  EXPECT_TRUE(EarlyFreezeAllowed(runtime::CgroupMode::kNone));
  EXPECT_TRUE(EarlyFreezeAllowed(runtime::CgroupMode::kSoft));
  EXPECT_FALSE(EarlyFreezeAllowed(runtime::CgroupMode::kProps));
  EXPECT_FALSE(EarlyFreezeAllowed(runtime::CgroupMode::kFull));
  EXPECT_FALSE(EarlyFreezeAllowed(runtime::CgroupMode::kStrict));
}

}  // namespace
}  // namespace migrate::agent
