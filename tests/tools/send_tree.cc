// send_tree: streams one directory tree to an agent's data port, as a source agent would
// (transfer::SendTree over mutual TLS with a node certificate and a one-time token). Tests
// only: tests/integration/hostile_source.sh plays a lying source node with it, sending trees
// no honest agent would send. Prints the stats, or the error (the receiver's reason), once.
//
//   send_tree --ca F --cert F --key F --host ADDR --port N --server-name NAME --token T DIR
//
// Exit: 0 sent and verified by the receiver, 1 refused or failed, 2 bad arguments.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "transfer/stream/file_source.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/tls/tls.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "send_tree: %s\nusage: send_tree --ca F --cert F --key F --host ADDR --port N "
               "--server-name NAME --token T DIR\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace migrate;
  std::map<std::string, std::string> flags;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return Usage(("no value for " + arg).c_str());
      flags[arg.substr(2)] = argv[++i];
    } else if (dir.empty()) {
      dir = arg;
    } else {
      return Usage("more than one directory");
    }
  }
  for (const char* name : {"ca", "cert", "key", "host", "port", "server-name", "token"}) {
    if (flags[name].empty()) return Usage(("--" + std::string(name) + " is required").c_str());
  }
  if (dir.empty()) return Usage("no directory to send");
  const long port = std::strtol(flags["port"].c_str(), nullptr, 10);
  if (port <= 0 || port > 65535) return Usage("--port must be 1..65535");

  auto tls = tls::MakeClientContext({flags["ca"], flags["cert"], flags["key"], ""});
  if (!tls.ok()) {
    std::fprintf(stderr, "send_tree: %s\n", tls.status().ToString().c_str());
    return 1;
  }
  transfer::SendOptions options;
  options.host = flags["host"];
  options.port = static_cast<uint16_t>(port);
  options.server_name = flags["server-name"];
  options.tls = *tls;
  options.token = flags["token"];
  options.label = "send_tree";
  options.verdict_timeout = std::chrono::seconds(30);
  transfer::DirectoryTreeSource source(dir);
  auto stats = transfer::SendTree(options, source);
  if (!stats.ok()) {
    std::fprintf(stderr, "send_tree: %s\n", stats.status().ToString().c_str());
    return 1;
  }
  std::printf("sent %llu files, %llu bytes\n", static_cast<unsigned long long>(stats->files),
              static_cast<unsigned long long>(stats->raw_bytes));
  return 0;
}
