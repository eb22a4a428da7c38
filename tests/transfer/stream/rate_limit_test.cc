// The --bandwidth cap: how rates are written, and that the bucket makes senders wait for what
// goes beyond its burst (lower bounds only: a slow machine can only wait longer).
#include "transfer/stream/rate_limit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

namespace migrate::transfer {
namespace {

TEST(ParseByteRateTest, IecAndSiUnitsWithOrWithoutPerSecond) {
  EXPECT_EQ(*ParseByteRate("200MiB/s"), 200ULL << 20);
  EXPECT_EQ(*ParseByteRate("50MB/s"), 50000000ULL);
  EXPECT_EQ(*ParseByteRate("1GiB"), 1ULL << 30);
  EXPECT_EQ(*ParseByteRate("1.5G/s"), 3ULL << 29);
  EXPECT_EQ(*ParseByteRate("800KiB/s"), 800ULL << 10);
  EXPECT_EQ(*ParseByteRate("1000000"), 1000000ULL);
}

TEST(ParseByteRateTest, NonsenseIsRefusedNamingTheInput) {
  for (const char* bad : {"", "fast", "0", "0MiB/s", "-5MB/s", "10 MB/s", "10mb/s", "10TiB/s",
                          "1.2.3MB", "MiB/s", "5MiB/h"}) {
    Result<uint64_t> r = ParseByteRate(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    if (!r.ok()) EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

double SecondsFor(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(RateLimitTest, EveryByteWaitsForTheRateFromTheStart) {
  RateLimit limit(4 << 20, 1 << 20);  // 4 MiB/s, 1 MiB bucket, empty at first
  // 2 MiB: half a second at 4 MiB/s.
  EXPECT_GE(SecondsFor([&] {
              for (int i = 0; i < 8; ++i) EXPECT_TRUE(limit.Take(256 << 10));
            }),
            0.45);
}

TEST(RateLimitTest, AfterAnIdleTimeABurstGoesAtOnce) {
  RateLimit limit(64 << 20, 1 << 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // 6.4 MiB earned, 1 MiB kept
  EXPECT_TRUE(limit.Take(1 << 20));
  EXPECT_GE(SecondsFor([&] { EXPECT_TRUE(limit.Take(16 << 20)); }), 0.2)
      << "16 MiB beyond the burst take a quarter of a second at 64 MiB/s";
}

TEST(RateLimitTest, SendersSharingOneLimitShareTheRate) {
  RateLimit limit(8 << 20, 256 << 10);
  EXPECT_GE(SecondsFor([&] {
              std::thread other([&] {
                for (int i = 0; i < 8; ++i) limit.Take(256 << 10);
              });
              for (int i = 0; i < 8; ++i) limit.Take(256 << 10);
              other.join();
            }),
            0.45)  // 4 MiB together at 8 MiB/s
      << "each sender alone would be allowed the whole rate";
}

TEST(RateLimitTest, ACancelledWaitEndsEarlyAndSaysSo) {
  RateLimit limit(1 << 20, 256 << 10);
  CancelFlag cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.Cancel();
  });
  EXPECT_FALSE(limit.Take(100 << 20, &cancel)) << "100 s worth of bytes, cancelled";
  canceller.join();
}

}  // namespace
}  // namespace migrate::transfer
