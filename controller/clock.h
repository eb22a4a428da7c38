// Time for the controller, behind an interface so that tests control it.
#pragma once

#include <cstdint>

namespace migrate::controller {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds (for phase timings and rates); the epoch is arbitrary.
  virtual int64_t NowMs() = 0;
  // Waits `ms` (before a call is repeated).
  virtual void SleepMs(int64_t ms) = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowMs() override;
  void SleepMs(int64_t ms) override;
};

}  // namespace migrate::controller
