// The freeze that starts a dump's downtime (either strategy), taken ahead of CRIU's own.
//
// CRIU's dump freezes the container's freezer cgroup itself, then looks at it again only
// every 100 ms: a freeze the kernel finishes in a millisecond costs 100 ms of downtime.
// EarlyFreeze freezes the cgroup as soon as CRIU's dump run starts (its log's "Version:"
// line, some 30 ms before CRIU's freeze); CRIU then finds it FROZEN and seizes the tasks at
// once (then thaws the cgroup, as after a freeze of its own: its ptrace holds the tasks).
//
// Should CRIU have frozen it first after all (it logs "freezing processes:" only when it
// found the cgroup thawed), this freeze may have landed after CRIU's thaw that follows the
// seize, and would stop the tasks CRIU is about to run its parasite in: it is undone at once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/runtime.h"

namespace migrate::agent {

// Whether the early freeze may be taken for a migration restored in `restore_mode`. CRIU
// records in the images the freezer state it found (FROZEN, after the early freeze), and a
// restore that writes the properties of existing cgroups (full, props) would bring the
// container back frozen. ignore, none and soft leave them alone (soft writes properties only
// on the cgroups CRIU creates, and the runtime created the container's own); strict refuses
// existing cgroups.
bool EarlyFreezeAllowed(runtime::CgroupMode restore_mode);

class EarlyFreeze {
 public:
  // Watches `criu_log` (the dump's log, not yet written) from a thread of its own.
  EarlyFreeze(std::string criu_log, std::string freezer_dir);
  ~EarlyFreeze();
  EarlyFreeze(const EarlyFreeze&) = delete;
  EarlyFreeze& operator=(const EarlyFreeze&) = delete;

  // Ends the watch (once the dump is ready or failed). True when this froze the cgroup and
  // left it frozen.
  bool Stop();

 private:
  void Run();
  bool WaitForDumpRun();

  const std::string log_;
  const std::string freezer_dir_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::thread thread_;
};

// The early freeze of a dump with `options` by `runtime` of the container frozen with
// `freezer_dir`, started before the dump; none where EarlyFreezeAllowed says no or the
// runtime's CRIU may seize with ptrace alone (Runtime::CgroupFreezingDumpLog).
std::unique_ptr<EarlyFreeze> StartEarlyFreeze(const runtime::Runtime& runtime,
                                              const runtime::CheckpointOptions& options,
                                              const std::string& freezer_dir);

}  // namespace migrate::agent
