// The `migrate` command line (CLI11): `migrate container`, `migrate hosts check`,
// `migrate certs`. main() only calls RunCli(); everything the commands touch is injectable.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>

#include "controller/agent_client.h"
#include "controller/clock.h"
#include "controller/https_agent_client.h"
#include "proto/controller.pb.h"
#include "transfer/base/status.h"

namespace migrate::controller {

struct CliEnvironment {
  std::ostream* out = nullptr;      // reports
  std::ostream* err = nullptr;      // errors and the progress line
  const char* hosts_env = nullptr;  // value of $MIGRATE_HOSTS (may be null)
  bool err_is_tty = false;          // draw the progress line
  Clock* clock = nullptr;
  // SIGINT/SIGTERM end a migration through its rollback instead of killing the controller.
  bool handle_signals = false;
  // Makes the agent clients for an inventory (default: mutual-TLS HTTPS clients).
  std::function<Result<std::unique_ptr<AgentClientFactory>>(const proto::Inventory&,
                                                            const HttpsClientOptions&)>
      make_factory;
};

// The real process environment: std::cout/std::cerr, $MIGRATE_HOSTS, isatty(2), the steady
// clock, HTTPS clients.
CliEnvironment ProcessCliEnvironment();

// Parses argv and runs the command; returns the process exit status (see report.h:
// 0 migrated / ok, 1 failed before the freeze, 2 bad input, 3 rolled back, 4 needs operator).
int RunCli(int argc, const char* const* argv, CliEnvironment& env);

}  // namespace migrate::controller
