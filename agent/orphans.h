// runc and CRIU outlive a killed or restarted agent: a dump or restore that an earlier run of
// the agent started may still be going on. Until it has ended, neither the runtime's state nor
// the files tell what happened, so every rollback and every restart's recovery first waits
// for it here.
#pragma once

#include <chrono>
#include <string>

#include "transfer/base/status.h"

namespace migrate::agent {

// Waits until no other process uses `dir` (runc names it in its arguments, CRIU holds its
// images open). Unavailable, naming the pids, when some still do after `wait`: the caller
// then changes nothing, and a later call decides.
Status WaitForOrphans(const std::string& dir, std::chrono::milliseconds wait,
                      const std::string& migration_id);

// After a runtime call of this agent on `dir` failed or ran past its deadline: kills
// (SIGKILL) every process that still uses it. The runner kills runc's process group, but
// CRIU runs in one of its own and would otherwise hold the container's tasks seized. Waits up
// to 5 s for them to go; Unavailable naming the pids that remain.
Status KillOrphans(const std::string& dir, const std::string& migration_id);

}  // namespace migrate::agent
