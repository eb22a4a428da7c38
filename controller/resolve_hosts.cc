#include "controller/resolve_hosts.h"

#include <utility>

#include "controller/inventory.h"

namespace migrate::controller {

Result<ResolvedHosts> ResolveHosts(const std::vector<std::string>& names,
                                   const std::string& hosts_file,
                                   const HttpsClientOptions& options, CliEnvironment& env) {
  MIGRATE_ASSIGN_OR_RETURN(proto::Inventory inventory,
                           LoadInventory(ChooseInventoryPath(hosts_file, env.hosts_env)));
  ResolvedHosts resolved;
  if (names.empty()) {
    resolved.hosts.assign(inventory.hosts().begin(), inventory.hosts().end());
  }
  for (const std::string& name : names) {
    MIGRATE_ASSIGN_OR_RETURN(proto::InventoryHost host, FindHost(inventory, name));
    resolved.hosts.push_back(std::move(host));
  }
  Result<std::unique_ptr<AgentClientFactory>> factory = env.make_factory(inventory, options);
  if (!factory.ok()) return factory.status().WithContext("controller certificate");
  resolved.factory = std::move(factory).value();
  return resolved;
}

Result<ConnectedPair> ConnectPair(const std::string& source, const std::string& destination,
                                  const std::string& hosts_file,
                                  const HttpsClientOptions& options, CliEnvironment& env) {
  MIGRATE_ASSIGN_OR_RETURN(proto::Inventory inventory,
                           LoadInventory(ChooseInventoryPath(hosts_file, env.hosts_env)));
  ConnectedPair pair;
  Result<proto::InventoryHost> found = FindHost(inventory, source);
  if (!found.ok()) return found.status().WithContext("source");
  pair.source = std::move(found).value();
  found = FindHost(inventory, destination);
  if (!found.ok()) return found.status().WithContext("destination");
  pair.destination = std::move(found).value();
  Result<std::unique_ptr<AgentClientFactory>> factory = env.make_factory(inventory, options);
  if (!factory.ok()) return factory.status().WithContext("controller certificate");
  pair.factory = std::move(factory).value();
  MIGRATE_ASSIGN_OR_RETURN(pair.source_client, pair.factory->Connect(pair.source));
  MIGRATE_ASSIGN_OR_RETURN(pair.destination_client, pair.factory->Connect(pair.destination));
  return pair;
}

}  // namespace migrate::controller
