#include "controller/terminal_progress.h"

#include <cstdio>

#include "controller/report.h"

namespace migrate::controller {

TerminalProgress::TerminalProgress(std::ostream& out, Clock& clock, std::string title)
    : out_(out), clock_(clock), title_(std::move(title)) {}

void TerminalProgress::OnPhase(std::string_view phase) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = phase;
  phase_start_ms_ = clock_.NowMs();
  raw_ = wire_ = 0;
  rate_ = 0;
  rate_since_ms_ = phase_start_ms_;
  rate_since_raw_ = 0;
  DrawLocked();
}

void TerminalProgress::OnBytes(uint64_t raw, uint64_t wire) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMs();
  // A rate over the last second or more, so that the number does not jitter.
  if (now - rate_since_ms_ >= 1000 && raw >= rate_since_raw_) {
    rate_ = static_cast<double>(raw - rate_since_raw_) * 1000.0 /
            static_cast<double>(now - rate_since_ms_);
    rate_since_ms_ = now;
    rate_since_raw_ = raw;
  }
  raw_ = raw;
  wire_ = wire;
  DrawLocked();
}

void TerminalProgress::OnTick() {
  std::lock_guard<std::mutex> lock(mu_);
  DrawLocked();
}

void TerminalProgress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (drawn_) out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

void TerminalProgress::DrawLocked() {
  const double seconds = static_cast<double>(clock_.NowMs() - phase_start_ms_) / 1000.0;
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.1fs", seconds);
  out_ << "\r\033[K" << title_ << "  " << phase_ << " " << elapsed;
  if (raw_ > 0 || wire_ > 0) {
    out_ << "  " << HumanBytes(static_cast<double>(raw_)) << " raw, "
         << HumanBytes(static_cast<double>(wire_)) << " wire";
    if (rate_ > 0) out_ << ", " << HumanBytes(rate_) << "/s";
  }
  out_ << std::flush;
  drawn_ = true;
}

}  // namespace migrate::controller
