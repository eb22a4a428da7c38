// SIGINT/SIGTERM for commands that must end cleanly rather than die: each signal moves one
// stage on (sets its flag, prints its message); after the last stage the default action is
// back, so one more signal kills the process (the agents keep their journals).
//   migrate container: one stage (finish the step in flight, then roll back).
//   migrate drain:     two (start no new move; then roll back the running ones).
#pragma once

#include <atomic>

namespace migrate::controller {

inline constexpr int kMaxInterruptStages = 2;

// Installs the handlers with 1..kMaxInterruptStages stages; clears every flag.
void InstallInterrupts(int stages, const char* const messages[]);

// Set once the signal of stage `stage` (0-based) arrived.
const std::atomic<bool>& InterruptFlag(int stage);

}  // namespace migrate::controller
