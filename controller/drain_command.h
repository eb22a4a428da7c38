// `migrate drain <host> --to <host>[,<host>...]`: the command around controller/drain.h
// (inventory, clients, Ctrl-C, output).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "controller/cli.h"
#include "controller/move_options.h"

namespace migrate::controller {

struct DrainArgs {
  std::string source;
  std::vector<std::string> destinations;
  std::vector<std::string> only;
  int parallel = 1;
  bool keep_going = false;
  MoveOptions move;
};

// Adds the `drain` subcommand to `app`, filling `args`.
CLI::App* AddDrainCommand(CLI::App& app, DrainArgs& args);

// Runs it; returns the exit status (controller/drain.h, DrainExitCode; 2 for bad input).
int RunDrainCommand(const DrainArgs& args, CliEnvironment& env);

}  // namespace migrate::controller
