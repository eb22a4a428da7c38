// `migrate drain`: empty a host by moving its running containers to other hosts.
//
//   plan:  the source's containers (ListContainers) and each destination's room (its
//          capabilities: MemAvailable, free space for received containers) give one move per
//          running container, biggest first, each to the destination with the most memory
//          left that still fits it; what fits nowhere, is not running or is not on the source
//          is skipped, with the reason.
//   run:   `parallel` moves at a time, each a whole `migrate container` (its own preflight,
//          rollback and report). After a failed move no new move starts unless keep_going;
//          after `stop_new` (Ctrl-C) none starts at all. A move that is running is never cut
//          short by the drain itself: it migrates or rolls back.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proto/agent_api.pb.h"
#include "proto/controller.pb.h"

namespace migrate::controller {

// What a destination reported about its room, or why it could not be asked.
struct DestinationRoom {
  std::string name;
  uint64_t memory_available_bytes = 0;
  uint64_t state_free_bytes = 0;
  std::string error;  // not empty: unreachable or refused; no move goes there
};

struct DrainPlanInput {
  std::string source;
  std::vector<proto::ContainerInfo> containers;  // what the source runs
  std::vector<DestinationRoom> destinations;
  std::vector<std::string> only;  // container ids; empty: every running container
};

// The moves, in the order they are to run (biggest memory first); skipped ones carry status
// "skipped" and a reason, the others an empty status and their destination.
std::vector<proto::DrainMove> PlanDrain(const DrainPlanInput& input);

// Runs one planned move to its end and returns its report.
using MoveRunner = std::function<proto::Report(const proto::DrainMove& move)>;

struct DrainControl {
  int parallel = 1;
  bool keep_going = false;
  const std::atomic<bool>* stop_new = nullptr;  // set: start no new move
};

// Runs every planned move of `report.moves` (those without a status) and records each
// outcome; sets report.interrupted / report.stopped when the drain ended early.
void RunDrain(proto::DrainReport& report, const DrainControl& control, const MoveRunner& run);

// The worst outcome: 0 every planned move migrated (or passed --dry-run's preflight) and
// none was skipped, 4 a move needs the operator, 3 one was rolled back, 1 otherwise.
int DrainExitCode(const proto::DrainReport& report);

// One table (container, destination, result, downtime, memory, detail) and a summary line.
std::string DrainReportToText(const proto::DrainReport& report);

}  // namespace migrate::controller
