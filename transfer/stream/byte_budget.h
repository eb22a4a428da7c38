// The bytes a destination agreed to receive for one migration (its preflight checked the
// free space for them), shared by that migration's streams: together they may not declare
// more, whatever the fixed StreamLimits would allow.
#pragma once

#include <atomic>
#include <cstdint>

namespace migrate::transfer {

// What a destination agrees to for `bytes_needed` (the controller's estimate of images +
// root file system): that plus 10 % plus 64 MiB, the margin its free-space check asks for.
inline uint64_t AgreedStreamBytes(uint64_t bytes_needed) {
  return bytes_needed + bytes_needed / 10 + (64ull << 20);
}

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t bytes) : remaining_(bytes) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Takes `bytes` if that many remain (thread-safe); false, taking nothing, otherwise.
  bool Take(uint64_t bytes) {
    uint64_t left = remaining_.load();
    while (left >= bytes) {
      if (remaining_.compare_exchange_weak(left, left - bytes)) return true;
    }
    return false;
  }
  uint64_t remaining() const { return remaining_.load(); }

 private:
  std::atomic<uint64_t> remaining_;
};

}  // namespace migrate::transfer
