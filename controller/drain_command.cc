#include "controller/drain_command.h"

#include <mutex>

#include "controller/drain.h"
#include "controller/interrupts.h"
#include "controller/resolve_hosts.h"
#include "controller/report.h"

namespace migrate::controller {
namespace {

constexpr char kDrainFooter[] = R"(Examples:
  migrate drain host-a --to host-b,host-c --dry-run
      the plan: which container goes where, each move's preflight; nothing is frozen
  migrate drain host-a --to host-b --parallel 2 --cgroups-mode ignore
  migrate drain host-a --to host-b --only web-1,web-2 --output json | jq '.moves[].status'

Every move is a whole `migrate container` (preflight, rollback to the source on failure) with
the options given here. Containers are moved biggest first, each to the destination with the
most memory left that fits it (its MemAvailable and free disk, less what this drain already
sends there). No new move starts after a failed one (unless --keep-going) or after Ctrl-C;
the running ones migrate or roll back. A second Ctrl-C rolls the running ones back.
Exit status: 0 every container moved, 1 one failed before its freeze, was skipped or was not
started, 2 bad input, 3 one was rolled back, 4 one needs the operator (see its report).)";

constexpr const char* kDrainInterruptMessages[] = {
    "\nmigrate drain: interrupted: no new move starts; the running ones finish or roll back "
    "(interrupt again to roll them back)\n",
    "\nmigrate drain: interrupted again: rolling back the running moves (once more abandons "
    "them; the agents keep their journals)\n"};

struct DrainHosts {
  proto::InventoryHost source;
  std::vector<proto::InventoryHost> destinations;
  std::unique_ptr<AgentClientFactory> factory;
};

Result<DrainHosts> ResolveDrainHosts(const DrainArgs& args, CliEnvironment& env) {
  std::vector<std::string> names = {args.source};
  for (const std::string& name : args.destinations) {
    if (name == args.source) {
      return Status::InvalidArgument("--to names the drained host " + name + " itself");
    }
    names.push_back(name);
  }
  MIGRATE_ASSIGN_OR_RETURN(
      ResolvedHosts resolved,
      ResolveHosts(names, args.move.hosts_file,
                   ClientOptions(args.move.timeout_s, args.move.transfer_timeout_s), env));
  DrainHosts hosts;
  hosts.source = resolved.hosts.front();
  hosts.destinations.assign(resolved.hosts.begin() + 1, resolved.hosts.end());
  hosts.factory = std::move(resolved.factory);
  return hosts;
}

DestinationRoom RoomOf(AgentClientFactory& factory, const proto::InventoryHost& host) {
  DestinationRoom room;
  room.name = host.name();
  Result<std::unique_ptr<AgentClient>> client = factory.Connect(host);
  Result<proto::Capabilities> caps =
      client.ok() ? (*client)->GetCapabilities() : Result<proto::Capabilities>(client.status());
  if (!caps.ok()) {
    room.error = caps.status().ToString();
    return room;
  }
  room.memory_available_bytes = caps->memory_available_bytes();
  room.state_free_bytes = caps->state_free_bytes();
  return room;
}

proto::Report FailedMove(const proto::DrainMove& move, const std::string& source,
                         const Status& status) {
  proto::Report report;
  report.set_status("failed");
  report.set_container(move.container());
  report.set_source(source);
  report.set_destination(move.destination());
  report.set_failed_phase("preflight");
  report.set_error(status.ToString());
  return report;
}

// One move, as `migrate container` would run it.
class MoveRunnerImpl {
 public:
  MoveRunnerImpl(const DrainArgs& args, DrainHosts& hosts, MigrationRequest base,
                 CliEnvironment& env)
      : args_(args), hosts_(hosts), base_(std::move(base)), env_(env) {}

