// The fence's control protocol: one text line per command from the agent, one line back.
//   LEASE-UNTIL <monotonic_ns>  HOLD-UNTIL <monotonic_ns>  RUNNING <unix_ms>
//   KILL <reason>  DISARM  COMMIT  RESUME <reason>  RELEASE  STATUS
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::fence {

enum class Verb {
  kLeaseUntil,
  kHoldUntil,
  kRunning,
  kKill,
  kDisarm,
  kCommit,
  kResume,
  kRelease,
  kStatus
};

struct FenceCommand {
  Verb verb = Verb::kStatus;
  int64_t number = 0;  // LEASE-UNTIL, HOLD-UNTIL, RUNNING
  std::string reason;  // KILL, RESUME (never empty)
};

// The verb as it is spelled on the wire.
std::string_view VerbName(Verb verb);

// The line for a deadline verb (LEASE-UNTIL, HOLD-UNTIL): `until` on CLOCK_MONOTONIC, which
// std::chrono::steady_clock is on Linux, in nanoseconds.
std::string DeadlineCommand(Verb verb, std::chrono::steady_clock::time_point until);

// One line without its newline. InvalidArgument for an unknown verb, a missing, extra or
// malformed argument (numbers are non-negative decimal int64s), or a KILL / RESUME without
// a reason.
Result<FenceCommand> ParseFenceCommand(std::string_view line);

}  // namespace migrate::fence
