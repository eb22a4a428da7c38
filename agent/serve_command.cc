#include "agent/serve_command.h"

#include <iostream>

namespace migrate::agent {

void RegisterServeCommand(CLI::App& app, int* exit_code) {
  CLI::App* serve = app.add_subcommand("serve", "Run the node daemon (not yet implemented)");
  serve->callback([exit_code] {
    std::cerr << "migrate-agent serve: not yet implemented\n";
    *exit_code = 2;
  });
}

}  // namespace migrate::agent
