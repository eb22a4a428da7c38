// The agent's Prometheus metrics (docs/agent.md, "Metrics"): every metric the agent exports is
// declared here, once, and each part of the agent reports to it what it saw. Thread-safe. The
// registry and the text format are prometheus-cpp's core library, kept out of this header.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/migration_table.h"
#include "proto/agent_api.pb.h"
#include "transfer/stream/stream_types.h"

namespace migrate::agent {

using Seconds = std::chrono::duration<double>;

class AgentMetrics final : public transfer::StreamObserver {
 public:
  AgentMetrics();
  ~AgentMetrics() override;
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // A migration moved on by `event` from phase `from` to `to`; `time_in_from` is how long it
  // was in `from` (nothing when it entered `from` before this run of the agent).
  void Advanced(proto::Role role, Event event, proto::Phase from, proto::Phase to,
                std::optional<Seconds> time_in_from);
  // A migration begun and given up before it was journaled: refused, nothing touched.
  void Refused(proto::Role role);
  // The source's share of the downtime (from the freeze until both streams were verified), or
  // the destination's (the runtime's restore, until the container runs).
  void Downtime(proto::Role role, Seconds downtime);
  // "checkpoint" or "restore": CRIU ran and the runtime call failed.
  void CriuFailed(std::string_view operation);
  // A connection closed by `listener` ("api", "data", "metrics") before any request or stream.
  void ConnectionRefused(std::string_view listener, std::string_view reason);

  // transfer::StreamObserver: this node's streams, sent and received.
  void StreamStarted(transfer::StreamDirection direction) override;
  void StreamEnded(transfer::StreamDirection direction,
                   const transfer::TransferStats& stats) override;
  void ConnectionRefused(std::string_view reason) override { ConnectionRefused("data", reason); }

  // Every metric in the text exposition format 0.0.4 (prometheus-cpp's TextSerializer).
  std::string Render() const;

 private:
  struct Families;  // the registry and its families, in agent_metrics.cc
  std::unique_ptr<Families> families_;
};

}  // namespace migrate::agent
