#include "agent/runtime/loopback.h"

#include "agent/runtime/host_stats.h"

#include <errno.h>
#include <sys/stat.h>

namespace migrate::runtime {
namespace {

std::vector<std::string> InNetns(const LoopbackTools& tools, int pid,
                                 std::vector<std::string> command) {
  std::vector<std::string> argv = {
      tools.nsenter_path, "--net=" + tools.proc_root + "/" + std::to_string(pid) + "/ns/net"};
  for (std::string& c : command) argv.push_back(std::move(c));
  return argv;
}

}  // namespace

LoopbackState ParseLoopback(std::string_view link_output, std::string_view addr_output) {
  LoopbackState state;
  state.checked = true;
  // "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ..." : the flag list between < and >.
  size_t open = link_output.find('<');
  size_t close = link_output.find('>', open == std::string_view::npos ? 0 : open);
  if (open != std::string_view::npos && close != std::string_view::npos) {
    std::string_view flags = link_output.substr(open + 1, close - open - 1);
    size_t pos = 0;
    while (pos <= flags.size()) {
      size_t comma = flags.find(',', pos);
      if (comma == std::string_view::npos) comma = flags.size();
      if (flags.substr(pos, comma - pos) == "UP") state.up = true;
      pos = comma + 1;
    }
  }
  state.has_ipv4 = addr_output.find("inet 127.0.0.1/") != std::string_view::npos;
  std::string link(link_output), addr(addr_output);
  while (!link.empty() && link.back() == '\n') link.pop_back();
  while (!addr.empty() && addr.back() == '\n') addr.pop_back();
  state.detail = link + (addr.empty() ? "" : "\n" + addr);
  return state;
}

Result<LoopbackState> ReadLoopback(ProcessRunner& runner, int pid, const LoopbackTools& tools) {
  ProcessSpec link;
  link.argv = InNetns(tools, pid, {tools.ip_path, "-o", "link", "show", "dev", "lo"});
  link.timeout = std::chrono::seconds(10);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult link_out, RunChecked(runner, link));
  ProcessSpec addr;
  addr.argv = InNetns(tools, pid, {tools.ip_path, "-o", "addr", "show", "dev", "lo"});
  addr.timeout = std::chrono::seconds(10);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult addr_out, RunChecked(runner, addr));
  return ParseLoopback(link_out.stdout_text, addr_out.stdout_text);
}

Result<LoopbackState> BringUpLoopback(ProcessRunner& runner, int pid, const LoopbackTools& tools) {
  ProcessSpec up;
  up.argv = InNetns(tools, pid, {tools.ip_path, "link", "set", "lo", "up"});
  up.timeout = std::chrono::seconds(10);
  Result<ProcessResult> done = RunChecked(runner, up);
  if (!done.ok()) return done.status().WithContext("bring loopback up");
  Result<LoopbackState> state = ReadLoopback(runner, pid, tools);
  if (!state.ok()) return state.status().WithContext("read loopback");
  return state;
}

Result<bool> SharesHostNetns(int pid, const std::string& proc_root) {
  return SharesHostNamespace(pid, "net", proc_root);
}

}  // namespace migrate::runtime
