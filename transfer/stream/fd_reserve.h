// One file descriptor kept in reserve for an accept loop. When the process is out of
// descriptors (EMFILE, ENFILE), accept() fails while the connection stays pending, so a
// level-triggered poll wakes the loop again at once: a busy spin that also starves everything
// else that needs a descriptor (spawning runc). With the reserve, the loop frees it, accepts
// the pending connection, closes it (the peer sees a close, not a hang) and takes the reserve
// again. The warning is logged once per interval, with how many connections were shed.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "transfer/stream/stream_types.h"
#include "transfer/base/unique_fd.h"

namespace migrate::transfer {

// accept4(2) flags every server of the project uses: never inherited by spawned programs.
inline constexpr int kAcceptFlags = SOCK_CLOEXEC;

class FdReserve {
 public:
  explicit FdReserve(std::string who, std::chrono::seconds log_interval = std::chrono::seconds(10));

  // True for the errno values that mean "out of descriptors".
  static bool IsExhaustion(int err);

  // After accept failed with IsExhaustion(errno) on `listen_fd`: sheds one pending connection
  // as above. Returns false when even the reserve could not be used (then back off).
  bool ShedOne(int listen_fd);

  uint64_t shed() const { return shed_; }

 private:
  void Reopen();
  void Log(int err);

  std::string who_;
  std::chrono::seconds log_interval_;
  UniqueFd spare_;
  uint64_t shed_ = 0;
  uint64_t shed_at_last_log_ = 0;
  Clock::time_point last_log_{};
};

}  // namespace migrate::transfer
