// Bringing a restored container's loopback back: runc restores a runtime-created network
// namespace with lo DOWN and without 127.0.0.1.
#pragma once

#include <string>
#include <string_view>

#include "agent/runtime/process_runner.h"
#include "agent/runtime/runtime.h"

namespace migrate::runtime {

struct LoopbackTools {
  std::string nsenter_path = "nsenter";
  std::string ip_path = "ip";
  std::string proc_root = "/proc";
};

// `nsenter --net=<proc>/<pid>/ns/net ip link set lo up`, then reads the state back.
Result<LoopbackState> BringUpLoopback(ProcessRunner& runner, int pid, const LoopbackTools& tools);
// Reads it without changing anything.
Result<LoopbackState> ReadLoopback(ProcessRunner& runner, int pid, const LoopbackTools& tools);

// Parses `ip -o addr show dev lo` + `ip -o link show dev lo` outputs.
LoopbackState ParseLoopback(std::string_view link_output, std::string_view addr_output);

// True when the process shares our own network namespace (then it is not ours to fix).
Result<bool> SharesHostNetns(int pid, const std::string& proc_root = "/proc");

}  // namespace migrate::runtime
