// The command line: argument validation (exit 2, nothing contacted), inventory lookup, and
// whole commands against fake agents.
#include "controller/cli.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/report.h"
#include "tests/controller/fake_agent_client.h"
#include "transfer/certs/crl.h"

namespace migrate::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Hands out the test's fakes by node name (they stay owned by the test).
class ForwardingClient : public AgentClient {
 public:
  explicit ForwardingClient(AgentClient& target) : target_(target) {}
  const std::string& node_name() const override { return target_.node_name(); }
  Result<proto::Health> GetHealth() override { return target_.GetHealth(); }
  Result<proto::Capabilities> GetCapabilities() override { return target_.GetCapabilities(); }
  Result<proto::ContainerInfo> Inspect(const proto::InspectRequest& r) override {
    return target_.Inspect(r);
  }
  Result<proto::PreflightResponse> Preflight(const proto::PreflightRequest& r) override {
    return target_.Preflight(r);
  }
  Result<proto::PrepareReceiveResponse> PrepareReceive(
      const proto::PrepareReceiveRequest& r) override {
    return target_.PrepareReceive(r);
  }
  Result<proto::CheckpointSendResponse> CheckpointSend(
      const proto::CheckpointSendRequest& r) override {
    return target_.CheckpointSend(r);
  }
  Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& r) override {
    return target_.Restore(r);
  }
  Result<proto::MigrationStatus> Commit(const proto::CommitRequest& r) override {
    return target_.Commit(r);
  }
  Result<proto::MigrationStatus> Rollback(const proto::RollbackRequest& r) override {
    return target_.Rollback(r);
  }
  Result<proto::MigrationStatus> GetMigration(const std::string& id) override {
    return target_.GetMigration(id);
  }
  Result<proto::MigrationList> ListMigrations() override { return target_.ListMigrations(); }
  Result<proto::ContainerList> ListContainers() override { return target_.ListContainers(); }

 private:
  AgentClient& target_;
};

class FakeFactory : public AgentClientFactory {
 public:
  explicit FakeFactory(testing::FakePair* pair) : pair_(pair) {}
  Result<std::unique_ptr<AgentClient>> Connect(const proto::InventoryHost& host) override {
    if (host.name() == "host-a")
      return std::unique_ptr<AgentClient>(new ForwardingClient(*pair_->source));
    if (host.name() == "host-b") {
      return std::unique_ptr<AgentClient>(new ForwardingClient(*pair_->destination));
    }
    return Status::NotFound("no fake for " + host.name());
  }

 private:
  testing::FakePair* pair_;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "migrate-cli-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    hosts_ = dir_ + "/hosts.json";
    std::ofstream(hosts_) << R"({"hosts": [
        {"name": "host-a", "address": "127.0.0.1", "port": 7001},
        {"name": "host-b", "address": "127.0.0.1", "port": 7002},
        {"name": "host-c", "address": "127.0.0.1", "port": 7003}],
      "controller": {"ca": "ca.pem", "cert": "c.pem", "key": "k.pem"}})";
    pair_ = testing::MakeHealthyPair();
    env_.out = &out_;
    env_.err = &err_;
    env_.clock = &clock_;
    env_.hosts_env = hosts_.c_str();
    env_.make_factory =
        [this](const proto::Inventory& inventory,
               const HttpsClientOptions& o) -> Result<std::unique_ptr<AgentClientFactory>> {
      ++factories_made_;
      last_inventory_ = inventory;
      last_options_ = o;
      return std::unique_ptr<AgentClientFactory>(new FakeFactory(pair_.get()));
    };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "migrate");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return RunCli(static_cast<int>(argv.size()), argv.data(), env_);
  }

  // Nothing reached an agent.
  void ExpectNoAgentCalls() { EXPECT_TRUE(pair_->log.Calls().empty()); }

  std::string dir_;
  std::string hosts_;
  std::unique_ptr<testing::FakePair> pair_;
  std::ostringstream out_;
  std::ostringstream err_;
  testing::FakeClock clock_;
  CliEnvironment env_;
  int factories_made_ = 0;
  proto::Inventory last_inventory_;
  HttpsClientOptions last_options_;
};

