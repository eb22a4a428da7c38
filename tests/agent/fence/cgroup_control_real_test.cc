// The cgroup side effects for real, on this host's v1 freezer and v2 hierarchies (root).
#include <gtest/gtest.h>
#include <signal.h>

#include "agent/fence/cgroup_control.h"
#include "tests/agent/fence/test_cgroup.h"
#include "tests/support/poll.h"

namespace migrate::fence {
namespace {

using namespace std::chrono_literals;
using testing::TestCgroup;

constexpr char kV1Freezer[] = "/sys/fs/cgroup/freezer";
constexpr char kV2[] = "/sys/fs/cgroup/unified";

class CgroupControlRealTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string why = TestCgroup::Unavailable(GetParam());
    if (!why.empty()) GTEST_SKIP() << why;
  }
};

TEST_P(CgroupControlRealTest, FreezesThawsAndListsProcesses) {
  TestCgroup cgroup(GetParam());
  pid_t sleeper = cgroup.StartSleeper();
  ASSERT_NE(DetectFreezer(cgroup.dir()), FreezerKind::kNone);
  Result<std::vector<pid_t>> pids = CgroupPids(cgroup.dir());
  ASSERT_TRUE(pids.ok()) << pids.status().ToString();
  EXPECT_EQ(*pids, std::vector<pid_t>{sleeper});
  ASSERT_TRUE(FreezeCgroup(cgroup.dir()).ok());
  ASSERT_TRUE(SignalCgroup(cgroup.dir(), SIGKILL).ok());
  if (DetectFreezer(cgroup.dir()) == FreezerKind::kV1) {
    // The v1 freezer keeps a SIGKILL pending until the thaw; v2 lets a fatal signal through.
    EXPECT_FALSE(migrate::testing::PollUntil([&] { return cgroup.Exited(sleeper); }, 300ms));
    ASSERT_TRUE(ThawCgroup(cgroup.dir()).ok());
  }
  EXPECT_TRUE(migrate::testing::PollUntil([&] { return cgroup.Exited(sleeper); }, 5s));
  EXPECT_TRUE(ThawCgroup(cgroup.dir()).ok());
}

TEST_P(CgroupControlRealTest, KillCgroupKillsEveryTaskAndVerifies) {
  TestCgroup cgroup(GetParam());
  pid_t a = cgroup.StartSleeper();
  pid_t b = cgroup.StartSleeper();
  Status killed = KillCgroup(cgroup.dir());
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  EXPECT_TRUE(CgroupPids(cgroup.dir())->empty());
  EXPECT_TRUE(
      migrate::testing::PollUntil([&] { return cgroup.Exited(a) && cgroup.Exited(b); }, 5s));
}

TEST_P(CgroupControlRealTest, KillOfAMissingCgroupIsNotFound) {
  EXPECT_EQ(KillCgroup(std::string(GetParam()) + "/migrate-test-none").code(),
            StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Hierarchies, CgroupControlRealTest, ::testing::Values(kV1Freezer, kV2),
                         [](const auto& param_info) {
                           return std::string(param_info.param) == kV2 ? "v2" : "v1freezer";
                         });

}  // namespace
}  // namespace migrate::fence
