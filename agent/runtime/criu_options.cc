#include "agent/runtime/criu_options.h"

namespace migrate::runtime {

std::vector<std::string> CriuOptions::RuntimeArgs() const {
  std::vector<std::string> args;
  if (tcp_established) args.push_back("--tcp-established");
  if (file_locks) args.push_back("--file-locks");
  if (ext_unix_sk) args.push_back("--ext-unix-sk");
  return args;
}

std::string CriuOptions::ConfigFileText() const {
  std::string text;
  if (link_remap) text += "link-remap\n";
  if (ghost_limit != 0) text += "ghost-limit=" + std::to_string(ghost_limit) + "\n";
  if (no_ghost_fiemap) text += "no-ghost-fiemap\n";
  if (skip_in_flight) text += "skip-in-flight\n";
  return text;
}

std::vector<std::string> CriuOptions::Names() const {
  std::vector<std::string> names;
  for (const std::string& arg : RuntimeArgs()) names.push_back(arg.substr(2));
  const std::string text = ConfigFileText();
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    names.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return names;
}

namespace {

// What CRIU logs (at info level, into the dump's log) when it applies an option.
std::string_view LogLineOf(std::string_view name) {
  if (name == "tcp-established") return "Will dump/restore TCP connections";
  if (name == "skip-in-flight") return "Will skip in-flight TCP connections";
  if (name == "link-remap") return "Will allow link remaps on FS";
  return {};
}

}  // namespace

std::vector<std::string> DescribeCriuOptions(const CriuOptions& options, std::string_view runtime,
                                             const std::string& config_file,
                                             std::string_view dump_log) {
  std::vector<std::string> described;
  const size_t flags = options.RuntimeArgs().size();
  const std::vector<std::string> names = options.Names();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name = names[i].substr(0, names[i].find('='));
    std::string how = i < flags ? std::string(runtime) + " checkpoint --" + name
                                : "CRIU config file " + config_file + " (CRIU_CONFIG_FILE)";
    const std::string_view line = LogLineOf(name);
    if (!line.empty()) {
      how += dump_log.find(line) != std::string_view::npos
                 ? "; CRIU's log: \"" + std::string(line) + "\""
                 : "; NOT confirmed by CRIU's log (no \"" + std::string(line) + "\")";
    }
    described.push_back(names[i] + ": " + how);
  }
  return described;
}

Status CheckCriuOptions(const CriuOptions& options) {
  if (options.ghost_limit > kMaxGhostLimitBytes) {
    return Status::InvalidArgument("CRIU ghost-limit " + std::to_string(options.ghost_limit) +
                                   " bytes is above the largest accepted, " +
                                   std::to_string(kMaxGhostLimitBytes) + " (16 GiB)");
  }
  return Status::Ok();
}

}  // namespace migrate::runtime
