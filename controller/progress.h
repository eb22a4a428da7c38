// What the migration tells whoever watches it (a terminal line, or nothing).
#pragma once

#include <cstdint>
#include <string_view>

namespace migrate::controller {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // A phase starts ("preflight", "prepare", "checkpoint+transfer", "restore", ...).
  virtual void OnPhase(std::string_view phase) = 0;
  // Bytes of the current transfer so far (may be called from a polling thread).
  virtual void OnBytes(uint64_t raw, uint64_t wire) = 0;
  // Called periodically while a phase runs without transfer progress (redraw the clock).
  virtual void OnTick() {}
  // The migration is over; clear any partial line before the report is printed.
  virtual void Finish() = 0;
};

}  // namespace migrate::controller
