// The real `migrate-fence destination`, spawned by FenceClient, against a sleeping process in a
// real v1 freezer cgroup (root): it must kill it at the lease deadline once the agent is gone.
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>

#include "agent/fence/fence_client.h"
#include "agent/fence/fence_state.h"
#include "tests/agent/fence/test_cgroup.h"
#include "tests/support/poll.h"

namespace migrate::fence {
namespace {

using namespace std::chrono_literals;
using testing::TestCgroup;

constexpr char kHierarchy[] = "/sys/fs/cgroup/freezer";

int64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class FenceEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = TestCgroup::Unavailable(kHierarchy);
    if (!why.empty()) GTEST_SKIP() << why;
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::unique_ptr<FenceClient> SpawnDestination(const TestCgroup& cgroup, int lease_ms) {
    FenceSpec spec{MIGRATE_FENCE_BINARY,
                   FenceRole::kDestination,
                   {"--cgroup", cgroup.dir(), "--state", state_file(), "--label", "e2e",
                    "--lease-ms", std::to_string(lease_ms)},
                   {}};
    Result<std::unique_ptr<FenceClient>> client = FenceClient::Spawn(spec);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  std::string state_file() const { return (dir / "fence.json").string(); }

  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fence-e2e-" + std::to_string(::getpid()));
};

TEST_F(FenceEndToEndTest, KillsTheCopyAtTheLeaseDeadlineAfterTheAgentLeft) {
  TestCgroup cgroup(kHierarchy);
  pid_t copy = cgroup.StartSleeper();
  std::unique_ptr<FenceClient> fence = SpawnDestination(cgroup, 500);
  ASSERT_NE(fence, nullptr);
  ASSERT_EQ(*fence->Request("STATUS", 5s), "STATE armed");
  int64_t lease_end = MonotonicNs() + 1'500'000'000;
  ASSERT_EQ(*fence->Request("LEASE-UNTIL " + std::to_string(lease_end), 5s), "OK");
  ASSERT_EQ(*fence->Request("RUNNING " + std::to_string(time(nullptr) * 1000), 5s), "OK");
  fence.reset();  // the agent dies: the control socket closes
  EXPECT_FALSE(migrate::testing::PollUntil([&] { return cgroup.Exited(copy); }, 1000ms))
      << "killed before the lease ended";
  EXPECT_LT(MonotonicNs(), lease_end) << "the machine was too slow to tell";
  EXPECT_TRUE(migrate::testing::PollUntil([&] { return cgroup.Exited(copy); }, 5s));
  EXPECT_GE(MonotonicNs(), lease_end);
  Result<FenceState> state = Status::NotFound("not read yet");
  EXPECT_TRUE(migrate::testing::PollUntil(
      [&] {
        state = ReadFenceState(state_file());
        return state.ok() && state->state == "killed";
      },
      5s))
      << state.status().ToString();
  EXPECT_EQ(state->reason, "lease expired");
  EXPECT_GE(state->ran_ms, 1000u);
}

TEST_F(FenceEndToEndTest, DisarmLeavesTheCopyAlone) {
  TestCgroup cgroup(kHierarchy);
  pid_t copy = cgroup.StartSleeper();
  std::unique_ptr<FenceClient> fence = SpawnDestination(cgroup, 300);
  ASSERT_NE(fence, nullptr);
  ASSERT_EQ(*fence->Request("DISARM", 5s), "DISARMED");
  EXPECT_EQ(fence->WaitForExit(5s), 0);
  EXPECT_FALSE(migrate::testing::PollUntil([&] { return cgroup.Exited(copy); }, 600ms));
  EXPECT_EQ(ReadFenceState(state_file())->state, "disarmed");
}

// Armed before the restore made the copy's cgroup: a cgroup not there (yet) holds no copy, so
// the fence starts, and its kill at the deadline succeeds with nothing to kill.
TEST_F(FenceEndToEndTest, ACgroupTheRestoreHasNotMadeYetIsAccepted) {
  TestCgroup cgroup(kHierarchy);
  FenceSpec spec{MIGRATE_FENCE_BINARY,
                 FenceRole::kDestination,
                 {"--cgroup", cgroup.dir() + "/not-made-yet", "--state", state_file(), "--label",
                  "e2e", "--lease-ms", "300"},
                 {}};
  Result<std::unique_ptr<FenceClient>> fence = FenceClient::Spawn(spec);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  ASSERT_EQ(*(*fence)->Request("STATUS", 5s), "STATE armed");
  EXPECT_EQ((*fence)->WaitForExit(5s), 0);
  EXPECT_EQ(ReadFenceState(state_file())->state, "killed");
}

TEST_F(FenceEndToEndTest, BadOptionsExitTwoAndTouchNothing) {
  TestCgroup cgroup(kHierarchy);
  pid_t copy = cgroup.StartSleeper();
  FenceSpec spec{
      MIGRATE_FENCE_BINARY,
      FenceRole::kDestination,
      {"--cgroup", cgroup.dir(), "--state", state_file(), "--label", "e2e", "--lease-ms", "0"},
      {}};
  Result<std::unique_ptr<FenceClient>> fence = FenceClient::Spawn(spec);
  ASSERT_TRUE(fence.ok()) << fence.status().ToString();
  EXPECT_EQ((*fence)->WaitForExit(5s), 2);
  EXPECT_EQ((*fence)->Request("STATUS", 1s).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(std::filesystem::exists(state_file()));
  EXPECT_FALSE(cgroup.Exited(copy));
}

}  // namespace
}  // namespace migrate::fence
