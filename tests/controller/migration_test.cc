// The orchestrator against scripted agents: the flow of docs/flow.md, every refusal before
// the freeze, and the rollback after it (with a failure injected at every call in turn).
#include "controller/migration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "controller/report.h"
#include "controller/rollback.h"
#include "tests/controller/fake_agent_client.h"

namespace migrate::controller {
namespace {

using ::testing::ElementsAre;
using testing::FakePair;
using ::testing::HasSubstr;
using testing::MakeHealthyPair;

MigrationRequest Request(proto::CgroupMode mode = proto::CGROUP_MODE_SOFT) {
  MigrationRequest request;
  request.migration_id = "00112233445566ff";
  request.container_id = "web";
  request.source.set_name("host-a");
  request.source.set_address("10.0.0.1");
  request.source.set_port(7000);
  request.source.set_data_address("10.0.0.1");
  request.destination.set_name("host-b");
  request.destination.set_address("10.0.0.2");
  request.destination.set_port(7000);
  request.destination.set_data_address("192.168.5.2");
  request.cgroup_mode = mode;
  request.compress_level = 3;
  request.progress_interval_ms = 0;
  return request;
}

proto::Report RunMigration(FakePair& pair, const MigrationRequest& request,
                           ProgressSink* progress = nullptr) {
  testing::FakeClock clock;
  Migration migration(request, *pair.source, *pair.destination, clock, progress);
  return migration.Run();
}

bool Called(FakePair& pair, const std::string& call) {
  const std::vector<std::string> calls = pair.log.Calls();
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

// Nothing was changed on either host: no call past preflight.
void ExpectNothingTouched(FakePair& pair) {
  for (const std::string& call : pair.log.Calls()) {
    EXPECT_THAT(call, ::testing::AnyOf(HasSubstr(":GetHealth"), HasSubstr(":Preflight")))
        << "a call that changes something happened before refusal";
  }
}

const proto::ReportCheck* FailedCheck(const proto::Report& report) {
  for (const proto::ReportCheck& c : report.checks()) {
    if (!c.ok()) return &c;
  }
  return nullptr;
}

// The downtime comes from durations measured on one clock each, so skewed clocks between
// the hosts do not change it; an agent that reports no durations falls back to the wall
// clocks, with a warning.
TEST(MigrationTest, DowntimeDoesNotDependOnTheHostsClocks) {
  auto skewed = MakeHealthyPair();
  skewed->source->checkpoint_send.set_freeze_unix_ms(1700000000000);
  skewed->destination->restore.set_running_unix_ms(1699999990000);  // 10 s behind
  const proto::Report report = RunMigration(*skewed, Request());
  EXPECT_EQ(report.status(), "migrated") << report.error();
  EXPECT_EQ(report.timings_ms().downtime(), 750u);
  EXPECT_TRUE(report.warnings().empty());

  auto old_agent = MakeHealthyPair();
  old_agent->source->checkpoint_send.clear_frozen_for_ms();
  const proto::Report fallback = RunMigration(*old_agent, Request());
  EXPECT_EQ(fallback.timings_ms().downtime(), 750u);  // from the unix-ms fields
  ASSERT_EQ(fallback.warnings_size(), 1);
  EXPECT_THAT(fallback.warnings(0), HasSubstr("two hosts' wall clocks"));
}

TEST(MigrationTest, HappyPathFollowsTheFlow) {
  auto pair = MakeHealthyPair();
  const proto::Report report = RunMigration(*pair, Request());

  EXPECT_EQ(report.status(), "migrated") << report.error();
  EXPECT_EQ(ExitCodeForReport(report), kExitMigrated);
  EXPECT_THAT(
      pair->log.Calls(),
      ElementsAre("host-a:GetHealth", "host-b:GetHealth", "host-a:Preflight", "host-b:Preflight",
                  "host-b:PrepareReceive", "host-a:CheckpointSend",
                  "host-b:Restore", "host-b:Inspect", "host-b:Commit", "host-a:Commit"));
  // What the destination was told about the source.
  ASSERT_EQ(pair->destination->preflight_requests.size(), 1u);
  const proto::PreflightRequest& dst_preflight = pair->destination->preflight_requests[0];
  EXPECT_EQ(dst_preflight.role(), proto::ROLE_DESTINATION);
  // The root file system (100 MiB) and the memory twice (2 x 200 MiB): a dump that catches a
  // short-lived child of a process carries the memory they share once for each.
  EXPECT_EQ(dst_preflight.bytes_needed(), uint64_t{500} << 20);
  EXPECT_EQ(dst_preflight.source_cpuinfo(), "cpuinfo-image-of-host-a");
  EXPECT_EQ(dst_preflight.source_criu_version(), "4.1.1");
  EXPECT_EQ(dst_preflight.cgroup_mode(), proto::CGROUP_MODE_SOFT);
  EXPECT_EQ(pair->source->preflight_requests.at(0).role(), proto::ROLE_SOURCE);
  // Both streams go to the destination's data address with their own tokens, during the
  // freeze.
  const proto::CheckpointSendRequest& checkpoint = pair->source->checkpoint_requests.at(0);
  EXPECT_EQ(checkpoint.target().node_name(), "host-b");
  EXPECT_EQ(checkpoint.target().address(), "192.168.5.2");
  EXPECT_EQ(checkpoint.target().data_port(), 7001u);
  EXPECT_EQ(checkpoint.target().token(), "images-token");
  EXPECT_EQ(checkpoint.bundle_token(), "bundle-token");
  EXPECT_EQ(report.bytes().bundle_raw(), 100 << 20);
  EXPECT_EQ(checkpoint.cgroup_mode(), proto::CGROUP_MODE_SOFT);
  EXPECT_EQ(checkpoint.compress_level(), 3);
  EXPECT_EQ(checkpoint.migration_id(), "00112233445566ff");
  EXPECT_FALSE(pair->source->commit_requests.at(0).keep_images());
  EXPECT_TRUE(pair->source->rollback_requests.empty());
  EXPECT_TRUE(pair->destination->rollback_requests.empty());

  // The report.
  EXPECT_EQ(report.container(), "web");
  EXPECT_EQ(report.source(), "host-a");
  EXPECT_EQ(report.destination(), "host-b");
  EXPECT_EQ(report.timings_ms().downtime(), 750u);
  EXPECT_GT(report.timings_ms().total(), 0u);
  EXPECT_GT(report.timings_ms().checkpoint_transfer(), 0u);
  EXPECT_EQ(report.timings_ms().rollback(), 0u);
  EXPECT_EQ(report.timings_ms().checkpoint(), 300u);
  EXPECT_EQ(report.bytes().raw(), 300.0 * (1 << 20));
  EXPECT_EQ(report.bytes().wire(), 110.0 * (1 << 20));
  EXPECT_EQ(report.cgroups_mode().requested(), "soft");
  EXPECT_EQ(report.cgroups_mode().dump_effective(), "soft");
  EXPECT_EQ(report.cgroups_mode().restore_effective(), "soft");
  EXPECT_THAT(report.cgroups_mode().restore_evidence(), HasSubstr("restore mode 0x4"));
  EXPECT_EQ(report.destination_pid(), 4242);
  EXPECT_TRUE(report.loopback_up());
  EXPECT_TRUE(report.error().empty());
  EXPECT_TRUE(report.frozen());
  EXPECT_EQ(FailedCheck(report), nullptr);
}

TEST(MigrationTest, IgnoreModeCarriesCgroupPathAndKeepImages) {
  auto pair = MakeHealthyPair(proto::CGROUP_MODE_IGNORE);
  MigrationRequest request = Request(proto::CGROUP_MODE_IGNORE);
  request.cgroup_path = "/new-parent/web";
  request.keep_images = true;
  const proto::Report report = RunMigration(*pair, request);
  ASSERT_EQ(report.status(), "migrated") << report.error();
  EXPECT_EQ(pair->destination->restore_requests.at(0).cgroup_path(), "/new-parent/web");
  EXPECT_EQ(pair->destination->restore_requests.at(0).cgroup_mode(), proto::CGROUP_MODE_IGNORE);
  EXPECT_EQ(pair->destination->preflight_requests.at(0).cgroup_path(), "/new-parent/web");
  EXPECT_TRUE(pair->source->commit_requests.at(0).keep_images());
  EXPECT_EQ(report.cgroups_mode().requested(), "ignore");
  EXPECT_EQ(report.cgroups_mode().restore_effective(), "ignore");
}

TEST(MigrationTest, DryRunStopsAfterPreflight) {
  auto pair = MakeHealthyPair();
  MigrationRequest request = Request();
  request.dry_run = true;
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "preflight_ok");
  EXPECT_EQ(ExitCodeForReport(report), kExitMigrated);
  EXPECT_FALSE(report.frozen());
  ExpectNothingTouched(*pair);
  EXPECT_TRUE(Called(*pair, "host-b:Preflight"));
}

// ---- Refusals before the freeze. ----

struct Refusal {
  const char* name;
  std::function<void(FakePair&, MigrationRequest&)> arrange;
  const char* failed_host;
  const char* failed_check;
};

class PreflightRefusalTest : public ::testing::TestWithParam<Refusal> {};

void FailAgentCheck(testing::FakeAgentClient& agent, const std::string& name,
                    const std::string& detail) {
  for (proto::PreflightCheck& check : *agent.preflight.mutable_checks()) {
    if (check.name() == name) {
      check.set_ok(false);
      check.set_detail(detail);
      check.set_remedy("do something about " + name);
      return;
    }
  }
  FAIL() << "no check " << name;
}

TEST_P(PreflightRefusalTest, EndsBeforeAnyFreeze) {
  auto pair = MakeHealthyPair();
  MigrationRequest request = Request();
  GetParam().arrange(*pair, request);
  const proto::Report report = RunMigration(*pair, request);

  EXPECT_EQ(report.status(), "failed");
  EXPECT_EQ(report.failed_phase(), "preflight");
  EXPECT_FALSE(report.frozen());
  EXPECT_EQ(ExitCodeForReport(report), kExitFailed);
  ExpectNothingTouched(*pair);
  EXPECT_TRUE(pair->source->checkpoint_requests.empty());
  const proto::ReportCheck* failed = FailedCheck(report);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->host(), GetParam().failed_host);
  EXPECT_EQ(failed->name(), GetParam().failed_check);
  EXPECT_FALSE(failed->remedy().empty()) << "a failed check must say what to do";
  EXPECT_THAT(report.error(), HasSubstr(GetParam().failed_check));
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, PreflightRefusalTest,
    ::testing::Values(
        Refusal{"ContainerAbsentOnSource",
                [](FakePair& p, MigrationRequest&) {
                  FailAgentCheck(*p.source, "container-running", "no container web");
                  p.source->preflight.mutable_container()->set_exists(false);
                },
                "host-a", "container-running"},
        Refusal{"ContainerAlreadyOnDestination",
                [](FakePair& p, MigrationRequest&) {
                  FailAgentCheck(*p.destination, "container-absent", "web exists");
                },
                "host-b", "container-absent"},
        Refusal{"StrictNotHonourable",
                [](FakePair& p, MigrationRequest& r) {
                  r.cgroup_mode = proto::CGROUP_MODE_STRICT;
                  FailAgentCheck(*p.destination, "cgroup-mode-restore",
                                 "strict cannot work under runc: it pre-creates the cgroup");
                },
                "host-b", "cgroup-mode-restore"},
        Refusal{"StrictRefusedFromCapabilitiesWhenTheAgentSaysNothing",
                [](FakePair&, MigrationRequest& r) { r.cgroup_mode = proto::CGROUP_MODE_STRICT; },
                "controller", "cgroup-mode-restore"},
        Refusal{"CriuTooOldOnDestination",
                [](FakePair& p, MigrationRequest&) {
                  p.destination->preflight.mutable_capabilities()->set_criu_version("3.17.1");
                },
                "controller", "criu-versions"},
        Refusal{"CpuinfoMismatch",
                [](FakePair& p, MigrationRequest&) {
                  FailAgentCheck(*p.destination, "cpuinfo", "criu cpuinfo check: fpu mismatch");
                },
                "host-b", "cpuinfo"},
        Refusal{"NoSpace",
                [](FakePair& p, MigrationRequest&) {
                  FailAgentCheck(*p.destination, "free-space", "1 MiB free, 300 MiB needed");
                },
                "host-b", "free-space"},
        Refusal{"CriuCheckFailsOnSource",
                [](FakePair& p, MigrationRequest&) {
                  FailAgentCheck(*p.source, "criu-check", "vdso: Unexpected rt vDSO area");
                },
                "host-a", "criu-check"},
        Refusal{"DestinationUnreachable",
                [](FakePair& p, MigrationRequest&) {
                  p.destination->errors["GetHealth"] = Status::Unavailable("connection refused");
                },
                "host-b", "agent-reachable"},
        Refusal{"AgentNameDiffersFromInventory",
                [](FakePair& p, MigrationRequest&) { p.source->health.set_node_name("host-z"); },
                "host-a", "agent-reachable"},
        Refusal{"SourcePreflightCallFails",
                [](FakePair& p, MigrationRequest&) {
                  p.source->errors["Preflight"] = Status::Internal("boom");
                },
                "host-a", "preflight"},
        Refusal{"SameHostTwice", [](FakePair&, MigrationRequest& r) { r.destination = r.source; },
                "controller", "distinct-hosts"}),
    [](const ::testing::TestParamInfo<Refusal>& p) { return p.param.name; });

TEST(MigrationTest, SameHostIsRefusedWithoutContactingAnyAgent) {
  auto pair = MakeHealthyPair();
  MigrationRequest request = Request();
  request.destination = request.source;
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "failed");
  EXPECT_TRUE(pair->log.Calls().empty());
}

