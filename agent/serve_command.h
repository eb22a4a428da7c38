// The `serve` subcommand of migrate-agent (the node daemon). Placeholder: the agent daemon
// replaces this file and serve_command.cc.
#pragma once

#include <CLI/CLI.hpp>

namespace migrate::agent {

// Adds `serve` to `app`. When the subcommand runs, it stores its exit status in *exit_code.
void RegisterServeCommand(CLI::App& app, int* exit_code);

}  // namespace migrate::agent
