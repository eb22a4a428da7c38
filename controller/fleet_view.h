// What runs where: `migrate list [<host>...]` (each host's containers and the migrations its
// agent knows) and `migrate status <migration-id>` (that migration on every host that knows
// it). Read-only: nothing is changed anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controller/agent_client.h"
#include "proto/controller.pb.h"

namespace migrate::controller {

// One host's containers and migrations. Never fails: a host that cannot be asked has
// `error` set.
proto::HostListing ListHost(AgentClient& agent);

// The migration as `agent` knows it, or why not.
proto::HostMigration MigrationOnHost(AgentClient& agent, const std::string& migration_id);

// Two tables (containers, migrations; ages against `now_unix_ms`), then the hosts' errors.
std::string ListReportToText(const proto::ListReport& report, uint64_t now_unix_ms);
std::string StatusReportToText(const proto::StatusReport& report, uint64_t now_unix_ms);

// "42s", "7m", "3h", "2d": how long ago `then_unix_ms` was.
std::string Age(uint64_t then_unix_ms, uint64_t now_unix_ms);

}  // namespace migrate::controller