TEST(MigrationTest, AllFailedChecksOfBothHostsAreReported) {
  auto pair = MakeHealthyPair();
  FailAgentCheck(*pair->source, "criu-check", "criu missing");
  FailAgentCheck(*pair->destination, "free-space", "disk full");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_THAT(report.error(), HasSubstr("2 failed checks"));
  EXPECT_THAT(report.error(), HasSubstr("host-a: criu-check: criu missing"));
  EXPECT_THAT(report.error(), HasSubstr("host-b: free-space: disk full"));
}

// ---- Failures before the freeze (after the destination was touched). ----

TEST(MigrationTest, PrepareFailureRollsBackOnlyTheDestination) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["PrepareReceive"] = Status::IoError("create staging: disk full");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_EQ(report.failed_phase(), "prepare");
  EXPECT_FALSE(report.frozen());
  EXPECT_EQ(ExitCodeForReport(report), kExitFailed);
  EXPECT_THAT(report.error(), HasSubstr("disk full"));
  EXPECT_TRUE(pair->source->checkpoint_requests.empty());
  EXPECT_TRUE(pair->source->rollback_requests.empty());
  ASSERT_EQ(pair->destination->rollback_requests.size(), 1u);
  EXPECT_EQ(pair->log.Calls().back(), "host-b:Rollback");
  EXPECT_EQ(report.rollback().destination(), "ok");
}

