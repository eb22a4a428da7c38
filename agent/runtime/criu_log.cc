#include "agent/runtime/criu_log.h"

#include <algorithm>
#include <cstdlib>

namespace migrate::runtime {
namespace {

constexpr std::string_view kYardMarker = "cg: Preparing cgroups yard (cgroups restore mode ";

// Calls fn(line) for each line (without '\n').
template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line)) return;
    pos = end + 1;
  }
}

bool LooksLikeCriuLog(std::string_view log) {
  return log.find("Version: ") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> FindLogLine(std::string_view log, std::string_view needle) {
  std::optional<std::string> found;
  ForEachLine(log, [&](std::string_view line) {
    if (line.find(needle) == std::string_view::npos) return true;
    found = std::string(line);
    return false;
  });
  return found;
}

Result<RestoreLogFinding> ParseRestoreLogMode(std::string_view restore_log) {
  if (!LooksLikeCriuLog(restore_log)) {
    return Status::InvalidArgument("not a CRIU log (no \"Version:\" line)");
  }
  std::optional<std::string> line = FindLogLine(restore_log, kYardMarker);
  RestoreLogFinding finding;
  if (!line) {
    // The yard line is printed before any task is restored; a log that ends before the
    // cgroup set-up cannot tell the mode.
    if (restore_log.find("Restoring processes") == std::string_view::npos &&
        restore_log.find("Forking task") == std::string_view::npos &&
        restore_log.find("Restore finished successfully") == std::string_view::npos) {
      return Status::InvalidArgument(
          "restore log ends before the cgroup set-up: the mode cannot be told");
    }
    finding.mode = CgroupMode::kIgnore;
    finding.evidence =
        "no \"cg: Preparing cgroups yard\" line in restore.log (CRIU prints it for every mode "
        "but ignore)";
    return finding;
  }
  size_t pos = line->find(kYardMarker) + kYardMarker.size();
  char* end = nullptr;
  long flag = std::strtol(line->c_str() + pos, &end, 0);
  if (end == line->c_str() + pos) {
    return Status::InvalidArgument("cannot read the mode in: " + *line);
  }
  Result<CgroupMode> mode = CgroupModeFromCriuFlag(static_cast<int>(flag));
  if (!mode.ok()) return mode.status().WithContext(*line);
  finding.mode = *mode;
  finding.evidence = *line;
  return finding;
}

Result<DumpLogFinding> ParseDumpLog(std::string_view dump_log) {
  if (!LooksLikeCriuLog(dump_log)) {
    return Status::InvalidArgument("not a CRIU log (no \"Version:\" line)");
  }
  DumpLogFinding finding;
  std::string first;
  ForEachLine(dump_log, [&](std::string_view line) {
    bool adding = line.find("cg: adding cgroup") != std::string_view::npos;
    bool value = line.find("cg: Dumping value") != std::string_view::npos;
    if (adding) ++finding.adding_cgroup_lines;
    if (value) ++finding.dumping_value_lines;
    if ((adding || value) && first.empty()) first = std::string(line);
    if (line.find("Dumping finished successfully") != std::string_view::npos) {
      finding.dump_finished = true;
    }
    return true;
  });
  finding.cgroups_managed = finding.adding_cgroup_lines > 0 || finding.dumping_value_lines > 0;
  if (finding.cgroups_managed) {
    finding.evidence = first + " (" + std::to_string(finding.adding_cgroup_lines) +
                       " \"cg: adding cgroup\" lines)";
  } else {
    finding.evidence =
        "no \"cg: adding cgroup\" / \"cg: Dumping value\" lines in dump.log (ignore collects "
        "no cgroup dirs)";
  }
  return finding;
}

std::vector<std::string> ConfigFilesParsed(std::string_view log) {
  constexpr std::string_view kMarker = "Parsing config file ";
  std::vector<std::string> files;
  ForEachLine(log, [&](std::string_view line) {
    size_t pos = line.find(kMarker);
    if (pos == std::string_view::npos) return true;
    std::string file(line.substr(pos + kMarker.size()));
    bool seen = false;
    for (const std::string& f : files) seen = seen || f == file;
    if (!seen) files.push_back(std::move(file));
    return true;
  });
  return files;
}

std::string CriuConfigForMode(CgroupMode mode) {
  return "manage-cgroups=" + std::string(CgroupModeName(mode)) + "\n";
}

const std::vector<std::string_view> kHarmlessCriuWarnings = {
    // Every restore of a container with its own pid namespace (kernels since 3.x support it).
    "Set CLONE_PARENT | CLONE_NEWPID but it might cause restore problem",
    // A task dumped inside a system call is restarted with EINTR, as a signal would: the
    // workload sees nothing it does not already handle (docs/zdtm.md).
    "with interrupted system call",
};

namespace {

// CRIU's info lines that say it dropped state because an option told it to: warnings too.
constexpr std::string_view kDroppedByOption[] = {
    "Skipping in-flight connection",  // --skip-in-flight: a connection not yet accepted
};

// "(00.012) Warn  (criu/x.c:12): message" -> "message"; empty when not a warning line.
std::string_view WarningMessage(std::string_view line) {
  for (std::string_view dropped : kDroppedByOption) {
    const size_t at = line.find(dropped);
    if (at != std::string_view::npos) return line.substr(at);
  }
  const size_t warn = line.find(" Warn ");
  if (warn == std::string_view::npos) return {};
  std::string_view message = line.substr(warn + 6);
  const size_t location = message.find("): ");
  if (location != std::string_view::npos && message.find('(') < location) {
    message = message.substr(location + 3);
  }
  while (!message.empty() && message.front() == ' ') message.remove_prefix(1);
  return message;
}

}  // namespace

std::vector<std::string> CriuWarnings(std::string_view log) {
  std::vector<std::string> warnings;
  ForEachLine(log, [&](std::string_view line) {
    const std::string_view message = WarningMessage(line);
    bool harmless = message.empty();
    for (std::string_view known : kHarmlessCriuWarnings) {
      harmless = harmless || message.find(known) != std::string_view::npos;
    }
    std::string text(message);
    if (!harmless && std::find(warnings.begin(), warnings.end(), text) == warnings.end()) {
      warnings.push_back(std::move(text));
    }
    return true;
  });
  return warnings;
}

}  // namespace migrate::runtime
