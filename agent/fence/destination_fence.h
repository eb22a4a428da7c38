// The destination's fence: the restored copy lives only while its lease is renewed. It starts
// armed with a first lease; LEASE-UNTIL extends it (never shortens it); at the deadline, or on
// KILL, the copy is killed; DISARM (the copy is final) ends the fence leaving it alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/fence/fence_core.h"

namespace migrate::fence {

class DestinationActions {
 public:
  virtual ~DestinationActions() = default;
  // Kills every task of the restored copy and checks that none is left.
  virtual Status KillCopy() = 0;
};

class DestinationFence final : public FenceCore {
 public:
  // Armed until clock->MonotonicNs() + first_lease. `pid` is the fence's own, for the state.
  DestinationFence(FenceClock* clock, StateSink* sink, DestinationActions* actions,
                   std::string label, pid_t pid, std::chrono::milliseconds first_lease);

 private:
  std::string Dispatch(const FenceCommand& command) override;
  void OnDeadline() override;
  // KILLED <ran_ms> or FAILED <message>; ends the fence.
  std::string Kill(std::string reason);
  uint64_t RanMs();

  DestinationActions* actions_;
  uint64_t running_since_unix_ms_ = 0;
};

}  // namespace migrate::fence