// ---- Failures after the freeze: destination rollback, then source rollback. ----

struct LateFailure {
  const char* name;
  std::function<void(FakePair&)> arrange;
  const char* failed_phase;
  const char* error_part;
};

class LateFailureTest : public ::testing::TestWithParam<LateFailure> {};

TEST_P(LateFailureTest, RollsBackDestinationThenSource) {
  auto pair = MakeHealthyPair();
  GetParam().arrange(*pair);
  const proto::Report report = RunMigration(*pair, Request());

  EXPECT_EQ(report.status(), "rolled_back") << report.error();
  EXPECT_EQ(ExitCodeForReport(report), kExitRolledBack);
  EXPECT_EQ(report.failed_phase(), GetParam().failed_phase);
  EXPECT_THAT(report.error(), HasSubstr(GetParam().error_part));
  EXPECT_TRUE(report.frozen());
  EXPECT_TRUE(report.rollback().attempted());
  EXPECT_EQ(report.rollback().destination(), "ok");
  EXPECT_EQ(report.rollback().source(), "ok");
  EXPECT_GT(report.timings_ms().rollback(), 0u);
  const std::vector<std::string> calls = pair->log.Calls();
  ASSERT_GE(calls.size(), 3u);
  // The last three calls: rollback on the destination, then on the source, then the check
  // that the container runs on the source again.
  EXPECT_THAT(std::vector<std::string>(calls.end() - 3, calls.end()),
              ElementsAre("host-b:Rollback", "host-a:Rollback", "host-a:Inspect"));
  EXPECT_FALSE(Called(*pair, "host-a:Commit"));
  ASSERT_EQ(pair->source->rollback_requests.size(), 1u);
  EXPECT_EQ(pair->source->rollback_requests[0].migration_id(), "00112233445566ff");
  EXPECT_THAT(pair->source->rollback_requests[0].reason(), HasSubstr(GetParam().error_part));
}

