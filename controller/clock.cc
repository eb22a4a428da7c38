#include "controller/clock.h"

#include <chrono>

namespace migrate::controller {

int64_t SteadyClock::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace migrate::controller