TEST_F(CliTest, MigratesAndPrintsAJsonReport) {
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--output", "json"}), 0) << err_.str();
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.fields().at(std::string("status")).string_value(), "migrated");
  EXPECT_EQ(err_.str(), "") << "no progress line when stderr is not a tty";
  EXPECT_EQ(last_inventory_.controller().ca(), dir_ + "/ca.pem");
}

TEST_F(CliTest, TextReportAndOptionsReachTheAgents) {
  pair_ = testing::MakeHealthyPair(proto::CGROUP_MODE_IGNORE);
  EXPECT_EQ(
      Run({"container", "web", "host-a", "host-b", "--cgroups-mode", "ignore", "--cgroup-path",
           "/tenants/web", "--compress-level", "5", "--keep-images", "--tcp-established", "--hosts",
           hosts_, "--timeout", "7", "--transfer-timeout", "99"}),
      0)
      << out_.str() << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("migrated web host-a -> host-b"));
  const proto::CheckpointSendRequest& cp = pair_->source->checkpoint_requests.at(0);
  EXPECT_EQ(cp.cgroup_mode(), proto::CGROUP_MODE_IGNORE);
  EXPECT_EQ(cp.compress_level(), 5);
  EXPECT_TRUE(cp.tcp_established());
  EXPECT_EQ(pair_->destination->restore_requests.at(0).cgroup_path(), "/tenants/web");
  EXPECT_TRUE(pair_->source->commit_requests.at(0).keep_images());
  EXPECT_EQ(last_options_.request_timeout, std::chrono::seconds(7));
  EXPECT_EQ(last_options_.transfer_timeout, std::chrono::seconds(99));
}

TEST_F(CliTest, CriuOptionsAreParsedOneEachAndLeaveThePositionalsAlone) {
  EXPECT_EQ(Run({"container", "--criu-option", "link-remap", "web", "host-a", "host-b",
                 "--criu-option", "ghost-limit=8M,skip-in-flight", "--criu-option",
                 "no-ghost-fiemap"}),
            0)
      << out_.str() << err_.str();
  const proto::CriuFileOptions& o =
      pair_->source->checkpoint_requests.at(0).criu_file_options();
  EXPECT_TRUE(o.link_remap());
  EXPECT_EQ(o.ghost_limit_bytes(), 8u << 20);
  EXPECT_TRUE(o.skip_in_flight());
  EXPECT_TRUE(o.no_ghost_fiemap());
}

TEST_F(CliTest, ProgressLineOnlyOnATerminal) {
  env_.err_is_tty = true;
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b"}), 0);
  EXPECT_THAT(err_.str(), HasSubstr("checkpoint+transfer"));
  EXPECT_THAT(err_.str(), HasSubstr("\r\033[K"));
  err_.str("");
  pair_ = testing::MakeHealthyPair();
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--output", "json"}), 0);
  EXPECT_EQ(err_.str(), "") << "--output json draws no progress";
}

TEST_F(CliTest, RolledBackExitsThree) {
  pair_->destination->errors["Restore"] = Status::FailedPrecondition("restore failed");
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b"}), kExitRolledBack);
  EXPECT_THAT(out_.str(), HasSubstr("ROLLED BACK"));
}

TEST_F(CliTest, PreflightRefusalExitsOneAndSaysWhatToDo) {
  pair_->destination->preflight.mutable_checks(3)->set_ok(false);  // free-space
  pair_->destination->preflight.mutable_checks(3)->set_remedy("free some space on host-b");
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b"}), kExitFailed);
  EXPECT_THAT(out_.str(), HasSubstr("what to do: free some space on host-b"));
  EXPECT_TRUE(pair_->source->checkpoint_requests.empty());
}

