// `migrate-agent serve`: the node daemon (agent API + stream receiver), in the foreground.
#pragma once

#include <CLI/CLI.hpp>

namespace migrate::agent {

// Adds `serve` to `app`. When the subcommand runs, it stores its exit status in *exit_code.
void RegisterServeCommand(CLI::App& app, int* exit_code);

}  // namespace migrate::agent
