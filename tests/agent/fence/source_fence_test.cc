#include "agent/fence/source_fence.h"

#include <gtest/gtest.h>

#include "tests/agent/fence/fence_fakes.h"

namespace migrate::fence {
namespace {

using testing::FakeClock;
using testing::FakeSourceActions;
using testing::RecordingSink;
using testing::Until;
using Strings = std::vector<std::string>;

const Strings kResumeOrder{"close-socket", "stop-criu", "unlock-network", "thaw"};
const Strings kReleaseOrder{"kill-tasks", "fin", "thaw", "wait-criu"};

class SourceFenceTest : public ::testing::Test {
 protected:
  SourceFenceTest() { fence.Start(); }

  FakeClock clock;
  RecordingSink sink;
  FakeSourceActions actions;
  SourceFence fence{&clock, &sink, &actions, "m-2", 77};
};

TEST_F(SourceFenceTest, HoldsTenSecondsBeforeTheFirstHoldUntil) {
  EXPECT_EQ(sink.States(), Strings{"holding"});
  clock.AdvanceMs(9999);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(1);
  fence.Tick();
  EXPECT_EQ(actions.calls, kResumeOrder);
}

TEST_F(SourceFenceTest, ResumesAtTheHoldDeadline) {
  EXPECT_EQ(fence.Handle(Until("HOLD-UNTIL", clock, 12'000)), "OK");
  EXPECT_EQ(fence.Handle(Until("HOLD-UNTIL", clock, 3000)), "OK");  // older: no shortening
  clock.AdvanceMs(11'999);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(1);
  fence.Tick();
  EXPECT_EQ(actions.calls, kResumeOrder);
  EXPECT_EQ(sink.written.back().state, "resumed");
  EXPECT_EQ(sink.written.back().reason, "hold deadline passed");
  EXPECT_TRUE(fence.finished());
  EXPECT_EQ(fence.exit_code(), 0);
}

TEST_F(SourceFenceTest, CommitPreventsTheTimedResume) {
  EXPECT_EQ(fence.Handle("COMMIT"), "COMMITTED");
  EXPECT_EQ(fence.deadline_ns(), std::nullopt);
  fence.OnControlClosed();
  clock.AdvanceMs(3'600'000);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  EXPECT_FALSE(fence.finished());
  EXPECT_EQ(fence.Handle("STATUS"), "STATE committed");
  EXPECT_EQ(sink.States(), (Strings{"holding", "committed"}));
}

TEST_F(SourceFenceTest, ResumeRunsItsStepsInOrder) {
  EXPECT_EQ(fence.Handle("COMMIT"), "COMMITTED");
  EXPECT_EQ(fence.Handle("RESUME destination failed"), "RESUMED");
  EXPECT_EQ(actions.calls, kResumeOrder);
  EXPECT_EQ(sink.written.back().state, "resumed");
  EXPECT_EQ(sink.written.back().reason, "destination failed");
  EXPECT_TRUE(fence.finished());
}

TEST_F(SourceFenceTest, AResumeStepThatFailsStopsTheRestAndIsReported) {
  actions.failures["unlock-network"] = "iptables-restore exited with 1";
  std::string answer = fence.Handle("RESUME test");
  EXPECT_EQ(answer.rfind("FAILED ", 0), 0u) << answer;
  EXPECT_EQ(actions.calls, (Strings{"close-socket", "stop-criu", "unlock-network"}));
  EXPECT_EQ(sink.written.back().state, "failed");
  EXPECT_EQ(fence.exit_code(), 1);
}

TEST_F(SourceFenceTest, ReleaseKillsTheTasksBeforeTheFinBeforeTheThaw) {
  EXPECT_EQ(fence.Handle("COMMIT"), "COMMITTED");
  EXPECT_EQ(fence.Handle("RELEASE"), "RELEASED");
  EXPECT_EQ(actions.calls, kReleaseOrder);
  EXPECT_EQ(sink.written.back().state, "released");
  EXPECT_TRUE(fence.finished());
}

TEST_F(SourceFenceTest, NoFinWhenTheTasksCouldNotBeKilled) {
  actions.failures["kill-tasks"] = "EPERM";
  EXPECT_EQ(fence.Handle("RELEASE").rfind("FAILED ", 0), 0u);
  EXPECT_EQ(actions.calls, Strings{"kill-tasks"});
}

TEST_F(SourceFenceTest, MalformedAndForeignCommandsChangeNothing) {
  for (const char* line :
       {"HOLD-UNTIL", "HOLD-UNTIL 1.5", "HOLD-UNTIL 12abc", "COMMIT now", "RESUME", "RELEASE all",
        "LEASE-UNTIL 5", "RUNNING 5", "KILL x", "DISARM", "STATUS please", " COMMIT"}) {
    std::string answer = fence.Handle(line);
    EXPECT_EQ(answer.rfind("ERROR ", 0), 0u) << line << " -> " << answer;
  }
  EXPECT_EQ(fence.Handle("STATUS"), "STATE holding");
  EXPECT_EQ(sink.written.size(), 1u);
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(10'000);
  fence.Tick();
  EXPECT_EQ(actions.calls, kResumeOrder);
}

}  // namespace
}  // namespace migrate::fence
