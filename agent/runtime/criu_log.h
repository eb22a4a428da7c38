// Reading the cgroup mode CRIU really ran from its own logs (and cgroup.img).
//
// restore.log: "cg: Preparing cgroups yard (cgroups restore mode 0x4)" names the mode
// (none 0x1, props 0x2, soft 0x4, full 0x8, strict 0x10); no such line means ignore.
// dump.log: CRIU prints no mode. In ignore it collects no cgroup directories, so neither
// "cg: adding cgroup" nor "cg: Dumping value" lines appear and cgroup.img's controllers
// have no dirs. soft/full/strict dump the same way (the mode only matters on restore), so
// a dump can be told apart only as "ignore" or "managed".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/cgroup_mode.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

struct RestoreLogFinding {
  CgroupMode mode = CgroupMode::kIgnore;
  std::string evidence;  // the log line, or a sentence stating its absence
};

// InvalidArgument when the log does not look like a CRIU restore log that got as far as
// the cgroup set-up (no "Version:" line or the yard line carries an unknown mode).
Result<RestoreLogFinding> ParseRestoreLogMode(std::string_view restore_log);

struct DumpLogFinding {
  bool cgroups_managed = false;  // dump collected cgroup dirs (soft/full/strict/none/props)
  int adding_cgroup_lines = 0;   // "cg: adding cgroup"
  int dumping_value_lines = 0;   // "cg: Dumping value"
  std::string evidence;          // first such line, or a sentence stating their absence
  bool dump_finished = false;    // "Dumping finished successfully"
};
Result<DumpLogFinding> ParseDumpLog(std::string_view dump_log);

// What CRIU warned about in a log ("(00.012) Warn  (criu/x.c:12): message" lines), as the
// messages alone, each once, in order: a user must hear that, e.g., queued inotify events
// were dropped. Warnings CRIU prints on every run here and that mean nothing for the
// workload are left out (kHarmlessCriuWarnings). CRIU's info lines that say it dropped state
// an option allowed it to drop ("Skipping in-flight connection ...") are warnings too.
std::vector<std::string> CriuWarnings(std::string_view log);
extern const std::vector<std::string_view> kHarmlessCriuWarnings;

// Config files CRIU said it read, in order: "Parsing config file X" lines.
std::vector<std::string> ConfigFilesParsed(std::string_view log);

// First line containing `needle`, without its trailing newline.
std::optional<std::string> FindLogLine(std::string_view log, std::string_view needle);

// The contents of a CRIU config file that sets the mode. Always "manage-cgroups=<name>":
// the form "manage-cgroups <name>" parses without error and silently yields soft.
std::string CriuConfigForMode(CgroupMode mode);

}  // namespace migrate::runtime
