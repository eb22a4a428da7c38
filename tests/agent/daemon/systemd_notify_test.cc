// SystemdNotifier against a real notify socket: sd_notify(3) sends to $NOTIFY_SOCKET, so the
// test binds a unix datagram socket there and reads exactly what systemd would receive.
#include "agent/systemd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "tests/transfer/test_pki.h"

namespace migrate::agent {
namespace {

using std::chrono::milliseconds;

class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(socket_, 0) << std::strerror(errno);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    const std::string path = dir_.Sub("notify");
    ASSERT_LT(path.size(), sizeof(address.sun_path));
    std::strcpy(address.sun_path, path.c_str());
    ASSERT_EQ(::bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
        << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }

  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    if (socket_ >= 0) ::close(socket_);
  }

  // As systemd does for WatchdogSec=: the interval, and this process as the one to watch.
  static void EnableWatchdog(std::chrono::microseconds interval) {
    ::setenv("WATCHDOG_USEC", std::to_string(interval.count()).c_str(), 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  }

  // The next message, or nothing once `timeout` passed without one.
  std::optional<std::string> Receive(milliseconds timeout) {
    pollfd readable = {socket_, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(socket_, buffer, sizeof(buffer), 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  testing::TempDir dir_;
  int socket_ = -1;
};

TEST_F(SystemdNotifyTest, SendsStatusReadyAndStopping) {
  int probes = 0;
  {
    SystemdNotifier notifier;
    notifier.Status("recovering journaled migrations");
    notifier.Ready("serving: API on port 7443", [&probes](std::function<void()>) { ++probes; });
    notifier.Stopping();
  }
  EXPECT_EQ(Receive(milliseconds(2000)), "STATUS=recovering journaled migrations");
  EXPECT_EQ(Receive(milliseconds(2000)), "READY=1\nSTATUS=serving: API on port 7443");
  EXPECT_EQ(Receive(milliseconds(2000)), "STOPPING=1\nSTATUS=stopping");
  EXPECT_EQ(probes, 0) << "no WatchdogSec=, no watchdog thread";
}

TEST_F(SystemdNotifyTest, PetsTheWatchdogWhileTheProbedThreadRuns) {
  EnableWatchdog(std::chrono::milliseconds(40));
  SystemdNotifier notifier;
  notifier.Ready("serving", [](std::function<void()> ran) { ran(); });
  EXPECT_EQ(Receive(milliseconds(2000)), "READY=1\nSTATUS=serving");
  for (int pet = 0; pet < 3; ++pet) EXPECT_EQ(Receive(milliseconds(2000)), "WATCHDOG=1") << pet;
  notifier.Stopping();
  std::optional<std::string> message;
  do {
    message = Receive(milliseconds(2000));
  } while (message == "WATCHDOG=1");  // pets sent before Stopping() may still be queued
  EXPECT_EQ(message, "STOPPING=1\nSTATUS=stopping");
  EXPECT_EQ(Receive(milliseconds(100)), std::nullopt) << "no pet after STOPPING=1";
}

TEST_F(SystemdNotifyTest, AStuckThreadStopsThePettingUntilItRunsAgain) {
  EnableWatchdog(std::chrono::milliseconds(20));  // a pet due every 10 ms
  std::mutex mutex;
  std::function<void()> queued;  // what the "I/O thread" would run, if it were not stuck
  int probes = 0;
  SystemdNotifier notifier;
  notifier.Ready("serving", [&](std::function<void()> ran) {
    std::lock_guard<std::mutex> lock(mutex);
    queued = std::move(ran);
    ++probes;
  });
  EXPECT_EQ(Receive(milliseconds(2000)), "READY=1\nSTATUS=serving");
  // Twenty periods without a pet, and no probe piled up behind the stuck one.
  EXPECT_EQ(Receive(milliseconds(200)), std::nullopt);
  std::function<void()> run;
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(probes, 1);
    run = std::move(queued);
  }
  ASSERT_TRUE(run);
  run();  // the thread runs again: the next period pets
  EXPECT_EQ(Receive(milliseconds(2000)), "WATCHDOG=1");
  notifier.Stopping();
}

}  // namespace
}  // namespace migrate::agent
