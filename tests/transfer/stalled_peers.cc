#include "tests/transfer/stalled_peers.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace migrate::testing {

transfer::UniqueFd ConnectLoopback(uint16_t port) {
  transfer::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd.get() >= 0 && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fd.reset();
  }
  return fd;
}

bool ReadableWithin(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

bool ClosedWithin(int fd, std::chrono::milliseconds timeout) {
  if (!ReadableWithin(fd, timeout)) return false;
  char byte;
  // A TLS alert may come first: anything but "would block" on a non-blocking peek after it
  // means the server is done with us once the stream is at EOF.
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return true;
  char sink[4096];
  while ((n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
  }
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

StalledPeers::StalledPeers(uint16_t port, int count) {
  for (int i = 0; i < count; ++i) {
    transfer::UniqueFd fd = ConnectLoopback(port);
    if (fd.get() >= 0) fds_.push_back(std::move(fd));
  }
}

int StalledPeers::closed_by_server() const {
  int closed = 0;
  for (const auto& fd : fds_) closed += ClosedWithin(fd.get(), std::chrono::milliseconds(0));
  return closed;
}

DescriptorExhaustion::DescriptorExhaustion() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  saved_soft_limit_ = limit.rlim_cur;
  int open_now = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++open_now;
    closedir(d);
  }
  limit.rlim_cur = static_cast<rlim_t>(open_now + 32);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  for (;;) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      exhausted_ = errno == EMFILE;
      return;
    }
    fillers_.push_back(fd);
  }
}

DescriptorExhaustion::~DescriptorExhaustion() {
  for (int fd : fillers_) ::close(fd);
  rlimit limit{};
  if (saved_soft_limit_ != 0 && getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = static_cast<rlim_t>(saved_soft_limit_);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::chrono::microseconds ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) { return int64_t{t.tv_sec} * 1'000'000 + t.tv_usec; };
  return std::chrono::microseconds(us(usage.ru_utime) + us(usage.ru_stime));
}

Shedding ConnectWhileOutOfDescriptors(uint16_t port, int count) {
  Shedding out;
  std::vector<transfer::UniqueFd> clients;  // made before the table is full
  for (int i = 0; i < count; ++i) {
    clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }
  DescriptorExhaustion full;
  out.exhausted = full.exhausted();
  if (!out.exhausted) return out;
  const auto wall = std::chrono::steady_clock::now();
  const auto cpu = ProcessCpuTime();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (auto& c : clients) ::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const auto deadline = wall + std::chrono::seconds(3);
  while (!out.shed && std::chrono::steady_clock::now() < deadline) {
    out.shed = std::all_of(clients.begin(), clients.end(), [](const transfer::UniqueFd& c) {
      return ClosedWithin(c.get(), std::chrono::milliseconds(10));
    });
  }
  // The measurement goes on for 200 ms at least (idle here), so that a server loop that
  // spins after the shed shows too.
  auto left = wall + std::chrono::milliseconds(200) - std::chrono::steady_clock::now();
  if (left.count() > 0) {
    ::poll(nullptr, 0,
           static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
  }
  out.cpu = ProcessCpuTime() - cpu;
  out.wall = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - wall);
  return out;
}

}  // namespace migrate::testing
