// The loop with the system's clock, a real socketpair and fake actions.
#include "agent/fence/fence_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "agent/fence/system_actions.h"
#include "tests/agent/fence/fence_fakes.h"
#include "transfer/base/unique_fd.h"

namespace migrate::fence {
namespace {

using namespace std::chrono_literals;

class FenceLoopTest : public ::testing::Test {
 protected:
  FenceLoopTest() {
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    agent.reset(pair[0]);
    fence_end = pair[1];
  }

  std::future<int> Run(FenceCore& core) {
    return std::async(std::launch::async,
                      [&core, this] { return RunFence(core, clock, fence_end); });
  }

  std::string Ask(const std::string& line) {
    std::string out = line + "\n";
    EXPECT_EQ(::write(agent.get(), out.data(), out.size()), static_cast<ssize_t>(out.size()));
    std::string answer;
    char c = 0;
    while (::read(agent.get(), &c, 1) == 1 && c != '\n') answer += c;
    return answer;
  }

  SystemClock clock;
  testing::RecordingSink sink;
  transfer::UniqueFd agent;
  int fence_end = -1;
};

TEST_F(FenceLoopTest, AnswersEachLineAndKillsAtTheDeadlineAfterEof) {
  testing::FakeDestinationActions actions;
  DestinationFence fence(&clock, &sink, &actions, "loop", 1, 300ms);
  std::future<int> done = Run(fence);
  EXPECT_EQ(Ask("STATUS"), "STATE armed");
  EXPECT_EQ(Ask("LEASE-UNTIL " + std::to_string(clock.MonotonicNs() + 400'000'000)), "OK");
  EXPECT_EQ(Ask("NONSENSE"), "ERROR unknown command \"NONSENSE\"");
  EXPECT_EQ(Ask(std::string(kMaxControlLine + 10, 'x')).rfind("ERROR line longer", 0), 0u);
  auto closed = std::chrono::steady_clock::now();
  agent.reset();
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  auto waited = std::chrono::steady_clock::now() - closed;
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(actions.calls, std::vector<std::string>{"kill"});
  EXPECT_GE(waited, 300ms) << "killed before the extended lease ended";
  EXPECT_EQ(sink.written.back().state, "killed");
}

TEST_F(FenceLoopTest, DisarmEndsTheLoopAtOnce) {
  testing::FakeDestinationActions actions;
  DestinationFence fence(&clock, &sink, &actions, "loop", 1, 60s);
  std::future<int> done = Run(fence);
  EXPECT_EQ(Ask("DISARM"), "DISARMED");
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(done.get(), 0);
  EXPECT_TRUE(actions.calls.empty());
}

}  // namespace
}  // namespace migrate::fence
