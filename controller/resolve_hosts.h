// From the host names a command was given to inventory entries and connected agent clients:
// the inventory file is --hosts-file, else $MIGRATE_HOSTS, else the default path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "controller/agent_client.h"
#include "controller/cli.h"
#include "controller/https_agent_client.h"
#include "proto/controller.pb.h"
#include "transfer/base/status.h"

namespace migrate::controller {

// The named inventory hosts, in the order named (every host of the inventory when `names` is
// empty), and a factory of clients for them. An unknown name is InvalidArgument listing the
// known ones.
struct ResolvedHosts {
  std::vector<proto::InventoryHost> hosts;
  std::unique_ptr<AgentClientFactory> factory;
};
Result<ResolvedHosts> ResolveHosts(const std::vector<std::string>& names,
                                   const std::string& hosts_file,
                                   const HttpsClientOptions& options, CliEnvironment& env);

// A migration's two hosts, each connected. Errors name the side ("source: unknown host ...").
struct ConnectedPair {
  proto::InventoryHost source;
  proto::InventoryHost destination;
  std::unique_ptr<AgentClientFactory> factory;
  std::unique_ptr<AgentClient> source_client;
  std::unique_ptr<AgentClient> destination_client;
};
Result<ConnectedPair> ConnectPair(const std::string& source, const std::string& destination,
                                  const std::string& hosts_file,
                                  const HttpsClientOptions& options, CliEnvironment& env);

}  // namespace migrate::controller
