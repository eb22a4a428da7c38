// `migrate certs`: make the cluster CA and node / controller certificates (transfer/certs/certs.h).
#pragma once

namespace CLI {
class App;
}

namespace migrate::controller {

// Registers `certs ca`, `certs issue` and `certs revoke` on `app`. Their callbacks run during app.parse() and
// set *exit_code: 0 done, 1 failed (message on stderr), 2 bad input.
void RegisterCertsCommand(CLI::App& app, int* exit_code);

}  // namespace migrate::controller