INSTANTIATE_TEST_SUITE_P(
    AfterFreeze, LateFailureTest,
    ::testing::Values(LateFailure{"CheckpointSendStreamCut",
                                  [](FakePair& p) {
                                    p.source->errors["CheckpointSend"] =
                                        Status::DataLoss("stream cut after 120 MiB");
                                  },
                                  "checkpoint+transfer", "stream cut"},
                      LateFailure{"RestoreFails",
                                  [](FakePair& p) {
                                    p.destination->errors["Restore"] =
                                        Status::FailedPrecondition("runc restore: exit status 1");
                                  },
                                  "restore", "runc restore"},
                      LateFailure{"VerifyEffectiveModeMismatch",
                                  [](FakePair& p) {
                                    p.destination->restore.mutable_restore_mode()->set_effective(
                                        proto::CGROUP_MODE_IGNORE);
                                  },
                                  "verify", "ran cgroup mode ignore, requested soft"},
                      LateFailure{"VerifyContainerNotRunning",
                                  [](FakePair& p) { p.destination->inspect.set_status("stopped"); },
                                  "verify", "is stopped, not running"},
                      LateFailure{"CommitOnDestinationFails",
                                  [](FakePair& p) {
                                    p.destination->errors["Commit"] =
                                        Status::IoError("journal: disk full");
                                  },
                                  "commit", "journal: disk full"}),
    [](const ::testing::TestParamInfo<LateFailure>& p) { return p.param.name; });

