// Where a FrameReader gets its bytes: a TLS connection in production, a buffer in the fuzz
// targets (tests/fuzz/).
#pragma once

#include <chrono>
#include <cstddef>

#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads 1..size bytes; 0 means a clean end. kDeadlineExceeded once `deadline` passes
  // without the read completing.
  virtual Result<size_t> ReadSome(void* buf, size_t size, Clock::time_point deadline) = 0;
  // How long one whole message may take to arrive (FrameReader's deadline per frame).
  virtual std::chrono::milliseconds io_timeout() const = 0;
};

// Reads exactly `size` bytes by `deadline`; a clean end before that is kDataLoss
// ("truncated").
Status ReadExact(ByteSource& source, void* buf, size_t size, Clock::time_point deadline);

}  // namespace migrate::transfer
