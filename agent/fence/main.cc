// migrate-fence: the fence of a post-copy migration. Parsing only: the work is in
// agent/fence (fence_run.h).
#include <CLI/CLI.hpp>
#include <string>

#include "agent/fence/fence_run.h"
#include "migrate/version.h"

namespace {

constexpr char kAbout[] =
    "migrate-fence: keeps the one-copy rule of a post-copy migration while its pages are in "
    "flight.\n"
    "In a post-copy migration the container already runs on the destination while its memory "
    "still comes from the frozen source, so for a while neither copy is whole. The agent that "
    "runs the migration spawns one fence per side, in a session of its own, so that the fence "
    "outlives the agent: if the agent dies, the fence still acts at its deadline.\n"
    "destination: the restored copy lives only while its lease is renewed (LEASE-UNTIL); at the "
    "deadline, or on KILL, the fence kills every task of its cgroups; DISARM leaves it alone.\n"
    "source: the source's tasks stay frozen until HOLD-UNTIL's deadline, then the fence resumes "
    "them (RST to CRIU's page server, CRIU stopped, CRIU's network lock removed, thaw), unless "
    "COMMIT said that the destination may hold the only complete copy; RELEASE (every page sent) "
    "kills the tasks, ends the transfer with a FIN and thaws.\n"
    "The agent speaks to the fence over --control-fd, one line per command, one line back: "
    "LEASE-UNTIL <monotonic_ns>, RUNNING <unix_ms>, KILL <reason>, DISARM (destination); "
    "HOLD-UNTIL "
    "<monotonic_ns>, COMMIT, RESUME <reason>, RELEASE (source); STATUS (both). The fence writes "
    "its state as JSON to --state at every change. Exit status: 0 when it did its job, 1 when its "
    "last action failed, 2 for bad options.";

// The options both roles take: the control socket, the state file, the migration's label.
void AddCommonOptions(CLI::App* role, int& control_fd, std::string& state_file,
                      std::string& label) {
  role->add_option("--control-fd", control_fd, "this end of the agent's control socketpair")
      ->required();
  role->add_option("--state", state_file, "the JSON state file (written atomically)")
      ->required();
  role->add_option("--label", label, "the migration this fence guards (log lines, state)")
      ->required();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kAbout, "migrate-fence"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("migrate-fence ") + migrate::kVersion);
  int exit_code = 0;

  migrate::fence::SourceOptions source;
  CLI::App* src =
      app.add_subcommand("source", "Hold the source's frozen tasks, then resume or release them");
  AddCommonOptions(src, source.control_fd, source.state_file, source.label);
  src->add_option("--page-socket-fd", source.page_socket_fd,
                  "the TCP socket connected to CRIU's page server (SO_LINGER {1,0} set)")
      ->required();
  src->add_option(
         "--freezer", source.freezer,
         "the container's freezer cgroup dir (v1 with freezer.state, v2 with cgroup.freeze)")
      ->required();
  src->add_option("--netns", source.netns,
                  "the container's network namespace, e.g. /proc/<pid>/ns/net")
      ->required();
  src->add_option("--criu-pid", source.criu_pid, "the pid of CRIU's dump")->required();
  src->callback([&] { exit_code = migrate::fence::RunSourceFence(source); });

  migrate::fence::DestinationOptions dest;
  CLI::App* dst =
      app.add_subcommand("destination", "Kill the restored copy unless its lease is renewed");
  AddCommonOptions(dst, dest.control_fd, dest.state_file, dest.label);
  dst->add_option("--cgroup", dest.cgroups,
                  "a cgroup dir of the restored container (repeatable; v2 uses cgroup.kill)")
      ->required();
  dst->add_option("--lease-ms", dest.lease_ms, "the first lease, from the fence's start")
      ->required();
  dst->callback([&] { exit_code = migrate::fence::RunDestinationFence(dest); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
