#include "agent/fence/destination_fence.h"

#include <gtest/gtest.h>

#include "tests/agent/fence/fence_fakes.h"

namespace migrate::fence {
namespace {

using testing::FakeClock;
using testing::FakeDestinationActions;
using testing::RecordingSink;
using testing::Until;
using Strings = std::vector<std::string>;

class DestinationFenceTest : public ::testing::Test {
 protected:
  DestinationFenceTest() { fence.Start(); }

  FakeClock clock;
  RecordingSink sink;
  FakeDestinationActions actions;
  DestinationFence fence{&clock, &sink, &actions, "m-1", 4242, std::chrono::milliseconds(2000)};
};

TEST_F(DestinationFenceTest, StartsArmedAndWritesItsState) {
  ASSERT_EQ(sink.written.size(), 1u);
  EXPECT_EQ(sink.written[0].role, "destination");
  EXPECT_EQ(sink.written[0].label, "m-1");
  EXPECT_EQ(sink.written[0].state, "armed");
  EXPECT_EQ(sink.written[0].pid, 4242);
  EXPECT_EQ(sink.written[0].updated_unix_ms, clock.unix_ms);
  EXPECT_EQ(fence.Handle("STATUS"), "STATE armed");
}

TEST_F(DestinationFenceTest, KillsAtTheLeaseDeadlineAndNotBefore) {
  clock.AdvanceMs(1999);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  EXPECT_FALSE(fence.finished());
  clock.AdvanceMs(1);
  fence.Tick();
  EXPECT_EQ(actions.calls, Strings{"kill"});
  EXPECT_TRUE(fence.finished());
  EXPECT_EQ(fence.exit_code(), 0);
  EXPECT_EQ(sink.written.back().state, "killed");
  EXPECT_EQ(sink.written.back().reason, "lease expired");
}

TEST_F(DestinationFenceTest, LeaseUntilExtendsAndAnOlderOneDoesNotShorten) {
  EXPECT_EQ(fence.Handle(Until("LEASE-UNTIL", clock, 5000)), "OK");
  EXPECT_EQ(fence.Handle(Until("LEASE-UNTIL", clock, 3000)), "OK");
  clock.AdvanceMs(4999);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(1);
  fence.Tick();
  EXPECT_EQ(actions.calls, Strings{"kill"});
}

TEST_F(DestinationFenceTest, ALeaseThatArrivesAfterTheDeadlineDoesNotSaveTheCopy) {
  clock.AdvanceMs(2500);
  EXPECT_EQ(fence.Handle(Until("LEASE-UNTIL", clock, 5000)), "ERROR the fence has ended: killed");
  EXPECT_EQ(actions.calls, Strings{"kill"});
}

TEST_F(DestinationFenceTest, DisarmExitsWithoutKilling) {
  EXPECT_EQ(fence.Handle("DISARM"), "DISARMED");
  EXPECT_TRUE(fence.finished());
  EXPECT_EQ(fence.exit_code(), 0);
  EXPECT_EQ(fence.deadline_ns(), std::nullopt);
  clock.AdvanceMs(10'000);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  EXPECT_EQ(sink.States(), (Strings{"armed", "disarmed"}));
}

TEST_F(DestinationFenceTest, ControlEofStillKillsAtTheDeadline) {
  fence.OnControlClosed();
  clock.AdvanceMs(1000);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(1000);
  fence.Tick();
  EXPECT_EQ(actions.calls, Strings{"kill"});
}

TEST_F(DestinationFenceTest, KillAnswersHowLongTheCopyRan) {
  EXPECT_EQ(fence.Handle("RUNNING " + std::to_string(clock.unix_ms)), "OK");
  clock.AdvanceMs(750);
  EXPECT_EQ(fence.Handle("KILL the source resumed"), "KILLED 750");
  EXPECT_EQ(actions.calls, Strings{"kill"});
  EXPECT_EQ(sink.written.back().state, "killed");
  EXPECT_EQ(sink.written.back().reason, "the source resumed");
  EXPECT_EQ(sink.written.back().ran_ms, 750u);
}

TEST_F(DestinationFenceTest, AKillThatFailsIsReportedAndEndsWithExitOne) {
  actions.failures["kill"] = "processes left";
  std::string answer = fence.Handle("KILL test");
  EXPECT_EQ(answer.rfind("FAILED ", 0), 0u) << answer;
  EXPECT_NE(answer.find("processes left"), std::string::npos) << answer;
  EXPECT_EQ(sink.written.back().state, "failed");
  EXPECT_EQ(fence.exit_code(), 1);
}

TEST_F(DestinationFenceTest, MalformedAndForeignCommandsChangeNothing) {
  for (const char* line : {"", "LEASE-UNTIL", "LEASE-UNTIL x", "LEASE-UNTIL -5", "LEASE-UNTIL 9 9",
                           "KILL", "DISARM now", "lease-until 5", "HOLD-UNTIL 99999999999999999",
                           "COMMIT", "RESUME why", "RELEASE", "BOGUS"}) {
    std::string answer = fence.Handle(line);
    EXPECT_EQ(answer.rfind("ERROR ", 0), 0u) << line << " -> " << answer;
  }
  EXPECT_EQ(fence.Handle("STATUS"), "STATE armed");
  EXPECT_EQ(sink.written.size(), 1u);
  clock.AdvanceMs(1999);
  fence.Tick();
  EXPECT_TRUE(actions.calls.empty());
  clock.AdvanceMs(1);
  fence.Tick();
  EXPECT_EQ(actions.calls, Strings{"kill"});
}

}  // namespace
}  // namespace migrate::fence
