#include "agent/agent_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/algorithm/string/case_conv.hpp>

namespace migrate::agent {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Phases last from milliseconds (a commit) to minutes (a large dump).
const Histogram::BucketBoundaries kPhaseBounds = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                  5,    10,   30,  60,   120, 300, 600};
// Downtime of a live migration: tenths of a second to a few seconds.
const Histogram::BucketBoundaries kDowntimeBounds = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1,
                                                     1.5,  2,   3,   5,   10,  30};

const char* kRoles[] = {"source", "destination"};
const char* kDirections[] = {"sent", "received"};

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

// A family of `registry`. prometheus-cpp 1.0.1 writes a help text as it is, unescaped: help texts
// hold no backslash and no newline.
template <class Builder>
auto& Declare(Builder builder, prometheus::Registry& registry, const char* name, const char* help) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

// Each family, and its series by label values: the label names are spelled only here. A series is
// made at zero the first time it is asked for.
struct AgentMetrics::Families {
  // Throw: a metric declared twice is a programming error.
  prometheus::Registry registry{prometheus::Registry::InsertBehavior::Throw};
  Family<Counter>& migrations = Declare(
      prometheus::BuildCounter(), registry, "migrate_agent_migrations_total",
      "Migrations this agent took part in, by role and final status (committed, rolled_back, "
      "failed: needs an operator, refused: given up before anything was touched).");
  Family<Histogram>& phase_seconds =
      Declare(prometheus::BuildHistogram(), registry, "migrate_agent_phase_duration_seconds",
              "Time a migration spent in a phase, observed when it left the phase.");
  Family<Histogram>& downtime_seconds = Declare(
      prometheus::BuildHistogram(), registry, "migrate_agent_downtime_seconds",
      "This node's share of a migration's downtime: on the source from the freeze until both "
      "streams were verified, on the destination the restore until the container ran.");
  Family<Counter>& rollbacks =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_rollbacks_total",
              "Rollbacks that ended, by role and outcome (done, failed).");
  Family<Counter>& streams =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_streams_total",
              "Data streams that ended, verified or not, by direction.");
  Family<Gauge>& streams_in_flight =
      Declare(prometheus::BuildGauge(), registry, "migrate_agent_streams_in_flight",
              "Data streams running now, by direction.");
  Family<Counter>& raw_bytes =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_stream_raw_bytes_total",
              "File content bytes of the data streams that ended, by direction.");
  Family<Counter>& wire_bytes =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_stream_wire_bytes_total",
              "Bytes on the wire (frames, compressed, before TLS) of the data streams that ended.");
  Family<Counter>& refused =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_connections_refused_total",
              "Connections closed before any request or stream, by listener and reason.");
  Family<Counter>& criu_failures =
      Declare(prometheus::BuildCounter(), registry, "migrate_agent_criu_failures_total",
              "Checkpoints and restores that failed after CRIU ran, by operation.");

  Counter& Migrations(const std::string& role, const std::string& status) {
    return migrations.Add({{"role", role}, {"status", status}});
  }
  Histogram& Phase(const std::string& role, const std::string& phase) {
    return phase_seconds.Add({{"role", role}, {"phase", phase}}, kPhaseBounds);
  }
  Histogram& Downtime(const std::string& role) {
    return downtime_seconds.Add({{"role", role}}, kDowntimeBounds);
  }
  Counter& Rollbacks(const std::string& role, const std::string& outcome) {
    return rollbacks.Add({{"role", role}, {"outcome", outcome}});
  }
  Counter& Streams(const std::string& direction) { return streams.Add({{"direction", direction}}); }
  Gauge& InFlight(const std::string& direction) {
    return streams_in_flight.Add({{"direction", direction}});
  }
  Counter& RawBytes(const std::string& direction) {
    return raw_bytes.Add({{"direction", direction}});
  }
  Counter& WireBytes(const std::string& direction) {
    return wire_bytes.Add({{"direction", direction}});
  }
  Counter& Refused(const std::string& listener, const std::string& reason) {
    return refused.Add({{"listener", listener}, {"reason", reason}});
  }
  Counter& CriuFailures(const std::string& operation) {
    return criu_failures.Add({{"operation", operation}});
  }
};

AgentMetrics::AgentMetrics() : families_(std::make_unique<Families>()) {
  // Zeros from the start, so that a scraper sees every series before its first event.
  Families& f = *families_;
  for (const char* role : kRoles) {
    for (const char* status : {"committed", "rolled_back", "failed", "refused"}) {
      f.Migrations(role, status);
    }
    for (const char* outcome : {"done", "failed"}) f.Rollbacks(role, outcome);
    f.Downtime(role);
  }
  for (const char* direction : kDirections) {
    f.Streams(direction);
    f.InFlight(direction);
    f.RawBytes(direction);
    f.WireBytes(direction);
  }
  for (const char* operation : {"checkpoint", "restore"}) f.CriuFailures(operation);
  for (const Transition& t : Transitions()) {  // every phase a migration can leave
    if (t.from != proto::PHASE_UNSPECIFIED && t.from != t.to) {
      f.Phase(RoleName(t.role), boost::algorithm::to_lower_copy(PhaseName(t.from)));
    }
  }
}

AgentMetrics::~AgentMetrics() = default;

void AgentMetrics::Advanced(proto::Role role, Event event, proto::Phase from, proto::Phase to,
                            std::optional<Seconds> time_in_from) {
  const std::string role_name = RoleName(role);
  if (from != to && from != proto::PHASE_UNSPECIFIED && time_in_from) {
    const std::string phase = boost::algorithm::to_lower_copy(PhaseName(from));
    families_->Phase(role_name, phase).Observe(time_in_from->count());
  }
  if (from != to) {
    if (auto status = FinalStatus(to)) families_->Migrations(role_name, *status).Increment();
  }
  if (event == Event::kRollbackDone) families_->Rollbacks(role_name, "done").Increment();
  if (event == Event::kRollbackFailed) families_->Rollbacks(role_name, "failed").Increment();
}

void AgentMetrics::Refused(proto::Role role) {
  families_->Migrations(RoleName(role), "refused").Increment();
}

void AgentMetrics::Downtime(proto::Role role, Seconds downtime) {
  families_->Downtime(RoleName(role)).Observe(downtime.count());
}

void AgentMetrics::CriuFailed(std::string_view operation) {
  families_->CriuFailures(std::string(operation)).Increment();
}

void AgentMetrics::ConnectionRefused(std::string_view listener, std::string_view reason) {
  families_->Refused(std::string(listener), std::string(reason)).Increment();
}

void AgentMetrics::StreamStarted(transfer::StreamDirection direction) {
  families_->InFlight(DirectionName(direction)).Increment();
}

void AgentMetrics::StreamEnded(transfer::StreamDirection direction,
                               const transfer::TransferStats& stats) {
  const std::string name = DirectionName(direction);
  families_->InFlight(name).Decrement();
  families_->Streams(name).Increment();
  families_->RawBytes(name).Increment(static_cast<double>(stats.raw_bytes));
  families_->WireBytes(name).Increment(static_cast<double>(stats.wire_bytes));
}

std::string AgentMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(families_->registry.Collect());
}

}  // namespace migrate::agent