  proto::Report operator()(const proto::DrainMove& move) {
    const proto::InventoryHost* destination = nullptr;
    for (const proto::InventoryHost& h : hosts_.destinations) {
      if (h.name() == move.destination()) destination = &h;
    }
    auto source_client = hosts_.factory->Connect(hosts_.source);
    if (!source_client.ok()) return FailedMove(move, args_.source, source_client.status());
    auto destination_client = hosts_.factory->Connect(*destination);
    if (!destination_client.ok()) return FailedMove(move, args_.source, destination_client.status());
    MigrationRequest request = base_;
    request.container_id = move.container();
    request.source = hosts_.source;
    request.destination = *destination;
    Say(move.container() + " -> " + move.destination() + ": moving");
    proto::Report report =
        Migration(request, **source_client, **destination_client, *env_.clock, nullptr).Run();
    Say(move.container() + " -> " + move.destination() + ": " + report.status() +
        (report.error().empty() ? "" : " (" + report.error() + ")"));
    return report;
  }

 private:
  void Say(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    *env_.err << "migrate drain: " << line << "\n";
    env_.err->flush();
  }

  const DrainArgs& args_;
  DrainHosts& hosts_;
  MigrationRequest base_;
  CliEnvironment& env_;
  std::mutex mu_;
};

int UsageError(const Status& status, CliEnvironment& env) {
  *env.err << "migrate drain: " << status.message() << "\n";
  return kExitUsage;
}

}  // namespace

CLI::App* AddDrainCommand(CLI::App& app, DrainArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "drain", "Empty a host for maintenance: move every running container (or those named) "
               "to other hosts, a few at a time, each with preflight and rollback");
  cmd->add_option("host", args.source, "the host to empty (inventory name)")->required();
  cmd->add_option("--to", args.destinations, "destination hosts, comma separated")
      ->required()
      ->delimiter(',');
  cmd->add_option("--only", args.only, "move only these containers (comma separated ids)")
      ->delimiter(',');
  cmd->add_option("--parallel", args.parallel, "moves at a time")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_flag("--keep-going", args.keep_going,
                "start further moves after one failed (default: stop starting new ones)");
  AddMoveOptions(cmd, args.move, /*with_cgroup_path=*/false);
  cmd->footer(kDrainFooter);
  return cmd;
}

int RunDrainCommand(const DrainArgs& args, CliEnvironment& env) {
  Result<MigrationRequest> base = MoveRequest(args.move);
  if (!base.ok()) return UsageError(base.status(), env);
  Result<DrainHosts> hosts = ResolveDrainHosts(args, env);
  if (!hosts.ok()) return UsageError(hosts.status(), env);
  auto source = hosts->factory->Connect(hosts->source);
  auto containers = source.ok() ? (*source)->ListContainers()
                                : Result<proto::ContainerList>(source.status());
  if (!containers.ok()) {
    *env.err << "migrate drain: cannot list the containers of " << args.source << ": "
             << containers.status().ToString() << "\n";
    return kExitFailed;
  }
  DrainPlanInput input;
  input.source = args.source;
  input.containers.assign(containers->containers().begin(), containers->containers().end());
  for (const proto::InventoryHost& h : hosts->destinations) {
    input.destinations.push_back(RoomOf(*hosts->factory, h));
    if (!input.destinations.back().error.empty()) {
      *env.err << "migrate drain: " << h.name() << " gets nothing: "
               << input.destinations.back().error << "\n";
    }
  }
  input.only = args.only;

  proto::DrainReport report;
  report.set_source(args.source);
  for (const std::string& d : args.destinations) report.add_destinations(d);
  report.set_dry_run(args.move.dry_run);
  for (proto::DrainMove& move : PlanDrain(input)) *report.add_moves() = std::move(move);

  DrainControl control;
  control.parallel = args.parallel;
  control.keep_going = args.keep_going;
  if (env.handle_signals) {
    InstallInterrupts(2, kDrainInterruptMessages);
    control.stop_new = &InterruptFlag(0);
    base->interrupted = &InterruptFlag(1);
  }
  MoveRunnerImpl runner(args, *hosts, *base, env);
  RunDrain(report, control, [&runner](const proto::DrainMove& m) { return runner(m); });
  *env.out << (args.move.output == "json" ? MessageToJsonLine(report) : DrainReportToText(report));
  env.out->flush();
  return DrainExitCode(report);
}

}  // namespace migrate::controller
