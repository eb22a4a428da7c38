// The fence's one thread: waits for a control line or the deadline, whichever comes first,
// until the fence has done its job.
#pragma once

#include "agent/fence/fence_core.h"

namespace migrate::fence {

// Longer control lines are refused (ERROR) and dropped up to their newline.
inline constexpr size_t kMaxControlLine = 4096;

// Starts `core`, serves `control_fd` (owned: closed at EOF or at the end) and ticks it at its
// deadline. Returns the core's exit code. After EOF it only waits for the deadline; with no
// deadline (a committed source) it waits for ever.
int RunFence(FenceCore& core, FenceClock& clock, int control_fd);

}  // namespace migrate::fence
