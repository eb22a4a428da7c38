// Progress on a terminal: one line, rewritten in place ("\r" + erase), with the phase, the
// bytes of the current transfer and its rate. Used only when stderr is a tty and the output
// is text.
#pragma once

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

#include "controller/clock.h"
#include "controller/progress.h"

namespace migrate::controller {

class TerminalProgress final : public ProgressSink {
 public:
  // `out` is the terminal (stderr); `clock` gives the rate's time base.
  TerminalProgress(std::ostream& out, Clock& clock, std::string title);

  void OnPhase(std::string_view phase) override;
  void OnBytes(uint64_t raw, uint64_t wire) override;
  void OnTick() override;
  void Finish() override;

 private:
  void DrawLocked();

  std::mutex mu_;
  std::ostream& out_;
  Clock& clock_;
  std::string title_;
  std::string phase_;
  int64_t phase_start_ms_ = 0;
  uint64_t raw_ = 0;
  uint64_t wire_ = 0;
  int64_t rate_since_ms_ = 0;
  uint64_t rate_since_raw_ = 0;
  double rate_ = 0;  // raw bytes per second
  bool drawn_ = false;
};

}  // namespace migrate::controller