TEST_F(CliTest, DryRun) {
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--dry-run"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("preflight passed"));
  EXPECT_TRUE(pair_->destination->restore_requests.empty());
}

struct BadArgs {
  const char* name;
  std::vector<std::string> args;
  const char* message;
};

class CliBadInputTest : public CliTest, public ::testing::WithParamInterface<BadArgs> {};

TEST_P(CliBadInputTest, ExitsTwoAndTouchesNothing) {
  std::vector<std::string> args = GetParam().args;
  for (std::string& a : args) {
    if (a == "$DIR") a = dir_;
  }
  EXPECT_EQ(Run(args), kExitUsage);
  EXPECT_THAT(err_.str() + out_.str(), HasSubstr(GetParam().message));
  ExpectNoAgentCalls();
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, CliBadInputTest,
    ::testing::Values(
        BadArgs{"NoCommand", {}, "subcommand"}, BadArgs{"UnknownCommand", {"teleport"}, "teleport"},
        BadArgs{"MissingDestination", {"container", "web", "host-a"}, "dst-host"},
        BadArgs{"BadMode",
                {"container", "web", "host-a", "host-b", "--cgroups-mode", "loose"},
                "loose"},
        BadArgs{"CompressLevelTooHigh",
                {"container", "web", "host-a", "host-b", "--compress-level", "40"},
                "40"},
        BadArgs{"CompressLevelNotANumber",
                {"container", "web", "host-a", "host-b", "--compress-level", "fast"},
                "fast"},
        BadArgs{"BadOutput", {"container", "web", "host-a", "host-b", "--output", "yaml"}, "yaml"},
        BadArgs{
            "ZeroTimeout", {"container", "web", "host-a", "host-b", "--timeout", "0"}, "--timeout"},
        BadArgs{"UnknownOption", {"container", "web", "host-a", "host-b", "--fast"}, "--fast"},
        BadArgs{"CgroupPathInFullMode",
                {"container", "web", "host-a", "host-b", "--cgroups-mode", "full",
                 "--cgroup-path", "/x"},
                "--cgroup-path needs --cgroups-mode ignore or soft"},
        BadArgs{"RelativeCgroupPath",
                {"container", "web", "host-a", "host-b", "--cgroups-mode", "ignore",
                 "--cgroup-path", "x/y"},
                "must be absolute"},
        BadArgs{"UnknownSource",
                {"container", "web", "host-x", "host-b"},
                "unknown host \"host-x\" (the inventory knows: host-a, host-b, host-c)"},
        BadArgs{"UnknownDestination",
                {"container", "web", "host-a", "nowhere"},
                "destination: unknown host \"nowhere\""},
        BadArgs{"MissingInventory",
                {"container", "web", "host-a", "host-b", "--hosts", "$DIR/none.json"},
                "does not exist"},
        BadArgs{"HostsCheckUnknownHost",
                {"hosts", "check", "host-a", "host-q"},
                "unknown host \"host-q\""},
        BadArgs{"CriuOptionNotAllowed",
                {"container", "web", "host-a", "host-b", "--criu-option", "action-script=/x"},
                "--criu-option action-script=/x: not one migrate passes"},
        BadArgs{"CriuOptionWithAValueItTakesNone",
                {"container", "web", "host-a", "host-b", "--criu-option", "link-remap=1"},
                "not one migrate passes"},
        BadArgs{"GhostLimitNotASize",
                {"container", "web", "host-a", "host-b", "--criu-option", "ghost-limit=8M/s"},
                "give a size"},
        BadArgs{"GhostLimitZero",
                {"container", "web", "host-a", "host-b", "--criu-option", "ghost-limit=0"},
                "give a size"},
        BadArgs{"HostsWithoutCheck", {"hosts"}, "subcommand"}),
    [](const ::testing::TestParamInfo<BadArgs>& p) { return p.param.name; });

