// A byte-rate cap shared by the streams of one migration (`migrate container --bandwidth`):
// a token bucket that lets bytes go at `bytes_per_second` on average, with bursts of at most
// `burst_bytes` after an idle time (the bucket starts empty). Take(n) reserves n bytes and
// sleeps until the bucket has paid for them, so several senders sharing one RateLimit
// together stay under the cap.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

class RateLimit {
 public:
  // burst_bytes 0: a tenth of a second's worth, at least 256 KiB.
  explicit RateLimit(uint64_t bytes_per_second, uint64_t burst_bytes = 0);

  // Returns once `bytes` more may go (at once while the bucket holds them); false when
  // `cancel` was set meanwhile (checked every 50 ms).
  bool Take(uint64_t bytes, const CancelFlag* cancel = nullptr);

  uint64_t bytes_per_second() const { return static_cast<uint64_t>(rate_); }

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  const double rate_;   // bytes per second
  const double burst_;  // the bucket's size, bytes
  double tokens_;       // may go negative: bytes reserved but not yet paid for
  Clock::time_point last_;
};

// "200MiB/s", "50MB/s", "1GiB", "800KiB/s", "1000000" (bytes per second): IEC units are
// powers of 1024, SI units powers of 1000; "/s" is optional. InvalidArgument otherwise.
Result<uint64_t> ParseByteRate(const std::string& text);

}  // namespace migrate::transfer
