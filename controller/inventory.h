// The inventory: which nodes exist, how to reach their agents, and the controller's own
// certificate. A JSON file (format in docs/controller.md) read into proto::Inventory.
#pragma once

#include <string>
#include <string_view>

#include "proto/controller.pb.h"
#include "transfer/base/status.h"

namespace migrate::controller {

inline constexpr char kDefaultInventoryPath[] = "/etc/migrate/hosts.json";
inline constexpr char kInventoryEnvVar[] = "MIGRATE_HOSTS";

// Where to read the inventory from: `flag_value` when not empty, else `env_value` (the
// value of $MIGRATE_HOSTS, may be null) when not empty, else kDefaultInventoryPath.
std::string ChooseInventoryPath(const std::string& flag_value, const char* env_value);

// Parses and validates inventory JSON. `base_dir` is the folder that relative certificate
// paths resolve against; `origin` names the source in error messages (the file path).
// Validation: well-formed JSON (errors say line and column), known fields only, at least one
// host, every host has name, address and a port in 1..65535, no duplicate names, controller
// ca/cert/key present. Fills data_address with address where it is empty.
Result<proto::Inventory> ParseInventory(std::string_view json, const std::string& base_dir,
                                        const std::string& origin);

// Reads and parses the file at `path` (NotFound when it does not exist).
Result<proto::Inventory> LoadInventory(const std::string& path);

// The host named `name`; NotFound listing the known names otherwise.
Result<proto::InventoryHost> FindHost(const proto::Inventory& inventory, std::string_view name);

}  // namespace migrate::controller
