#include "controller/cli.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "controller/certs_command.h"
#include "controller/drain_command.h"
#include "controller/fleet_view.h"
#include "controller/hosts_check.h"
#include "controller/interrupts.h"
#include "controller/inventory.h"
#include "controller/migration.h"
#include "controller/move_options.h"
#include "controller/report.h"
#include "controller/resolve_hosts.h"
#include "controller/rollback.h"
#include "controller/terminal_progress.h"
#include "migrate/version.h"
#include "transfer/base/log.h"

namespace migrate::controller {
namespace {

constexpr char kFooter[] = R"(Examples:
  migrate container web-1 host-a host-b
      move the running container web-1 from host-a to host-b (cgroups mode soft)
  migrate container web-1 host-a host-b --cgroups-mode ignore --cgroup-path /tenants/web-1
      restore it on host-b into a new cgroup (CRIU leaves cgroups alone)
  migrate container web-1 host-a host-b --dry-run
      run every preflight check on both hosts, change nothing
  migrate container web-1 host-a host-b --output json | jq .status
  migrate hosts check host-a host-b
  migrate drain host-a --to host-b,host-c --dry-run
      empty host-a: the plan and every move's preflight (drop --dry-run to move them)
  migrate certs --help

Hosts come from an inventory file: --hosts FILE, else $MIGRATE_HOSTS, else
/etc/migrate/hosts.json (format: docs/controller.md).
Exit status: 0 migrated (or --dry-run passed), 1 failed before the freeze (nothing changed),
2 bad input, 3 rolled back (the container runs on the source again), 4 failed after the
freeze and not rolled back: the rollback failed, or the destination may run the container
and could not confirm its rollback (see the report; the source keeps the images).)";

constexpr const char* kContainerInterruptMessages[] = {
    "\nmigrate: interrupted: finishing the current step, then rolling back "
    "(interrupt again to abandon; the agents keep their journals)\n"};

struct ContainerArgs {
  std::string container_id;
  std::string source;
  std::string destination;
  MoveOptions move;
};

struct RollbackArgs {
  std::string migration_id;
  std::string source;
  std::string destination;
  std::string hosts_file;
  int timeout_s = 120;
  bool destination_lost = false;
};

struct HostsCheckArgs {
  std::vector<std::string> hosts;
  std::string output = "text";
  std::string hosts_file;
  int timeout_s = 120;
};

// A report for a command that never reached an agent (bad input).
proto::Report InputErrorReport(const ContainerArgs& args, const Status& status) {
  proto::Report report;
  report.set_status("failed");
  report.set_container(args.container_id);
  report.set_source(args.source);
  report.set_destination(args.destination);
  report.mutable_cgroups_mode()->set_requested(args.move.cgroups_mode);
  report.mutable_timings_ms();
  report.mutable_bytes();
  report.mutable_rollback();
  report.set_error(status.ToString());
  report.set_failed_phase("input");
  return report;
}

int InputError(const ContainerArgs& args, const Status& status, CliEnvironment& env) {
  *env.err << "migrate: " << status.message() << "\n";
  if (args.move.output == "json") *env.out << ReportToJson(InputErrorReport(args, status));
  return kExitUsage;
}

int RunContainer(const ContainerArgs& args, CliEnvironment& env) {
  Result<MigrationRequest> move = MoveRequest(args.move);
  if (!move.ok()) return InputError(args, move.status(), env);
  Result<ConnectedPair> hosts =
      ConnectPair(args.source, args.destination, args.move.hosts_file,
                  ClientOptions(args.move.timeout_s, args.move.transfer_timeout_s), env);
  if (!hosts.ok()) return InputError(args, hosts.status(), env);

  MigrationRequest request = std::move(move).value();
  request.container_id = args.container_id;
  request.source = hosts->source;
  request.destination = hosts->destination;
  if (env.handle_signals) {
    InstallInterrupts(1, kContainerInterruptMessages);
    request.interrupted = &InterruptFlag(0);
  }

  std::unique_ptr<TerminalProgress> progress;
  if (env.err_is_tty && args.move.output == "text") {
    progress = std::make_unique<TerminalProgress>(
        *env.err, *env.clock, args.container_id + " " + args.source + " -> " + args.destination);
  }
  Migration migration(request, *hosts->source_client, *hosts->destination_client, *env.clock,
                      progress.get());
  const proto::Report report = migration.Run();
  if (args.move.output == "json") {
    *env.out << ReportToJson(report);
  } else {
    *env.out << ReportToText(report);
  }
  env.out->flush();
  return ExitCodeForReport(report);
}

int UsageError(const Status& status, CliEnvironment& env) {
  *env.err << "migrate: " << status.message() << "\n";
  return kExitUsage;
}

// The answer for a host that could not be connected to.
template <typename Answer>
Answer UnreachableHost(const std::string& host, const Status& status) {
  Answer answer;
  answer.set_host(host);
  answer.set_error(status.ToString());
  return answer;
}

// Asks every resolved host with `ask(client)`; a host that cannot be connected to gets
// `unreachable(host, status)`.
template <typename Answer, typename Ask, typename Unreachable>
std::vector<Answer> AskEach(ResolvedHosts& resolved, Ask ask, Unreachable unreachable) {
  std::vector<Answer> answers;
  for (const proto::InventoryHost& host : resolved.hosts) {
    Result<std::unique_ptr<AgentClient>> client = resolved.factory->Connect(host);
    answers.push_back(client.ok() ? ask(**client) : unreachable(host.name(), client.status()));
  }
  return answers;
}

int RunHostsCheck(const HostsCheckArgs& args, CliEnvironment& env) {
  Result<ResolvedHosts> resolved = ResolveHosts(args.hosts, args.hosts_file, ClientOptions(args.timeout_s, args.timeout_s), env);
  if (!resolved.ok()) return UsageError(resolved.status(), env);
  proto::HostsCheckReport report;
  report.set_status("ok");
  for (proto::HostCheckResult& result : AskEach<proto::HostCheckResult>(
           *resolved, [](AgentClient& agent) { return CheckHost(agent); },
           UnreachableHost<proto::HostCheckResult>)) {
    if (!result.ok()) report.set_status("failed");
    *report.add_hosts() = std::move(result);
  }
  *env.out << (args.output == "json" ? HostsCheckToJson(report) : HostsCheckToText(report));
  env.out->flush();
  return report.status() == "ok" ? 0 : kExitFailed;
}

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// `migrate list [<host>...]`: containers and migrations of each host.
int RunList(const HostsCheckArgs& args, CliEnvironment& env) {
  Result<ResolvedHosts> resolved = ResolveHosts(args.hosts, args.hosts_file, ClientOptions(args.timeout_s, args.timeout_s), env);
  if (!resolved.ok()) return UsageError(resolved.status(), env);
  proto::ListReport report;
  bool all_answered = true;
  for (proto::HostListing& listing : AskEach<proto::HostListing>(
           *resolved, [](AgentClient& agent) { return ListHost(agent); },
           UnreachableHost<proto::HostListing>)) {
    all_answered = all_answered && listing.error().empty();
    *report.add_hosts() = std::move(listing);
  }
  *env.out << (args.output == "json" ? MessageToJsonLine(report)
                                     : ListReportToText(report, NowUnixMs()));
  env.out->flush();
  return all_answered ? 0 : kExitFailed;
}

// `migrate status <migration-id> [<host>...]`: the migration on every host that knows it.
int RunStatus(const std::string& migration_id, const HostsCheckArgs& args, CliEnvironment& env) {
  Result<ResolvedHosts> resolved = ResolveHosts(args.hosts, args.hosts_file, ClientOptions(args.timeout_s, args.timeout_s), env);
  if (!resolved.ok()) return UsageError(resolved.status(), env);
  proto::StatusReport report;
  report.set_migration_id(migration_id);
  bool known = false;
  for (proto::HostMigration& answer : AskEach<proto::HostMigration>(
           *resolved,
           [&](AgentClient& agent) { return MigrationOnHost(agent, migration_id); },
           UnreachableHost<proto::HostMigration>)) {
    known = known || answer.has_status();
    *report.add_hosts() = std::move(answer);
  }
  *env.out << (args.output == "json" ? MessageToJsonLine(report)
                                     : StatusReportToText(report, NowUnixMs()));
  env.out->flush();
  return known ? 0 : kExitFailed;
}

// The source never journaled the migration, so it never froze the container for it: what
// the destination holds (prepared, never restored: a migration whose controller died before
// the freeze) is all there is, and may go. A destination that restored may run the only copy.
int RollbackDestinationOnly(const RollbackArgs& args, AgentClient& destination,
                            CliEnvironment& env) {
  Result<proto::MigrationStatus> held = destination.GetMigration(args.migration_id);
  if (!held.ok()) {
    *env.err << "migrate rollback: neither " << args.source << " nor " << args.destination
             << " knows migration " << args.migration_id << " (" << held.status().ToString()
             << ")\n";
    return kExitFailed;
  }
  if (held->role() != proto::ROLE_DESTINATION ||
      (!held->peer_node().empty() && held->peer_node() != args.source)) {
    *env.err << "migrate rollback: " << args.destination << " was not the destination of "
             << "migration " << args.migration_id << " from " << args.source
             << " (swap the hosts?): nothing was changed\n";
    return kExitUsage;
  }
  if (held->phase() != proto::PHASE_PREPARED && held->phase() != proto::PHASE_ROLLED_BACK) {
    *env.err << "migrate rollback: " << args.source << " has no record of migration "
             << args.migration_id << ", but " << args.destination << " has it in "
             << proto::Phase_Name(held->phase())
             << ": it may run the only copy of the container; nothing was changed\n";
    return kExitNeedsOperator;
  }
  SteadyClock clock;
  const std::string said = RollBackDestination(destination, args.migration_id, args.source,
                                               "operator: migrate rollback", false, clock);
  if (said != "ok") {
    *env.err << "migrate rollback: " << args.destination << ": " << said << "\n";
    return kExitNeedsOperator;
  }
  *env.out << "rolled back migration " << args.migration_id << " on " << args.destination
           << " (it was never frozen on " << args.source << "): nothing of it is left\n";
  return 0;
}

// The rollback itself, once both hosts are known to be the migration's.
int FinishRollback(const RollbackArgs& args, AgentClient& source, AgentClient& destination,
                   const proto::MigrationStatus& known, CliEnvironment& env) {
  SteadyClock clock;
  const std::string reason = "operator: migrate rollback";
  // Before CHECKPOINTED the images never reached the destination: it cannot run the container.
  const bool restore_possible = known.phase() != proto::PHASE_CHECKPOINTING;
  if (known.phase() == proto::PHASE_COMMITTING || DestinationCommitted(destination, args.migration_id)) {
    proto::CommitRequest commit;
    commit.set_migration_id(args.migration_id);
    Result<proto::MigrationStatus> done = RetryIdempotent(clock, [&] { return source.Commit(commit); });
    if (!done.ok()) {
      *env.err << "migrate rollback: " << args.destination << " had committed migration "
               << args.migration_id << "; cleaning up " << args.source << " failed: "
               << done.status().ToString() << "\n";
      return kExitNeedsOperator;
    }
    *env.out << "migration " << args.migration_id << " had committed: container "
             << known.container_id() << " runs on " << args.destination << "; " << args.source
             << " is cleaned up (nothing was rolled back)\n";
    return 0;
  }
  const std::string destination_said =
      args.destination_lost
          ? "ok"
          : RollBackDestination(destination, args.migration_id, args.source, reason,
                                restore_possible, clock);
  if (destination_said != "ok") {
    *env.err << "migrate rollback: " << args.destination << " did not confirm its rollback ("
             << destination_said << "): " << args.source
             << " is left alone, the container may run on " << args.destination
             << " (if that host is gone for good and does not run it, --destination-lost "
                "restores the source without its word)\n";
    return kExitNeedsOperator;
  }
  const std::string source_said = RollBackSource(source, args.migration_id, args.destination,
                                                 reason, known.container_id(), clock);
  if (source_said != "ok") {
    *env.err << "migrate rollback: " << args.source << ": " << source_said << "\n";
    return kExitNeedsOperator;
  }
  *env.out << "rolled back migration " << args.migration_id << ": container "
           << known.container_id() << " runs on " << args.source << " again; nothing of it is "
           << "left on " << args.destination << "\n";
  return 0;
}

// Ends a migration that `migrate container` left to the operator (exit 4). The source's
// journal names the container and the destination; the destination first: if it had
// committed, the source is committed too; otherwise the source runs the container again only
// once the destination confirmed its rollback (or was never asked to restore).
int RunRollback(const RollbackArgs& args, CliEnvironment& env) {
  auto fail = [&](const Status& status) {
    *env.err << "migrate rollback: " << status.message() << "\n";
    return kExitUsage;
  };
  Result<ConnectedPair> hosts = ConnectPair(args.source, args.destination, args.hosts_file,
                                            ClientOptions(args.timeout_s, args.timeout_s), env);
  if (!hosts.ok()) return fail(hosts.status());
  AgentClient& source_client = *hosts->source_client;
  AgentClient& destination_client = *hosts->destination_client;

  Result<proto::MigrationStatus> known = source_client.GetMigration(args.migration_id);
  if (!known.ok() && known.status().code() == StatusCode::kNotFound) {
    return RollbackDestinationOnly(args, destination_client, env);
  }
  if (!known.ok()) {
    *env.err << "migrate rollback: " << args.source << " cannot tell about migration "
             << args.migration_id << ": " << known.status().ToString() << "\n";
    return kExitFailed;
  }
  if (known->role() != proto::ROLE_SOURCE) {
    *env.err << "migrate rollback: " << args.source << " was not the source of migration "
             << args.migration_id << " (swap the hosts?)\n";
    return kExitUsage;
  }
  if (!known->peer_node().empty() && known->peer_node() != args.destination) {
    *env.err << "migrate rollback: " << args.source << " journaled migration "
             << args.migration_id << " with destination " << known->peer_node() << ", not "
             << args.destination << ": nothing was changed\n";
    return kExitUsage;
  }
  return FinishRollback(args, source_client, destination_client, *known, env);
}
}  // namespace