TEST_F(CliTest, BadInputWithJsonOutputStillPrintsOneObject) {
  EXPECT_EQ(Run({"container", "web", "host-a", "host-z", "--output", "json"}), kExitUsage);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.fields().at(std::string("status")).string_value(), "failed");
  EXPECT_THAT(parsed.fields().at(std::string("error")).string_value(), HasSubstr("host-z"));
  EXPECT_EQ(factories_made_, 0);
}

TEST_F(CliTest, HelpTeachesWithExamples) {
  EXPECT_EQ(Run({"container", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--cgroups-mode"));
  EXPECT_THAT(out_.str(), HasSubstr("Examples:"));
  EXPECT_THAT(out_.str(), HasSubstr("migrate container web-1 host-a host-b --dry-run"));
}

// `migrate rollback`: destination first; the source only once the destination confirmed.
TEST_F(CliTest, RollbackRestoresTheSourceAfterTheDestinationConfirms) {
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_container_id("web");
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("container web runs on host-a again"));
  EXPECT_EQ(pair_->source->migration_polls(), 1);  // the container's id, from the journal
  EXPECT_THAT(pair_->log.Calls(),
              ::testing::ElementsAre("host-b:Rollback", "host-a:Rollback", "host-a:Inspect"));
}

TEST_F(CliTest, RollbackLeavesTheSourceAloneWhileTheDestinationCannotConfirm) {
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_container_id("web");
  pair_->destination->errors["Rollback"] = Status::Unavailable("connection refused");
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitNeedsOperator);
  EXPECT_THAT(err_.str(), HasSubstr("may run on host-b"));
  EXPECT_TRUE(pair_->source->rollback_requests.empty());
}

TEST_F(CliTest, RollbackRefusesHostsInTheWrongOrder) {
  pair_->source->migration.set_role(proto::ROLE_DESTINATION);
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("was not the source"));
  EXPECT_TRUE(pair_->destination->rollback_requests.empty());
}

TEST_F(CliTest, HostsCheckPrintsATable) {
  EXPECT_EQ(Run({"hosts", "check", "host-a", "host-b"}), 0) << out_.str() << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("HOST"));
  EXPECT_THAT(out_.str(), HasSubstr("runc 1.1.5"));
  EXPECT_THAT(out_.str(), HasSubstr("ignore,soft,full"));
  EXPECT_THAT(out_.str(), HasSubstr("strict refused: runc creates"));
  EXPECT_THAT(pair_->log.Calls(),
              ::testing::ElementsAre("host-a:GetHealth", "host-a:GetCapabilities",
                                     "host-b:GetHealth", "host-b:GetCapabilities"));
}

TEST_F(CliTest, HostsCheckFailsWhenCriuCheckFails) {
  pair_->destination->capabilities.set_criu_check_ok(false);
  pair_->destination->capabilities.set_criu_check_output("vdso: Unexpected rt vDSO area bounds");
  EXPECT_EQ(Run({"hosts", "check", "host-a", "host-b", "--output", "json"}), kExitFailed);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.fields().at(std::string("status")).string_value(), "failed");
  EXPECT_THAT(out_.str(), HasSubstr("vDSO"));
}

