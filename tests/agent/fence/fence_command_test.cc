#include "agent/fence/fence_command.h"

#include <gtest/gtest.h>

namespace migrate::fence {
namespace {

// What the agent writes is what the fence reads back: the deadline in monotonic nanoseconds.
TEST(FenceCommandTest, DeadlineCommandParsesBackToItsVerbAndNanoseconds) {
  const auto until = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(1234567890123));
  for (Verb verb : {Verb::kLeaseUntil, Verb::kHoldUntil}) {
    const std::string line = DeadlineCommand(verb, until);
    Result<FenceCommand> parsed = ParseFenceCommand(line);
    ASSERT_TRUE(parsed.ok()) << line << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->verb, verb);
    EXPECT_EQ(parsed->number, 1234567890123);
  }
  EXPECT_EQ(DeadlineCommand(Verb::kLeaseUntil, until), "LEASE-UNTIL 1234567890123");
}

}  // namespace
}  // namespace migrate::fence
