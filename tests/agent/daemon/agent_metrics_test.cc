// The agent's metrics as its parts report to them: phase changes through the store (the one
// way a phase changes), refusals, streams, downtime, CRIU failures and refused connections.
#include "agent/agent_metrics.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
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

// Labels as prometheus-cpp writes them: sorted by name.
std::string Phase(const std::string& role, const std::string& phase) {
  return "migrate_agent_phase_duration_seconds_count{phase=\"" + phase + "\",role=\"" + role +
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
  EXPECT_EQ(Sample(metrics_, "migrate_agent_rollbacks_total{outcome=\"failed\",role=\"source\"}"),
            1);
  Advance(*m, {Event::kRollbackBegin, Event::kRollbackDone});
  EXPECT_EQ(Sample(metrics_, Final("source", "rolled_back")), 1);
  EXPECT_EQ(Sample(metrics_, "migrate_agent_rollbacks_total{outcome=\"done\",role=\"source\"}"), 1);
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

// What a scraper parses: per family one HELP line (one line: prometheus-cpp writes help texts
// unescaped), its TYPE, then samples of that family alone; a byte counter past 2^32 is written as
// an integer, which the integration tests add up in shell arithmetic. A family without series is
// not written: refused connections have none before the first.
TEST_F(AgentMetricsTest, TheTextFormatIsOneFamilyAfterAnother) {
  EXPECT_EQ(metrics_.Render().find("migrate_agent_connections_refused_total"), std::string::npos);
  metrics_.ConnectionRefused("api", "limit");
  transfer::TransferStats stats;
  stats.raw_bytes = 5ull << 30;
  metrics_.StreamStarted(transfer::StreamDirection::kReceive);
  metrics_.StreamEnded(transfer::StreamDirection::kReceive, stats);
  const std::regex help(R"(# HELP (migrate_agent_[a-z_]+) [^\\]+)");
  const std::regex type(R"(# TYPE (migrate_agent_[a-z_]+) (counter|gauge|histogram))");
  const std::regex sample(
      R"re(([a-z_]+?)(_bucket|_sum|_count)?(\{([a-z]+="[^"]*",?)+\})? \S+)re");
  std::istringstream lines(metrics_.Render());
  std::set<std::string> families;
  std::string line, family, family_type;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, match, help)) {
      family = match[1];
      EXPECT_TRUE(families.insert(family).second) << family << " twice";
      ASSERT_TRUE(std::getline(lines, line) && std::regex_match(line, match, type)) << line;
      EXPECT_EQ(match[1].str(), family);
      family_type = match[2].str();
    } else if (std::regex_match(line, match, sample)) {
      EXPECT_EQ(match[1].str(), family) << line;
      EXPECT_EQ(match[2].matched, family_type == "histogram") << line;
    } else {
      ADD_FAILURE() << "not a line of the text format: " << line;
    }
  }
  EXPECT_EQ(families.size(), 10u);
  EXPECT_NE(metrics_.Render().find(
                "\nmigrate_agent_stream_raw_bytes_total{direction=\"received\"} 5368709120\n"),
            std::string::npos);
}

}  // namespace
}  // namespace migrate::agent
