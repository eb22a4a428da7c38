// A ByteSource over a fuzz input: what a peer would have sent, served in reads of the sizes
// the input's own bytes choose (so that frames straddle reads as they do on a socket).
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "transfer/stream/byte_source.h"

namespace migrate::fuzz {

class MemorySource final : public transfer::ByteSource {
 public:
  explicit MemorySource(std::string bytes, size_t max_read = 1 << 20)
      : bytes_(std::move(bytes)), max_read_(std::max<size_t>(1, max_read)) {}

  Result<size_t> ReadSome(void* buf, size_t size, transfer::Clock::time_point) override {
    size_t n = std::min({size, bytes_.size() - at_, max_read_});
    std::memcpy(buf, bytes_.data() + at_, n);
    at_ += n;
    return n;  // 0 at the end: the peer closed
  }
  std::chrono::milliseconds io_timeout() const override { return std::chrono::seconds(1); }

 private:
  std::string bytes_;
  size_t max_read_;
  size_t at_ = 0;
};

}  // namespace migrate::fuzz
