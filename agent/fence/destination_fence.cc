#include "agent/fence/destination_fence.h"

#include <utility>

namespace migrate::fence {

DestinationFence::DestinationFence(FenceClock* clock, StateSink* sink, DestinationActions* actions,
                                   std::string label, pid_t pid,
                                   std::chrono::milliseconds first_lease)
    : FenceCore(clock, sink, InitialFenceState("destination", std::move(label), "armed", pid),
                clock->MonotonicNs() + std::chrono::nanoseconds(first_lease).count()),
      actions_(actions) {}

std::string DestinationFence::Dispatch(const FenceCommand& command) {
  switch (command.verb) {
    case Verb::kLeaseUntil:
      ExtendDeadline(command.number);
      return "OK";
    case Verb::kRunning:
      running_since_unix_ms_ = static_cast<uint64_t>(command.number);
      return "OK";
    case Verb::kKill:
      return Kill(command.reason);
    case Verb::kDisarm:
      SetState("disarmed", "the copy is final");
      Finish(0);
      return "DISARMED";
    default:
      return NotOurs(command, "destination");
  }
}

void DestinationFence::OnDeadline() { Kill("lease expired"); }

std::string DestinationFence::Kill(std::string reason) {
  Status killed = actions_->KillCopy();
  uint64_t ran_ms = RanMs();
  SetRanMs(ran_ms);
  return End(killed, "killed", std::move(reason), "KILLED " + std::to_string(ran_ms));
}

uint64_t DestinationFence::RanMs() {
  uint64_t now = clock()->UnixMs();
  if (running_since_unix_ms_ == 0 || now < running_since_unix_ms_) return 0;
  return now - running_since_unix_ms_;
}

}  // namespace migrate::fence
