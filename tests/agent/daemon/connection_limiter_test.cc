// Which connection gives way on the API port: the oldest handshake, then the longest idle,
// never one that is busy with a request.
#include "agent/connection_limiter.h"

#include <gtest/gtest.h>

namespace migrate::agent {
namespace {

using Stage = ConnectionLimiter::Stage;

TEST(ConnectionLimiterTest, HandshakesAreCappedApartAndTheOldestGivesWay) {
  ConnectionLimiter limiter(/*max_handshakes=*/2, /*max_connections=*/10);
  EXPECT_TRUE(limiter.Admit(1).admitted);
  EXPECT_TRUE(limiter.Admit(2).admitted);
  auto third = limiter.Admit(3);
  EXPECT_TRUE(third.admitted);
  EXPECT_EQ(third.evict, 1u);
  EXPECT_EQ(limiter.Count(Stage::kHandshake), 2);
  limiter.SetStage(2, Stage::kIdle);  // done with its handshake: no longer counted as one
  auto fourth = limiter.Admit(4);
  EXPECT_FALSE(fourth.evict.has_value());
  EXPECT_EQ(limiter.size(), 3);
}

TEST(ConnectionLimiterTest, WhenFullTheLongestIdleGivesWayThenAHandshake) {
  ConnectionLimiter limiter(/*max_handshakes=*/10, /*max_connections=*/3);
  for (uint64_t id : {1, 2, 3}) ASSERT_TRUE(limiter.Admit(id).admitted);
  limiter.SetStage(1, Stage::kBusy);
  limiter.SetStage(3, Stage::kIdle);
  limiter.SetStage(2, Stage::kIdle);  // idle since after 3
  auto admitted = limiter.Admit(4);
  EXPECT_TRUE(admitted.admitted);
  EXPECT_EQ(admitted.evict, 3u);
  // No idle left: the handshake (4) goes before a busy connection is touched.
  limiter.SetStage(2, Stage::kBusy);
  auto next = limiter.Admit(5);
  EXPECT_EQ(next.evict, 4u);
}

TEST(ConnectionLimiterTest, RefusedOnlyWhenEveryConnectionIsBusy) {
  ConnectionLimiter limiter(/*max_handshakes=*/10, /*max_connections=*/2);
  for (uint64_t id : {1, 2}) {
    ASSERT_TRUE(limiter.Admit(id).admitted);
    limiter.SetStage(id, Stage::kBusy);
  }
  auto refused = limiter.Admit(3);
  EXPECT_FALSE(refused.admitted);
  EXPECT_FALSE(refused.evict.has_value());
  limiter.Remove(1);
  EXPECT_TRUE(limiter.Admit(3).admitted);
  limiter.SetStage(99, Stage::kIdle);  // unknown (evicted, removed): ignored
  EXPECT_EQ(limiter.size(), 2);
}

}  // namespace
}  // namespace migrate::agent