CliEnvironment ProcessCliEnvironment() {
  static SteadyClock clock;
  CliEnvironment env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.hosts_env = std::getenv(kInventoryEnvVar);
  env.err_is_tty = ::isatty(STDERR_FILENO) == 1;
  env.clock = &clock;
  env.handle_signals = true;
  env.make_factory =
      [](const proto::Inventory& inventory,
         const HttpsClientOptions& options) -> Result<std::unique_ptr<AgentClientFactory>> {
    MIGRATE_ASSIGN_OR_RETURN(std::unique_ptr<HttpsAgentClientFactory> factory,
                             HttpsAgentClientFactory::Create(inventory.controller(), options));
    return std::unique_ptr<AgentClientFactory>(std::move(factory));
  };
  return env;
}

int RunCli(int argc, const char* const* argv, CliEnvironment& env) {
  CLI::App app{"migrate: live-migrate running OCI containers (runc + CRIU) between hosts",
               "migrate"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("migrate ") + kVersion);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "debug|info|warn|error (logs go to stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();

  ContainerArgs container;
  CLI::App* container_cmd =
      app.add_subcommand("container",
                         "Move a running container from one host to another, with preflight, "
                         "progress, a report, and rollback to the source on any failure");
  container_cmd->footer(kFooter);
  container_cmd->add_option("id", container.container_id, "the container's id (as runc knows it)")
      ->required();
  container_cmd->add_option("src-host", container.source, "host it runs on (inventory name)")
      ->required();
  container_cmd->add_option("dst-host", container.destination, "host to move it to")->required();
  AddMoveOptions(container_cmd, container.move, /*with_cgroup_path=*/true);

  HostsCheckArgs hosts_check;
  CLI::App* hosts_cmd = app.add_subcommand("hosts", "Inspect the hosts of the inventory");
  hosts_cmd->require_subcommand(1);
  CLI::App* check_cmd = hosts_cmd->add_subcommand(
      "check",
      "Check hosts on their own: agent reachable and authenticated, runtime, CRIU "
      "(criu check), cgroup layout and the cgroup modes each can honour");
  check_cmd->add_option("host", hosts_check.hosts, "inventory names")->required();

  RollbackArgs rollback;
  CLI::App* rollback_cmd = app.add_subcommand(
      "rollback",
      "Finish a migration that `migrate container` could not end (exit 4): roll it back on the "
      "destination and, once the destination confirms, run the container on the source again "
      "(from the images it kept); if the destination had committed, clean up the source "
      "instead");
  rollback_cmd->add_option("migration-id", rollback.migration_id, "from the report")->required();
  rollback_cmd->add_option("src-host", rollback.source, "the migration's source (inventory name)")
      ->required();
  rollback_cmd->add_option("dst-host", rollback.destination, "the migration's destination")
      ->required();
  rollback_cmd->add_option("--hosts", rollback.hosts_file,
                           "inventory file (default: $MIGRATE_HOSTS, else "
                           "/etc/migrate/hosts.json)");
  rollback_cmd->add_option("--timeout", rollback.timeout_s, "seconds per agent call")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  rollback_cmd->add_flag(
      "--destination-lost", rollback.destination_lost,
      "the destination is gone for good and does not run the container (check it first): "
      "run the container on the source without the destination's confirmation. If the "
      "destination does run it, two copies run.");
  rollback_cmd->footer(
      "Example:\n  migrate rollback 5f057e28e97d6646 host-a host-b\n"
      "The hosts must be the migration's: the source's journal names its destination, and a\n"
      "rollback naming another is refused with nothing changed.\n"
      "Exit status: 0 the container runs on exactly one host (the source again, or the\n"
      "destination if it had committed) and nothing of the migration is left, 1 the source\n"
      "does not know the migration, 2 bad input or hosts that are not the migration's,\n"
      "4 the destination did not confirm (the source is left alone) or the source could not\n"
      "restore the container.");

  HostsCheckArgs list;
  CLI::App* list_cmd = app.add_subcommand(
      "list", "What runs where: the containers of each host (state, memory, root file system "
              "size, cgroup) and the migrations each agent knows (role, phase, when it changed)");
  list_cmd->add_option("host", list.hosts, "inventory names (default: every host)");
  std::string status_id;
  HostsCheckArgs status;
  CLI::App* status_cmd = app.add_subcommand(
      "status", "A migration as every host that knows it sees it (role, phase, message)");
  status_cmd->add_option("migration-id", status_id, "from the report or `migrate list`")
      ->required();
  status_cmd->add_option("host", status.hosts, "inventory names (default: every host)");
  for (auto [cmd, args] : {std::pair{check_cmd, &hosts_check}, std::pair{list_cmd, &list},
                           std::pair{status_cmd, &status}}) {
    cmd->add_option("--output", args->output, "text|json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->add_option("--hosts", args->hosts_file,
                    "inventory file (default: $MIGRATE_HOSTS, else /etc/migrate/hosts.json)");
    cmd->add_option("--timeout", args->timeout_s, "seconds per agent call")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
  }
  list_cmd->footer("Examples:\n  migrate list\n  migrate list host-a --output json | jq .\n"
                   "Exit status: 0 every host answered, 1 one could not be asked, 2 bad input.");
  status_cmd->footer("Example:\n  migrate status 5f057e28e97d6646\n"
                     "Exit status: 0 a host knows it, 1 none does, 2 bad input.");

  DrainArgs drain;
  CLI::App* drain_cmd = AddDrainCommand(app, drain);

  int certs_exit_code = 0;
  RegisterCertsCommand(app, &certs_exit_code);

  // CLI11 would only say "A subcommand is required" for a mistyped command: name it.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg.empty() || arg.front() == '-') continue;
    std::string names;
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == arg) {
        names.clear();
        break;
      }
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!names.empty()) {
      *env.err << "migrate: unknown command \"" << arg << "\" (commands: " << names
               << ")\nRun with --help for more information.\n";
      return kExitUsage;
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, *env.out, *env.err);
    return code == 0 ? 0 : kExitUsage;
  }
  LogLevel level = LogLevel::kWarn;
  if (ParseLogLevel(log_level, &level)) SetLogThreshold(level);

  if (container_cmd->parsed()) return RunContainer(container, env);
  if (check_cmd->parsed()) return RunHostsCheck(hosts_check, env);
  if (rollback_cmd->parsed()) return RunRollback(rollback, env);
  if (list_cmd->parsed()) return RunList(list, env);
  if (status_cmd->parsed()) return RunStatus(status_id, status, env);
  if (drain_cmd->parsed()) return RunDrainCommand(drain, env);
  return certs_exit_code;
}

}  // namespace migrate::controller
