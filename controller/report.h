// Printing the final migration report, and the exit status it implies.
#pragma once

#include <cstdint>
#include <string>

#include "proto/controller.pb.h"

namespace migrate::controller {

// Process exit statuses of `migrate` (documented in docs/controller.md).
inline constexpr int kExitMigrated = 0;       // also: --dry-run whose preflight passed
inline constexpr int kExitFailed = 1;         // refused or failed before the freeze: unchanged
inline constexpr int kExitUsage = 2;          // bad command line, inventory or host name
inline constexpr int kExitRolledBack = 3;     // failed after the freeze; runs on the source again
inline constexpr int kExitNeedsOperator = 4;  // failed after the freeze and the rollback failed

int ExitCodeForReport(const proto::Report& report);

// One JSON object on one line (protobuf field names kept, zero values printed), with "\n".
std::string MessageToJsonLine(const google::protobuf::Message& message);
std::string ReportToJson(const proto::Report& report);

// A human-readable report: outcome, per-phase timings, downtime, bytes, cgroup modes with
// their evidence, failed preflight checks with remedies, rollback outcome, warnings.
std::string ReportToText(const proto::Report& report);

// "512 B", "3.4 KiB", "1.20 GiB".
std::string HumanBytes(double bytes);

}  // namespace migrate::controller
