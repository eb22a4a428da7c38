// Peers that connect over loopback and then say nothing (or trickle): what a cheap denial of
// service looks like to a server's accept loop and handshake.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "transfer/base/unique_fd.h"

namespace migrate::testing {

// A plain TCP connection to 127.0.0.1:port (-1 inside on failure).
transfer::UniqueFd ConnectLoopback(uint16_t port);

// True when `fd` has something to read (data, EOF or an error) within `timeout`.
bool ReadableWithin(int fd, std::chrono::milliseconds timeout);

// True when the peer closed (or reset) `fd` within `timeout`: a read sees EOF or an error.
bool ClosedWithin(int fd, std::chrono::milliseconds timeout);

// `count` connections that never send a byte; closed on destruction.
class StalledPeers {
 public:
  StalledPeers(uint16_t port, int count);
  int connected() const { return static_cast<int>(fds_.size()); }
  // How many of them the server has closed by now.
  int closed_by_server() const;

 private:
  std::vector<transfer::UniqueFd> fds_;
};

// Fills this process's descriptor table (RLIMIT_NOFILE lowered to what is open plus a few,
// then /dev/null opened until EMFILE). Everything is given back on destruction.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion();
  ~DescriptorExhaustion();
  DescriptorExhaustion(const DescriptorExhaustion&) = delete;
  DescriptorExhaustion& operator=(const DescriptorExhaustion&) = delete;
  bool exhausted() const { return exhausted_; }

 private:
  std::vector<int> fillers_;
  uint64_t saved_soft_limit_ = 0;
  bool exhausted_ = false;
};

// CPU time (user + system) this process has used so far.
std::chrono::microseconds ProcessCpuTime();

// What a server did with `clients` connections that arrived while this process was out of
// descriptors: whether it closed all of them within 3 s (shed them instead of leaving them
// hanging), and the CPU the process used meanwhile against the time it took, 200 ms at least
// (a server that spins on accept uses a core).
struct Shedding {
  bool exhausted = false;  // the descriptor table could be filled at all
  bool shed = false;
  std::chrono::microseconds cpu{0};
  std::chrono::microseconds wall{0};
};
Shedding ConnectWhileOutOfDescriptors(uint16_t port, int clients);

}  // namespace migrate::testing