// The destination died during the transfer: it never got a restore call, so it cannot run the
// container, and the source restores it even though the destination cannot confirm.
TEST(MigrationTest, DestinationDeadDuringTransferStillRollsBackTheSource) {
  auto pair = MakeHealthyPair();
  pair->source->errors["CheckpointSend"] = Status::Unavailable("stream: connection reset by peer");
  pair->destination->errors["Rollback"] = Status::Unavailable("connection refused");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "rolled_back");
  EXPECT_EQ(ExitCodeForReport(report), kExitRolledBack);
  EXPECT_THAT(report.rollback().destination(), HasSubstr("connection refused"));
  EXPECT_EQ(report.rollback().source(), "ok");
  EXPECT_EQ(pair->source->rollback_requests.size(), 1u);
  ASSERT_FALSE(report.warnings().empty());
  EXPECT_THAT(report.warnings(0), HasSubstr("host-b"));
}

// The restore call's answer was lost and the destination cannot confirm a rollback: it may be
// running the container, so the source must NOT restore it (two copies); its images stay.
TEST(MigrationTest, DestinationUnreachableAfterRestoreKeepsTheSourceImages) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::Unavailable("connection reset by peer");
  pair->destination->errors["Rollback"] = Status::Unavailable("connection refused");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_EQ(ExitCodeForReport(report), kExitNeedsOperator);
  EXPECT_TRUE(pair->source->rollback_requests.empty());
  EXPECT_THAT(report.rollback().source(), HasSubstr("not attempted"));
  EXPECT_THAT(report.error(), HasSubstr("may run the container"));
  EXPECT_THAT(report.error(), HasSubstr("keeps the checkpoint images"));
}

TEST(MigrationTest, SourceRollbackFailureIsFailedAndSaysWhereTheImagesAre) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::FailedPrecondition("restore failed");
  pair->source->errors["Rollback"] = Status::Internal("runc restore on the source failed");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_EQ(ExitCodeForReport(report), kExitNeedsOperator);
  EXPECT_THAT(report.error(), HasSubstr("restore failed"));
  EXPECT_THAT(report.error(), HasSubstr("keeps the checkpoint images of migration"));
  EXPECT_THAT(ReportToText(report), HasSubstr("rollback failed"));
}

TEST(MigrationTest, SourceRollbackAnsweringAnotherPhaseIsNotRolledBack) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::FailedPrecondition("restore failed");
  pair->source->rollback.set_phase(proto::PHASE_FAILED);
  pair->source->rollback.set_message("images corrupt");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_THAT(report.rollback().source(), HasSubstr("PHASE_FAILED"));
}

TEST(MigrationTest, SourceNotRunningAfterRollbackIsFailed) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::FailedPrecondition("restore failed");
  pair->source->inspect.set_exists(false);
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_THAT(report.rollback().source(), HasSubstr("absent"));
}

