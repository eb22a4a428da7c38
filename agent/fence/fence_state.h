// What a fence reports about itself: a small JSON file written atomically at every change, so
// that an agent started after the one that spawned the fence can tell what the fence did.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::fence {

// States: a destination fence is "armed", "killed", "disarmed" or "failed"; a source fence
// "holding", "committed", "resumed", "released" or "failed".
struct FenceState {
  std::string role;   // "source" or "destination"
  std::string label;  // the migration the fence guards (--label)
  std::string state;
  std::string reason;   // why the state was entered (empty while armed or holding)
  uint64_t ran_ms = 0;  // destination: how long the copy ran before it was killed
  pid_t pid = 0;        // the fence's own pid
  uint64_t updated_unix_ms = 0;

  friend bool operator==(const FenceState&, const FenceState&) = default;
};

// A fence's first state: its role, the migration it guards, where it starts ("armed",
// "holding") and its pid.
FenceState InitialFenceState(std::string role, std::string label, std::string state, pid_t pid);

// `{"role","label","state","reason","ran_ms","pid","updated_unix_ms"}`, compact.
std::string SerializeFenceState(const FenceState& state);
// InvalidArgument when a member is missing or has the wrong type.
Result<FenceState> ParseFenceState(std::string_view text);

// Writes `path` atomically: a temporary file beside it, fsync, rename.
Status WriteFenceState(const std::string& path, const FenceState& state);
// NotFound when the file does not exist, InvalidArgument when it is not a fence's state.
Result<FenceState> ReadFenceState(const std::string& path);

}  // namespace migrate::fence
