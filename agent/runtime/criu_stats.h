// CRIU's statistics files: `stats-dump` and `stats-restore`, which CRIU writes into its
// working directory (runc's --work-path) at the end of a dump and of a restore. Each is a CRIU image: the service magic, the
// stats magic, then one length-prefixed StatsEntry (proto/criu_stats.proto).
#pragma once

#include <string>

#include "proto/criu_stats.pb.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

// The entry of <dir>/<name> ("stats-dump" or "stats-restore"). NotFound when CRIU wrote
// none; DataLoss for a file that is not a CRIU stats image.
Result<criu::StatsEntry> ReadCriuStats(const std::string& dir, const std::string& name);

// The bytes of a stats image holding `entry` (tests; the inverse of the reader).
std::string CriuStatsImage(const criu::StatsEntry& entry);

}  // namespace migrate::runtime