// A destination commit that keeps failing like a lost answer is tried three times, then the
// migration is rolled back; an error that is an answer (not a lost one) is not repeated.
TEST(MigrationTest, CommitIsRepeatedOnlyWhenItsAnswerMayHaveBeenLost) {
  auto count = [](FakePair& pair, const std::string& call) {
    const std::vector<std::string> calls = pair.log.Calls();
    return std::count(calls.begin(), calls.end(), call);
  };
  auto lost = MakeHealthyPair();
  lost->destination->errors["Commit"] = Status::Unavailable("connection reset by peer");
  testing::FakeClock clock;
  Migration first(Request(), *lost->source, *lost->destination, clock, nullptr);
  const proto::Report lost_report = first.Run();
  EXPECT_EQ(count(*lost, "host-b:Commit"), 3);
  EXPECT_EQ(clock.slept_ms, 250 + 1000);
  EXPECT_EQ(lost_report.status(), "rolled_back") << lost_report.error();

  auto refused = MakeHealthyPair();
  refused->destination->errors["Commit"] = Status::FailedPrecondition("not RESTORED");
  testing::FakeClock clock2;
  Migration second(Request(), *refused->source, *refused->destination, clock2, nullptr);
  const proto::Report refused_report = second.Run();
  EXPECT_EQ(count(*refused, "host-b:Commit"), 1);
  EXPECT_EQ(clock2.slept_ms, 0);
  EXPECT_EQ(refused_report.status(), "rolled_back") << refused_report.error();
}

TEST(MigrationTest, SourceCleanupFailureAfterCommitIsMigratedWithWarning) {
  auto pair = MakeHealthyPair();
  pair->source->errors["Commit"] = Status::Unavailable("connection refused");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "migrated");
  EXPECT_TRUE(pair->source->rollback_requests.empty());
  EXPECT_TRUE(pair->destination->rollback_requests.empty());
  ASSERT_EQ(report.warnings_size(), 1);
  EXPECT_THAT(report.warnings(0), HasSubstr("could not clean up"));
}

// Beast test style: fail the 1st call, then the 2nd, ... until a run succeeds untouched.
// Whatever fails after the freeze, the source is rolled back and the status is rolled_back;
// whatever fails before it, nothing was frozen and the status is failed.
TEST(MigrationTest, FailureInjectedAtEveryCall) {
  int fail_at = 0;
  for (; fail_at < 100; ++fail_at) {
    auto pair = MakeHealthyPair();
    pair->log.fail_at = fail_at;
    const proto::Report report = RunMigration(*pair, Request());
    if (!pair->log.injected_hit) {
      EXPECT_EQ(report.status(), "migrated") << report.error();
      break;
    }
    const std::string failed_call = pair->log.Calls().at(fail_at);
    SCOPED_TRACE("failure injected at call " + std::to_string(fail_at) + " (" + failed_call + ")");
    const bool after_freeze = !pair->source->checkpoint_requests.empty();
    if (failed_call == "host-a:Commit" || failed_call == "host-b:Commit") {
      // Commit is idempotent: the call that failed like a lost answer was made again.
      EXPECT_EQ(report.status(), "migrated") << report.error();
      EXPECT_EQ(pair->log.Calls().at(fail_at + 1), failed_call) << "not repeated";
      EXPECT_TRUE(pair->source->rollback_requests.empty());
      EXPECT_TRUE(pair->destination->rollback_requests.empty());
      EXPECT_TRUE(report.warnings().empty());
    } else if (after_freeze) {
      EXPECT_EQ(report.status(), "rolled_back") << report.error();
      EXPECT_EQ(pair->source->rollback_requests.size(), 1u);
      EXPECT_EQ(pair->destination->rollback_requests.size(), 1u);
      EXPECT_THAT(report.error(), HasSubstr("injected failure"));
      const std::vector<std::string> calls = pair->log.Calls();
      const auto dst = std::find(calls.begin(), calls.end(), "host-b:Rollback");
      const auto src = std::find(calls.begin(), calls.end(), "host-a:Rollback");
      EXPECT_LT(dst, src) << "the destination is rolled back before the source";
    } else {
      EXPECT_EQ(report.status(), "failed");
      EXPECT_FALSE(report.frozen());
      EXPECT_TRUE(pair->source->rollback_requests.empty());
      EXPECT_THAT(report.error(), HasSubstr("injected failure"));
    }
  }
  EXPECT_EQ(fail_at, 10) << "the happy path makes 10 calls";
}

class RecordingProgress : public ProgressSink {
 public:
  void OnPhase(std::string_view phase) override {
    std::lock_guard<std::mutex> lock(mu);
    phases.emplace_back(phase);
  }
  void OnBytes(uint64_t raw, uint64_t wire) override {
    std::lock_guard<std::mutex> lock(mu);
    last_raw = raw;
    last_wire = wire;
  }
  void Finish() override { finished = true; }

