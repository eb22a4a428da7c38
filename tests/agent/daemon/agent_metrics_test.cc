// The agent's metrics as its parts report to them: phase changes through the store (the one
// way a phase changes), refusals, streams, downtime, CRIU failures and refused connections.
#include "agent/agent_metrics.h"

#include <gtest/gtest.h>

#include <sstream>

#include "agent/migration_store.h"
#include "tests/transfer/test_pki.h"

namespace migrate::agent {
namespace {

// The sample of `series` (name and labels exactly as rendered); -1 when absent.
double Sample(const AgentMetrics& metrics, const std::string& series) {
  std::istringstream lines(metrics.Render());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string Phase(const std::string& role, const std::string& phase) {
  return "migrate_agent_phase_duration_seconds_count{role=\"" + role + "\",phase=\"" + phase +
         "\"}";
}

std::string Final(const std::string& role, const std::string& status) {
  return "migrate_agent_migrations_total{role=\"" + role + "\",status=\"" + status + "\"}";
}

class AgentMetricsTest : public ::testing::Test {
 protected:
  MigrationPtr Begin(const std::string& id, proto::Role role) {
    auto m = store_.Begin(id, "web-" + id, role);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return *m;
  }
  void Advance(Migration& m, std::initializer_list<Event> events) {
    for (Event e : events) ASSERT_TRUE(store_.Advance(m, e).ok()) << EventName(e);
  }

  testing::TempDir dir_;
  Journal journal_{dir_.path()};
  AgentMetrics metrics_;
  MigrationStore store_{journal_, &metrics_};
};

TEST_F(AgentMetricsTest, EverySeriesIsThereAtZeroBeforeAnyEvent) {
  EXPECT_EQ(Sample(metrics_, Final("source", "committed")), 0);
  EXPECT_EQ(Sample(metrics_, Final("destination", "refused")), 0);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_downtime_seconds_count{role=\"source\"}"), 0);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_streams_in_flight{direction=\"sent\"}"), 0);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_criu_failures_total{operation=\"restore\"}"), 0);
  EXPECT_EQ(Sample(metrics_, Phase("source", "checkpointed")), 0);
  EXPECT_EQ(Sample(metrics_, Phase("destination", "restored")), 0);
  EXPECT_EQ(Sample(metrics_, Phase("source", "restored")), -1) << "a source never restores";
  EXPECT_EQ(Sample(metrics_, Phase("destination", "committed")), -1) << "never left";
}

TEST_F(AgentMetricsTest, ACommittedDestinationTimesEachPhaseItLeft) {
  MigrationPtr m = Begin("m1", proto::ROLE_DESTINATION);
  Advance(*m, {Event::kPrepareReceive, Event::kRestoreBegin, Event::kRestoreFailed});
  EXPECT_EQ(Sample(metrics_, Phase("destination", "restoring")), 0)
      << "a failed restore stays RESTORING: the phase was not left";
  Advance(*m, {Event::kRestoreDone, Event::kCommitBegin, Event::kCommitDone});
  for (const char* phase : {"prepared", "restoring", "restored", "committing"}) {
    EXPECT_EQ(Sample(metrics_, Phase("destination", phase)), 1) << phase;
  }
  EXPECT_EQ(Sample(metrics_, Phase("destination", "unspecified")), -1);
  EXPECT_EQ(Sample(metrics_, Final("destination", "committed")), 1);
  EXPECT_EQ(Sample(metrics_, Final("source", "committed")), 0);
}

TEST_F(AgentMetricsTest, ASourceWhoseRollbackFailedCountsAsFailedAndItsRollbackToo) {
  MigrationPtr m = Begin("m1", proto::ROLE_SOURCE);
  Advance(*m, {Event::kCheckpointBegin, Event::kCheckpointFailed, Event::kRollbackBegin,
               Event::kRollbackFailed});
  EXPECT_EQ(Sample(metrics_, Final("source", "failed")), 1);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_rollbacks_total{role=\"source\",outcome=\"failed\"}"),
            1);
  Advance(*m, {Event::kRollbackBegin, Event::kRollbackDone});
  EXPECT_EQ(Sample(metrics_, Final("source", "rolled_back")), 1);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_rollbacks_total{role=\"source\",outcome=\"done\"}"), 1);
  EXPECT_EQ(Sample(metrics_, Phase("source", "rolling_back")), 2);
}

TEST_F(AgentMetricsTest, AMigrationGivenUpBeforeItsJournalIsRefused) {
  MigrationPtr m = Begin("m1", proto::ROLE_SOURCE);
  store_.Abandon(m);
  EXPECT_EQ(Sample(metrics_, Final("source", "refused")), 1);
  store_.Abandon(m);
  EXPECT_EQ(Sample(metrics_, Final("source", "refused")), 1) << "forgotten already";
}

TEST_F(AgentMetricsTest, APhaseEnteredBeforeARestartIsNotTimed) {
  {
    MigrationStore before(journal_);
    auto m = before.Begin("m1", "web", proto::ROLE_DESTINATION);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(before.Advance(**m, Event::kPrepareReceive).ok());
  }
  auto loaded = store_.LoadJournal();
  ASSERT_TRUE(loaded.ok() && loaded->size() == 1);
  Advance(*loaded->front(), {Event::kRollbackBegin, Event::kRollbackDone});
  EXPECT_EQ(Sample(metrics_, Phase("destination", "prepared")), 0);
  EXPECT_EQ(Sample(metrics_, Phase("destination", "rolling_back")), 1);
  EXPECT_EQ(Sample(metrics_, Final("destination", "rolled_back")), 1);
}

TEST_F(AgentMetricsTest, StreamsDowntimeCriuAndRefusals) {
  metrics_.StreamStarted(transfer::StreamDirection::kSend);
  metrics_.StreamStarted(transfer::StreamDirection::kSend);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_streams_in_flight{direction=\"sent\"}"), 2);
  transfer::TransferStats stats;
  stats.raw_bytes = 1000;
  stats.wire_bytes = 400;
  metrics_.StreamEnded(transfer::StreamDirection::kSend, stats);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_streams_in_flight{direction=\"sent\"}"), 1);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_streams_total{direction=\"sent\"}"), 1);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_stream_raw_bytes_total{direction=\"sent\"}"), 1000);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_stream_wire_bytes_total{direction=\"sent\"}"), 400);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_stream_raw_bytes_total{direction=\"received\"}"), 0);

  metrics_.Downtime(proto::ROLE_SOURCE, std::chrono::milliseconds(420));
  EXPECT_EQ(Sample(metrics_, "migrate_agent_downtime_seconds_bucket{role=\"source\",le=\"0.3\"}"),
            0);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_downtime_seconds_bucket{role=\"source\",le=\"0.5\"}"),
            1);
  EXPECT_DOUBLE_EQ(Sample(metrics_, "migrate_agent_downtime_seconds_sum{role=\"source\"}"), 0.42);

  metrics_.CriuFailed("checkpoint");
  EXPECT_EQ(Sample(metrics_, "migrate_agent_criu_failures_total{operation=\"checkpoint\"}"), 1);
  static_cast<transfer::StreamObserver&>(metrics_).ConnectionRefused("peer");
  metrics_.ConnectionRefused("api", "handshake");
  EXPECT_EQ(Sample(metrics_,
                   "migrate_agent_connections_refused_total{listener=\"data\",reason=\"peer\"}"),
            1);
  EXPECT_EQ(
      Sample(metrics_,
             "migrate_agent_connections_refused_total{listener=\"api\",reason=\"handshake\"}"),
      1);
}

}  // namespace
}  // namespace migrate::agent
