#include "agent/agent_metrics.h"

#include <cctype>

namespace migrate::agent {
namespace {

// Phases last from milliseconds (a commit) to minutes (a large dump).
const std::vector<double> kPhaseBounds = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                          5,    10,   30,  60,   120, 300, 600};
// Downtime of a live migration: tenths of a second to a few seconds.
const std::vector<double> kDowntimeBounds = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1,
                                             1.5,  2,   3,   5,   10,  30};

const char* kRoles[] = {"source", "destination"};
const char* kDirections[] = {"sent", "received"};

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string DirectionName(transfer::StreamDirection direction) {
  return direction == transfer::StreamDirection::kSend ? "sent" : "received";
}

// The final status a phase stands for, if it is one.
std::optional<std::string> FinalStatus(proto::Phase phase) {
  switch (phase) {
    case proto::PHASE_COMMITTED: return "committed";
    case proto::PHASE_ROLLED_BACK: return "rolled_back";
    case proto::PHASE_FAILED: return "failed";
    default: return std::nullopt;
  }
}

}  // namespace

AgentMetrics::AgentMetrics()
    : migrations_(registry_.AddCounter(
          "migrate_agent_migrations_total",
          "Migrations this agent took part in, by role and final status (committed, rolled_back, "
          "failed: needs an operator, refused: given up before anything was touched).",
          {"role", "status"})),
      phase_seconds_(registry_.AddHistogram(
          "migrate_agent_phase_duration_seconds",
          "Time a migration spent in a phase, observed when it left the phase.", {"role", "phase"},
          kPhaseBounds)),
      downtime_seconds_(registry_.AddHistogram(
          "migrate_agent_downtime_seconds",
          "This node's share of a migration's downtime: on the source from the freeze until both "
          "streams were verified, on the destination the restore until the container ran.",
          {"role"}, kDowntimeBounds)),
      rollbacks_(registry_.AddCounter("migrate_agent_rollbacks_total",
                                      "Rollbacks that ended, by role and outcome (done, failed).",
                                      {"role", "outcome"})),
      streams_(registry_.AddCounter("migrate_agent_streams_total",
                                    "Data streams that ended, verified or not, by direction.",
                                    {"direction"})),
      streams_in_flight_(registry_.AddGauge("migrate_agent_streams_in_flight",
                                            "Data streams running now, by direction.",
                                            {"direction"})),
      raw_bytes_(registry_.AddCounter(
          "migrate_agent_stream_raw_bytes_total",
          "File content bytes of the data streams that ended, by direction.", {"direction"})),
      wire_bytes_(registry_.AddCounter(
          "migrate_agent_stream_wire_bytes_total",
          "Bytes on the wire (frames, compressed, before TLS) of the data streams that ended.",
          {"direction"})),
      refused_(registry_.AddCounter(
          "migrate_agent_connections_refused_total",
          "Connections closed before any request or stream, by listener and reason.",
          {"listener", "reason"})),
      criu_failures_(registry_.AddCounter(
          "migrate_agent_criu_failures_total",
          "Checkpoints and restores that failed after CRIU ran, by operation.", {"operation"})) {
  // Zeros from the start, so that a scraper sees every series before its first event.
  for (const char* role : kRoles) {
    for (const char* status : {"committed", "rolled_back", "failed", "refused"}) {
      migrations_.With({role, status});
    }
    for (const char* outcome : {"done", "failed"}) rollbacks_.With({role, outcome});
    downtime_seconds_.With({role});
  }
  for (const char* direction : kDirections) {
    streams_.With({direction});
    streams_in_flight_.With({direction});
    raw_bytes_.With({direction});
    wire_bytes_.With({direction});
  }
  for (const char* operation : {"checkpoint", "restore"}) criu_failures_.With({operation});
  for (const Transition& t : Transitions()) {  // every phase a migration can leave
    if (t.from != proto::PHASE_UNSPECIFIED && t.from != t.to) {
      phase_seconds_.With({RoleName(t.role), Lower(PhaseName(t.from))});
    }
  }
}

void AgentMetrics::Advanced(proto::Role role, Event event, proto::Phase from, proto::Phase to,
                            std::optional<Seconds> time_in_from) {
  const std::string role_name = RoleName(role);
  if (from != to && from != proto::PHASE_UNSPECIFIED && time_in_from) {
    phase_seconds_.With({role_name, Lower(PhaseName(from))}).Observe(time_in_from->count());
  }
  if (from != to) {
    if (auto status = FinalStatus(to)) migrations_.With({role_name, *status}).Increment();
  }
  if (event == Event::kRollbackDone) rollbacks_.With({role_name, "done"}).Increment();
  if (event == Event::kRollbackFailed) rollbacks_.With({role_name, "failed"}).Increment();
}

void AgentMetrics::Refused(proto::Role role) {
  migrations_.With({RoleName(role), "refused"}).Increment();
}

void AgentMetrics::Downtime(proto::Role role, Seconds downtime) {
  downtime_seconds_.With({RoleName(role)}).Observe(downtime.count());
}

void AgentMetrics::CriuFailed(std::string_view operation) {
  criu_failures_.With({std::string(operation)}).Increment();
}

void AgentMetrics::ConnectionRefused(std::string_view listener, std::string_view reason) {
  refused_.With({std::string(listener), std::string(reason)}).Increment();
}

void AgentMetrics::StreamStarted(transfer::StreamDirection direction) {
  streams_in_flight_.With({DirectionName(direction)}).Add(1);
}

void AgentMetrics::StreamEnded(transfer::StreamDirection direction,
                               const transfer::TransferStats& stats) {
  const std::string name = DirectionName(direction);
  streams_in_flight_.With({name}).Add(-1);
  streams_.With({name}).Increment();
  raw_bytes_.With({name}).Increment(stats.raw_bytes);
  wire_bytes_.With({name}).Increment(stats.wire_bytes);
}

}  // namespace migrate::agent
