// CRIU's network lock: during a dump CRIU adds an iptables chain CRIU (DROP everything) to the
// container's network namespace, hooked from INPUT and OUTPUT. A dump whose lazy transfer fails
// leaves it there, and the container must not be thawed before it is gone. Used by the source
// fence when it resumes the source, and by the agent when no fence is left to do it.
#pragma once

#include <string>

#include "transfer/base/status.h"

namespace migrate::fence {

// Inside the network namespace `netns_fd` (an open /proc/<pid>/ns/net or /run/netns/<name>):
// for iptables and then ip6tables, when `<tool> -w -n -L CRIU` succeeds (the chain exists),
// feeds `<tool>-restore -w --noflush` the rules that unhook, flush and delete it. A tool that
// is not installed is skipped (CRIU could not have used it). Each program gets 10 s.
Status RemoveCriuNetworkLock(int netns_fd);
// The same for a namespace named by path.
Status RemoveCriuNetworkLock(const std::string& netns_path);

}  // namespace migrate::fence