  std::mutex mu;
  std::vector<std::string> phases;
  uint64_t last_raw = 0;
  uint64_t last_wire = 0;
  std::atomic<bool> finished{false};
};

TEST(MigrationTest, ProgressIsPolledOnTheSourceDuringTheCheckpoint) {
  auto pair = MakeHealthyPair();
  testing::FakeAgentClient* source = pair->source.get();
  bool polled = false;
  // The checkpoint answers only once a progress poll came in, as a real long call would.
  source->during_checkpoint = [&] { polled = source->WaitForPolls(source->migration_polls() + 1); };
  MigrationRequest request = Request();
  request.progress_interval_ms = 1;
  RecordingProgress progress;
  const proto::Report report = RunMigration(*pair, request, &progress);
  EXPECT_EQ(report.status(), "migrated");
  EXPECT_TRUE(polled);
  EXPECT_EQ(progress.last_raw, 1u << 20);
  EXPECT_EQ(progress.last_wire, 1u << 19);
  EXPECT_TRUE(progress.finished);
  EXPECT_THAT(progress.phases, ElementsAre("preflight", "prepare", "checkpoint+transfer", "restore",
                                           "verify", "commit"));
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST(MigrationInterruptTest, InterruptDuringTheFreezeRollsBackAfterTheStep) {
  auto pair = testing::MakeHealthyPair();
  std::atomic<bool> interrupted{false};
  pair->source->during_checkpoint = [&] { interrupted = true; };
  MigrationRequest request = Request();
  request.interrupted = &interrupted;
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "rolled_back");
  EXPECT_EQ(report.failed_phase(), "restore");
  EXPECT_THAT(report.error(), HasSubstr("interrupted by the operator"));
  EXPECT_TRUE(pair->destination->restore_requests.empty());
  const std::vector<std::string> calls = pair->log.Calls();
  EXPECT_THAT(std::vector<std::string>(calls.end() - 3, calls.end()),
              ElementsAre("host-b:Rollback", "host-a:Rollback", "host-a:Inspect"));
}

TEST(MigrationInterruptTest, InterruptBeforeTheFreezeChangesNothing) {
  auto pair = testing::MakeHealthyPair();
  std::atomic<bool> interrupted{true};
  MigrationRequest request = Request();
  request.interrupted = &interrupted;
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "failed");
  EXPECT_FALSE(report.frozen());
  EXPECT_TRUE(pair->log.Calls().empty());
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

// A destination with no record of the migration after it was asked to restore may have lost
// its state and run the container: the source is not restored.
TEST(MigrationRollbackTest, ADestinationThatForgotTheMigrationIsNotAConfirmation) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::Unavailable("connection reset");
  pair->destination->errors["Rollback"] = Status::NotFound("migration unknown to host-b");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_THAT(report.rollback().destination(), HasSubstr("no record"));
  EXPECT_TRUE(pair->source->rollback_requests.empty());
}

// Before any restore was asked, a destination without a record of it cannot run it.
TEST(MigrationRollbackTest, ADestinationNeverAskedToRestoreMayKnowNothing) {
  auto pair = MakeHealthyPair();
  pair->source->errors["CheckpointSend"] = Status::Internal("dump failed");
  pair->destination->errors["Rollback"] = Status::NotFound("migration unknown to host-b");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "rolled_back") << report.error();
  EXPECT_EQ(report.rollback().destination(), "ok");
  ASSERT_EQ(pair->source->rollback_requests.size(), 1u);
}

// Every rollback names the other host, so that an agent whose journal says otherwise refuses.
TEST(MigrationRollbackTest, RollbacksNameThePeer) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::FailedPrecondition("restore failed");
  (void)RunMigration(*pair, Request());
  ASSERT_EQ(pair->destination->rollback_requests.size(), 1u);
  EXPECT_EQ(pair->destination->rollback_requests[0].peer_node(), "host-a");
  ASSERT_EQ(pair->source->rollback_requests.size(), 1u);
  EXPECT_EQ(pair->source->rollback_requests[0].peer_node(), "host-b");
}

