#include "transfer/stream/rate_limit.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <thread>

namespace migrate::transfer {

RateLimit::RateLimit(uint64_t bytes_per_second, uint64_t burst_bytes)
    : rate_(static_cast<double>(std::max<uint64_t>(bytes_per_second, 1))),
      burst_(static_cast<double>(
          burst_bytes > 0 ? burst_bytes : std::max<uint64_t>(bytes_per_second / 10, 256 << 10))),
      tokens_(0),  // starts empty: even a short stream stays under the cap
      last_(Clock::now()) {}

bool RateLimit::Take(uint64_t bytes, const CancelFlag* cancel) {
  Clock::time_point ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Clock::now();
    tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    last_ = now;
    tokens_ -= static_cast<double>(bytes);
    ready = now + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(tokens_ >= 0 ? 0.0 : -tokens_ / rate_));
  }
  for (Clock::time_point now = Clock::now(); now < ready; now = Clock::now()) {
    if (cancel != nullptr && cancel->cancelled()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(ready - now, std::chrono::milliseconds(50)));
  }
  return cancel == nullptr || !cancel->cancelled();
}

Result<uint64_t> ParseByteRate(const std::string& text) {
  auto invalid = [&] {
    return Status::InvalidArgument("bad rate '" + text +
                                   "': give bytes per second, e.g. 200MiB/s, 50MB/s or 1000000");
  };
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) ||
                                  text[digits] == '.')) {
    ++digits;
  }
  if (digits == 0) return invalid();
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(text.substr(0, digits), &used);
    if (used != digits) return invalid();  // e.g. "1.2.3"
  } catch (...) {
    return invalid();
  }
  std::string unit = text.substr(digits);
  if (unit.size() >= 2 && unit.compare(unit.size() - 2, 2, "/s") == 0) unit.resize(unit.size() - 2);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"B", 1},         {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9},      {"KiB", 1 << 10}, {"MiB", 1 << 20},   {"GiB", 1 << 30},
      {"K", 1 << 10},   {"M", 1 << 20},   {"G", 1 << 30}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::floor(value * factor);
    if (!(bytes >= 1) || bytes > 1e15) return invalid();
    return static_cast<uint64_t>(bytes);
  }
  return invalid();
}

}  // namespace migrate::transfer
