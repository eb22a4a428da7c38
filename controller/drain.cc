#include "controller/drain.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "controller/migration.h"
#include "controller/report.h"
#include "controller/text_table.h"

namespace migrate::controller {
namespace {

// A move of `container`, not yet given a destination or an outcome.
proto::DrainMove MoveOf(const proto::ContainerInfo& container) {
  proto::DrainMove move;
  move.set_container(container.container_id());
  move.set_memory_bytes(container.memory_bytes());
  move.set_rootfs_bytes(container.rootfs_bytes());
  return move;
}

proto::DrainMove Skipped(const proto::ContainerInfo& container, const std::string& reason) {
  proto::DrainMove move = MoveOf(container);
  move.set_status("skipped");
  move.set_reason(reason);
  return move;
}

// What a destination still has once the moves planned so far are counted.
struct Room {
  const DestinationRoom* destination;
  uint64_t memory;
  uint64_t disk;
};

std::string Mib(uint64_t bytes) { return HumanBytes(static_cast<double>(bytes)); }

std::string NoRoomReason(const proto::ContainerInfo& c, const std::vector<Room>& rooms) {
  if (rooms.empty()) return "no destination could be asked for its room";
  const Room& best = *std::max_element(rooms.begin(), rooms.end(), [](const Room& a, const Room& b) {
    return a.memory < b.memory;
  });
  return "no destination has room for it (needs " + Mib(c.memory_bytes()) + " memory, " +
         Mib(BytesNeededFor(c)) + " disk; most left: " + best.destination->name + " with " +
         Mib(best.memory) + " memory, " + Mib(best.disk) + " disk)";
}

// The containers the plan considers, each with the reason it is skipped ("" to move it).
std::vector<std::pair<proto::ContainerInfo, std::string>> Candidates(const DrainPlanInput& in) {
  std::map<std::string, const proto::ContainerInfo*> by_id;
  for (const proto::ContainerInfo& c : in.containers) by_id[c.container_id()] = &c;
  std::vector<std::pair<proto::ContainerInfo, std::string>> out;
  auto add = [&](const proto::ContainerInfo& c) {
    const bool running = c.status() == "running";
    out.emplace_back(c, running ? "" : "it is " + c.status() + ": only running containers move");
  };
  if (in.only.empty()) {
    for (const proto::ContainerInfo& c : in.containers) add(c);
    return out;
  }
  for (const std::string& id : in.only) {
    auto found = by_id.find(id);
    if (found != by_id.end()) {
      add(*found->second);
      continue;
    }
    proto::ContainerInfo missing;
    missing.set_container_id(id);
    out.emplace_back(missing, "no such container on " + in.source);
  }
  return out;
}

}  // namespace

std::vector<proto::DrainMove> PlanDrain(const DrainPlanInput& input) {
  std::vector<Room> rooms;
  for (const DestinationRoom& d : input.destinations) {
    if (d.error.empty()) rooms.push_back({&d, d.memory_available_bytes, d.state_free_bytes});
  }
  auto candidates = Candidates(input);
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.first.memory_bytes() > b.first.memory_bytes();
  });
  std::vector<proto::DrainMove> moves;
  for (const auto& [container, skip] : candidates) {
    if (!skip.empty()) {
      moves.push_back(Skipped(container, skip));
      continue;
    }
    Room* chosen = nullptr;
    for (Room& room : rooms) {
      const bool fits =
          room.memory >= container.memory_bytes() && room.disk >= BytesNeededFor(container);
      if (fits && (chosen == nullptr || room.memory > chosen->memory)) chosen = &room;
    }
    if (chosen == nullptr) {
      moves.push_back(Skipped(container, NoRoomReason(container, rooms)));
      continue;
    }
    chosen->memory -= container.memory_bytes();
    chosen->disk -= BytesNeededFor(container);
    proto::DrainMove move = MoveOf(container);
    move.set_destination(chosen->destination->name);
    moves.push_back(std::move(move));
  }
  return moves;
}

void RunDrain(proto::DrainReport& report, const DrainControl& control, const MoveRunner& run) {
  std::mutex mu;
  size_t next = 0;
  bool failed = false;
  auto stop_new = [&] { return control.stop_new != nullptr && control.stop_new->load(); };
  // The next move to start, or nullptr once none may start (the rest are marked).
  auto take = [&]() -> proto::DrainMove* {
    std::lock_guard<std::mutex> lock(mu);
    for (; next < static_cast<size_t>(report.moves_size()); ++next) {
      proto::DrainMove& move = *report.mutable_moves(static_cast<int>(next));
      if (!move.status().empty()) continue;  // skipped in the plan
      const bool interrupted = stop_new();
      if (interrupted || (failed && !control.keep_going)) {
        if (interrupted) {
          report.set_interrupted(true);
        } else {
          report.set_stopped(true);
        }
        move.set_status("not_started");
        move.set_reason(interrupted ? "interrupted before it started"
                                    : "an earlier move failed (--keep-going goes on)");
        continue;
      }
      ++next;
      return &move;
    }
    return nullptr;
  };
  auto worker = [&] {
    while (proto::DrainMove* move = take()) {
      proto::Report outcome = run(*move);
      std::lock_guard<std::mutex> lock(mu);
      move->set_status(outcome.status());
      move->set_reason(outcome.error());
      *move->mutable_report() = std::move(outcome);
      if (move->status() != "migrated" && move->status() != "preflight_ok") failed = true;
    }
  };
  std::vector<std::thread> workers;
  for (int i = 1; i < std::max(1, control.parallel); ++i) workers.emplace_back(worker);
  worker();
  for (std::thread& t : workers) t.join();
}

int DrainExitCode(const proto::DrainReport& report) {
  // The codes of report.h grow with what is left to the operator: the worst one stands.
  int worst = kExitMigrated;
  for (const proto::DrainMove& move : report.moves()) {
    worst = std::max(worst, move.has_report() ? ExitCodeForReport(move.report()) : kExitFailed);
  }
  return worst;
}

std::string DrainReportToText(const proto::DrainReport& report) {
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER", "DESTINATION", "RESULT", "DOWNTIME", "MEMORY", "DETAIL"}};
  std::map<std::string, int> counts;
  for (const proto::DrainMove& move : report.moves()) {
    ++counts[move.status()];
    const bool moved = move.has_report() && move.report().status() == "migrated";
    rows.push_back({move.container(), move.destination().empty() ? "-" : move.destination(),
                    move.status(),
                    moved ? std::to_string(move.report().timings_ms().downtime()) + " ms" : "-",
                    Mib(move.memory_bytes()), move.reason().empty() ? "-" : move.reason()});
  }
  std::string text = (report.dry_run() ? "drain plan for " : "drain of ") + report.source() + "\n";
  text += FormatTable(rows);
  std::string summary;
  for (const auto& [status, n] : counts) {
    summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  }
  text += (summary.empty() ? "nothing to move" : summary) + "\n";
  if (report.interrupted()) text += "interrupted: no move was started after Ctrl-C\n";
  if (report.stopped()) text += "stopped at the first failure (--keep-going goes on)\n";
  return text;
}

}  // namespace migrate::controller
