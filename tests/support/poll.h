// Polling with a deadline: the only way tests wait for something (no sleeps to synchronise).
#pragma once

#include <chrono>
#include <thread>

namespace migrate::testing {

// Calls `done()` every `interval` until it returns true (-> true) or `timeout` passes
// (-> false, after one last try).
template <typename Pred>
bool PollUntil(Pred done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace migrate::testing
