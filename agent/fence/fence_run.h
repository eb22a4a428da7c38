// What `migrate-fence source|destination` does once its flags are parsed: check and open what
// the fence will act on (bad input fails here, before anything changes), then run the fence.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::fence {

struct SourceOptions {
  int control_fd = -1;
  int page_socket_fd = -1;
  std::string freezer;
  std::string netns;
  pid_t criu_pid = 0;
  std::string state_file;
  std::string label;
};

struct DestinationOptions {
  int control_fd = -1;
  std::vector<std::string> cgroups;
  std::string state_file;
  std::string label;
  int64_t lease_ms = 0;
};

// Each returns the process's exit code: 0 when the fence did its job (killed, disarmed,
// resumed, released), 1 when its last action failed, 2 for bad options (printed on stderr).
int RunSourceFence(const SourceOptions& options);
int RunDestinationFence(const DestinationOptions& options);

}  // namespace migrate::fence
