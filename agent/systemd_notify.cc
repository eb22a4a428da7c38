#include "agent/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

void Send(const std::string& state) {
  const int sent = sd_notify(0, state.c_str());
  if (sent < 0) {
    MIGRATE_LOG(kWarn, "") << "systemd: cannot send " << state << ": " << std::strerror(-sent);
  }
}

}  // namespace

// Pets systemd's watchdog every `period` while the probed thread keeps running its probes.
class SystemdWatchdog {
 public:
  SystemdWatchdog(std::chrono::microseconds period, SystemdNotifier::Probe probe)
      : period_(period), probe_(std::move(probe)), thread_([this] { Run(); }) {}

  ~SystemdWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  // The flag is shared with the probe: a probe may run after this watchdog is gone.
  std::shared_ptr<std::atomic<bool>> SendProbe() {
    auto ran = std::make_shared<std::atomic<bool>>(false);
    probe_([ran] { ran->store(true); });
    return ran;
  }

  // One probe in flight at a time: a pet vouches that the thread ran within the last period.
  void Run() {
    auto ran = SendProbe();
    bool missed = false;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
      if (!ran->load()) {
        if (!missed) {
          MIGRATE_LOG(kWarn, "") << "systemd watchdog: the API I/O thread is stuck: not petting";
        }
        missed = true;
        continue;
      }
      missed = false;
      Send("WATCHDOG=1");
      ran = SendProbe();
    }
  }

  const std::chrono::microseconds period_;
  const SystemdNotifier::Probe probe_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once every other member is ready
};

SystemdNotifier::SystemdNotifier() = default;
SystemdNotifier::~SystemdNotifier() = default;

void SystemdNotifier::Status(std::string_view text) { Send("STATUS=" + std::string(text)); }

void SystemdNotifier::Ready(std::string_view text, Probe probe) {
  Send("READY=1\nSTATUS=" + std::string(text));
  uint64_t interval_us = 0;
  if (sd_watchdog_enabled(0, &interval_us) <= 0) return;
  watchdog_ = std::make_unique<SystemdWatchdog>(std::chrono::microseconds(interval_us / 2),
                                                std::move(probe));
}

void SystemdNotifier::Stopping() {
  Send("STOPPING=1\nSTATUS=stopping");
  watchdog_.reset();
}

}  // namespace migrate::agent