TEST_F(CliTest, HostsCheckUnreachableHost) {
  pair_->source->errors["GetHealth"] = Status::Unavailable("connection refused");
  EXPECT_EQ(Run({"hosts", "check", "host-a"}), kExitFailed);
  EXPECT_THAT(out_.str(), HasSubstr("agent not reachable"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("host-b")));
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST_F(CliTest, CertsCommandIsRegistered) {
  EXPECT_EQ(Run({"certs", "ca", "--out", dir_ + "/ca"}), 0) << err_.str();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/ca/ca.pem"));
  EXPECT_NE(Run({"certs", "ca", "--out", dir_ + "/ca"}), 0) << "never overwrites a CA";
  ExpectNoAgentCalls();
}

TEST_F(CliTest, CertsRevokeWritesTheListBesideTheCa) {
  ASSERT_EQ(Run({"certs", "ca", "--out", dir_ + "/ca"}), 0) << err_.str();
  ASSERT_EQ(Run({"certs", "issue", "--ca-dir", dir_ + "/ca", "--role", "node", "--name", "old",
                 "--out", dir_ + "/old"}),
            0)
      << err_.str();
  EXPECT_EQ(Run({"certs", "revoke", "--ca-dir", dir_ + "/ca", "--cert", dir_ + "/old/cert.pem"}),
            0)
      << err_.str();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/ca/crl.pem"));
  EXPECT_EQ(certs::RevokedSerials(dir_ + "/ca")->size(), 1u);
  EXPECT_EQ(Run({"certs", "revoke", "--ca-dir", dir_ + "/ca", "--serial", "0A:0B"}), 0);
  EXPECT_THAT(*certs::RevokedSerials(dir_ + "/ca"), ::testing::Contains("0A0B"));
  EXPECT_EQ(certs::RevokedSerials(dir_ + "/ca")->size(), 2u);
  EXPECT_EQ(Run({"certs", "revoke", "--ca-dir", dir_ + "/ca"}), 2) << "--cert or --serial";
  EXPECT_EQ(Run({"certs", "revoke", "--ca-dir", dir_ + "/ca", "--serial", "zz"}), 2);
  ExpectNoAgentCalls();
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST_F(CliTest, SigintDuringTheFreezeEndsInARollback) {
  env_.handle_signals = true;
  pair_->source->during_checkpoint = [] { ::raise(SIGINT); };
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--output", "json"}), kExitRolledBack);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.fields().at(std::string("status")).string_value(), "rolled_back");
  EXPECT_THAT(parsed.fields().at(std::string("error")).string_value(), HasSubstr("interrupted"));
  EXPECT_TRUE(pair_->destination->restore_requests.empty());
  EXPECT_EQ(pair_->source->rollback_requests.size(), 1u);
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST_F(CliTest, RollbackRefusesADestinationTheSourceDidNotJournal) {
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_container_id("web");
  pair_->source->migration.set_peer_node("host-c");
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("with destination host-c, not host-b"));
  EXPECT_TRUE(pair_->destination->rollback_requests.empty());
  EXPECT_TRUE(pair_->source->rollback_requests.empty());
}

TEST_F(CliTest, RollbackOfACommittedMigrationCleansUpTheSource) {
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_container_id("web");
  pair_->source->migration.set_phase(proto::PHASE_CHECKPOINTED);
  pair_->destination->migration.set_phase(proto::PHASE_COMMITTED);
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("had committed"));
  EXPECT_TRUE(pair_->destination->rollback_requests.empty());
  EXPECT_TRUE(pair_->source->rollback_requests.empty());
  EXPECT_EQ(pair_->source->commit_requests.size(), 1u);
}

// A destination that lost its state (or the wrong host) knows nothing of a migration it may
// run: the source stays as it is, unless the operator says the destination is gone.
TEST_F(CliTest, RollbackWaitsForADestinationThatKnowsNothingUnlessToldItIsLost) {
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_container_id("web");
  pair_->source->migration.set_phase(proto::PHASE_CHECKPOINTED);
  pair_->destination->errors["Rollback"] = Status::NotFound("migration unknown to host-b");
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitNeedsOperator);
  EXPECT_THAT(err_.str(), HasSubstr("--destination-lost"));
  EXPECT_TRUE(pair_->source->rollback_requests.empty());
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b", "--destination-lost"}), 0)
      << err_.str();
  EXPECT_EQ(pair_->source->rollback_requests.size(), 1u);
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST_F(CliTest, HostsCheckReportsQuarantinedMigrations) {
  proto::QuarantinedMigration* q = pair_->destination->capabilities.add_quarantined();
  q->set_migration_id("0badc0de");
  q->set_path("/var/lib/migrate/migrations/0badc0de/journal.pb");
  q->set_error("not a valid record");
  EXPECT_EQ(Run({"hosts", "check", "host-a", "host-b"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("host-b: migration 0badc0de is quarantined"));
  EXPECT_THAT(out_.str(), HasSubstr("/var/lib/migrate/migrations/0badc0de/journal.pb"));
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

// A migration whose controller died after prepare-receive: only the destination knows it.
TEST_F(CliTest, RollbackOfAMigrationOnlyTheDestinationPreparedCleansTheDestination) {
  pair_->source->errors["GetMigration"] = Status::NotFound("unknown");
  pair_->destination->migration.set_role(proto::ROLE_DESTINATION);
  pair_->destination->migration.set_peer_node("host-a");
  pair_->destination->migration.set_phase(proto::PHASE_PREPARED);
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), 0) << err_.str();
  EXPECT_EQ(pair_->destination->rollback_requests.size(), 1u);
  EXPECT_EQ(pair_->destination->rollback_requests[0].peer_node(), "host-a");
  EXPECT_TRUE(pair_->source->rollback_requests.empty());
}

TEST_F(CliTest, RollbackRefusesWhenOnlyTheDestinationKnowsAndItRestored) {
  pair_->source->errors["GetMigration"] = Status::NotFound("unknown");
  pair_->destination->migration.set_role(proto::ROLE_DESTINATION);
  pair_->destination->migration.set_phase(proto::PHASE_RESTORED);
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitNeedsOperator);
  EXPECT_THAT(err_.str(), HasSubstr("may run the only copy"));
  EXPECT_TRUE(pair_->destination->rollback_requests.empty());
}

TEST_F(CliTest, RollbackOnlyOnTheDestinationRefusesSwappedHosts) {
  pair_->source->errors["GetMigration"] = Status::NotFound("unknown");
  pair_->destination->migration.set_role(proto::ROLE_SOURCE);
  pair_->destination->migration.set_phase(proto::PHASE_CHECKPOINTED);
  EXPECT_EQ(Run({"rollback", "00112233445566ff", "host-a", "host-b"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("swap the hosts"));
  EXPECT_TRUE(pair_->destination->rollback_requests.empty());
}

}  // namespace
}  // namespace migrate::controller

namespace migrate::controller {
namespace {

TEST_F(CliTest, ListShowsEachHostsContainersAndMigrations) {
  proto::ContainerInfo* web = pair_->source->containers.add_containers();
  web->set_container_id("web");
  web->set_status("running");
  web->set_memory_bytes(64ull << 20);
  web->set_rootfs_bytes(2ull << 20);
  web->set_cgroups_path("/tenants/web");
  proto::MigrationStatus* m = pair_->destination->migrations.add_migrations();
  m->set_migration_id("00112233445566ff");
  m->set_container_id("web");
  m->set_role(proto::ROLE_DESTINATION);
  m->set_phase(proto::PHASE_COMMITTED);
  m->set_peer_node("host-a");
  EXPECT_EQ(Run({"list", "host-a", "host-b"}), 0) << err_.str() << out_.str();
  EXPECT_THAT(out_.str(), HasSubstr("host-a  web"));
  EXPECT_THAT(out_.str(), HasSubstr("64.0 MiB"));
  EXPECT_THAT(out_.str(), HasSubstr("/tenants/web"));
  EXPECT_THAT(out_.str(), HasSubstr("00112233445566ff"));
  EXPECT_THAT(out_.str(), HasSubstr("COMMITTED"));
  out_.str("");
  EXPECT_EQ(Run({"list", "host-b", "--output", "json"}), 0);
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok()) << out_.str();
  EXPECT_EQ(parsed.fields().at("hosts").list_value().values_size(), 1);
}

TEST_F(CliTest, ListSaysWhichHostCouldNotBeAsked) {
  pair_->destination->errors["ListContainers"] = Status::Unavailable("connection refused");
  EXPECT_EQ(Run({"list", "host-a", "host-b"}), kExitFailed);
  EXPECT_THAT(out_.str(), HasSubstr("host-b: Unavailable: connection refused"));
}

TEST_F(CliTest, StatusShowsTheMigrationOnTheHostsThatKnowIt) {
  pair_->source->migration.set_migration_id("00112233445566ff");
  pair_->source->migration.set_role(proto::ROLE_SOURCE);
  pair_->source->migration.set_phase(proto::PHASE_CHECKPOINTED);
  pair_->source->migration.set_message("images kept");
  pair_->destination->errors["GetMigration"] = Status::NotFound("unknown");
  EXPECT_EQ(Run({"status", "00112233445566ff", "host-a", "host-b"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("CHECKPOINTED"));
  EXPECT_THAT(out_.str(), HasSubstr("images kept"));
  EXPECT_THAT(out_.str(), HasSubstr("host-b: NotFound: unknown"));
  pair_->source->errors["GetMigration"] = Status::NotFound("unknown");
  out_.str("");
  EXPECT_EQ(Run({"status", "00112233445566ff", "host-a", "host-b"}), kExitFailed);
  EXPECT_THAT(out_.str(), HasSubstr("no host knows migration 00112233445566ff"));
}


// A drain through the same fakes as `migrate container`: host-a runs "web" (and a paused
// one), host-b has room; each move is a whole migration.
TEST_F(CliTest, DrainMovesEveryRunningContainerAndPrintsOneTable) {
  *pair_->source->containers.add_containers() = pair_->source->inspect;
  proto::ContainerInfo paused = pair_->source->inspect;
  paused.set_container_id("batch");
  paused.set_status("paused");
  *pair_->source->containers.add_containers() = paused;
  pair_->destination->capabilities.set_memory_available_bytes(8ULL << 30);
  pair_->destination->capabilities.set_state_free_bytes(100ULL << 30);
  EXPECT_EQ(Run({"drain", "host-a", "--to", "host-b"}), 1) << "one was skipped: " << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("drain of host-a"));
  EXPECT_THAT(out_.str(), HasSubstr("1 migrated, 1 skipped")) << out_.str();
  EXPECT_THAT(out_.str(), HasSubstr("it is paused"));
  EXPECT_EQ(pair_->source->checkpoint_requests.size(), 1u);
  EXPECT_EQ(pair_->source->checkpoint_requests[0].container_id(), "web");

  out_.str("");
  EXPECT_EQ(Run({"drain", "host-a", "--to", "host-b", "--only", "web", "--dry-run",
                 "--output", "json"}),
            0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\"status\":\"preflight_ok\""));
  EXPECT_EQ(pair_->source->checkpoint_requests.size(), 1u) << "a dry run freezes nothing";
}

TEST_F(CliTest, DrainRefusesBadHostsBeforeAskingAnyAgent) {
  EXPECT_EQ(Run({"drain", "host-a", "--to", "host-b,host-a"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--to names the drained host host-a itself"));
  EXPECT_EQ(Run({"drain", "host-a", "--to", "host-z"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("host-z"));
  EXPECT_EQ(Run({"drain", "host-a", "--to", "host-b", "--parallel", "0"}), 2);
  ExpectNoAgentCalls();
}


TEST_F(CliTest, BandwidthReachesTheSourceAndNonsenseIsRefused) {
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--bandwidth", "200MiB/s"}), 0)
      << err_.str();
  ASSERT_EQ(pair_->source->checkpoint_requests.size(), 1u);
  EXPECT_EQ(pair_->source->checkpoint_requests[0].bandwidth_bytes_per_second(), 200ULL << 20);
  EXPECT_EQ(Run({"container", "web", "host-a", "host-b", "--bandwidth", "fast"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--bandwidth: bad rate 'fast'"));
  EXPECT_EQ(pair_->source->checkpoint_requests.size(), 1u);
}

}  // namespace
}  // namespace migrate::controller