// A source that refused the checkpoint before the freeze (e.g. another migration holds the
// container) has nothing to roll back: the migration failed with nothing changed.
TEST(MigrationRollbackTest, ACheckpointRefusedBeforeTheFreezeIsNotARollback) {
  auto pair = MakeHealthyPair();
  pair->source->errors["CheckpointSend"] =
      Status::AlreadyExists("container web is held by unfinished migration m0");
  pair->source->errors["Rollback"] = Status::NotFound("migration unknown to host-a");
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "failed");
  EXPECT_FALSE(report.frozen());
  EXPECT_THAT(report.error(), HasSubstr("held by unfinished migration m0"));
  EXPECT_EQ(report.rollback().source(), kSourceNeverFroze);
  EXPECT_FALSE(Called(*pair, "host-a:Inspect"));
}

// The destination committed but its answer was lost: it refuses the rollback; the source is
// committed instead, and the container runs on the destination alone.
TEST(MigrationRollbackTest, ACommitWhoseAnswerWasLostIsFinishedNotRolledBack) {
  auto pair = MakeHealthyPair();
  pair->destination->errors["Commit"] = Status::Unavailable("connection reset");
  pair->destination->errors["Rollback"] =
      Status::FailedPrecondition("rollback: migration 00112233445566ff is COMMITTED");
  pair->destination->migration.set_phase(proto::PHASE_COMMITTED);
  const proto::Report report = RunMigration(*pair, Request());
  EXPECT_EQ(report.status(), "migrated") << report.error();
  EXPECT_TRUE(pair->source->rollback_requests.empty());
  EXPECT_EQ(pair->source->commit_requests.size(), 1u);
  ASSERT_FALSE(report.warnings().empty());
  EXPECT_THAT(report.warnings(0), HasSubstr("answer was lost"));
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST(MigrationCriuTest, CriuWarningsReachTheReportAndOptionsReachBothAgents) {
  auto pair = MakeHealthyPair();
  pair->source->checkpoint_send.add_criu_warnings(
      "fsnotify: The 0x1 inotify events will be dropped");
  pair->destination->restore.add_criu_warnings("unix: Shutdown mismatch 1:3 -> 3");
  MigrationRequest request = Request();
  request.file_locks = true;
  request.ext_unix_sk = true;
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "migrated") << report.error();
  EXPECT_THAT(std::vector<std::string>(report.warnings().begin(), report.warnings().end()),
              ::testing::IsSupersetOf(
                  {"CRIU on host-a (dump): fsnotify: The 0x1 inotify events will be dropped",
                   "CRIU on host-b (restore): unix: Shutdown mismatch 1:3 -> 3"}));
  ASSERT_EQ(pair->source->checkpoint_requests.size(), 1u);
  EXPECT_TRUE(pair->source->checkpoint_requests[0].file_locks());
  EXPECT_TRUE(pair->source->checkpoint_requests[0].ext_unix_sk());
  ASSERT_EQ(pair->destination->restore_requests.size(), 1u);
  EXPECT_TRUE(pair->destination->restore_requests[0].file_locks());
  EXPECT_TRUE(pair->source->preflight_requests[0].file_locks());
}

TEST(MigrationCriuTest, CriuFileOptionsReachPreflightAndDumpAndTheReportSaysHow) {
  auto pair = MakeHealthyPair();
  pair->source->checkpoint_send.add_criu_options(
      "link-remap: CRIU config file /s/criu-options.conf (CRIU_CONFIG_FILE)");
  MigrationRequest request = Request();
  request.criu_file_options.set_link_remap(true);
  request.criu_file_options.set_ghost_limit_bytes(8 << 20);
  const proto::Report report = RunMigration(*pair, request);
  EXPECT_EQ(report.status(), "migrated") << report.error();
  for (const proto::PreflightRequest& preflight : pair->source->preflight_requests) {
    EXPECT_TRUE(preflight.criu_file_options().link_remap());
  }
  ASSERT_EQ(pair->source->checkpoint_requests.size(), 1u);
  const proto::CriuFileOptions& sent = pair->source->checkpoint_requests[0].criu_file_options();
  EXPECT_TRUE(sent.link_remap());
  EXPECT_EQ(sent.ghost_limit_bytes(), 8u << 20);
  ASSERT_EQ(report.criu_options_size(), 1);
  EXPECT_EQ(report.criu_options(0),
            "link-remap: CRIU config file /s/criu-options.conf (CRIU_CONFIG_FILE)");
}

}  // namespace
}  // namespace migrate::controller
