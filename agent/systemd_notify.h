// What the agent tells systemd (sd_notify(3), unit Type=notify): STATUS= lines while it
// starts, READY=1 once it serves, STOPPING=1 when it shuts down, and WATCHDOG=1 while its API
// server's I/O thread still runs handlers. Without $NOTIFY_SOCKET (not started by systemd, or
// not Type=notify) every call does nothing.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

namespace migrate::agent {

class SystemdWatchdog;

class SystemdNotifier {
 public:
  // Runs `ran` on the thread the watchdog vouches for (e.g. posts it to an io_context). A
  // thread that never runs it stops the petting, and systemd restarts the agent.
  using Probe = std::function<void(std::function<void()> ran)>;

  SystemdNotifier();
  ~SystemdNotifier();  // stops the watchdog thread
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  // STATUS=<text>: what `systemctl status` shows.
  void Status(std::string_view text);
  // READY=1 with STATUS=<text>; then, if the unit has WatchdogSec=, pets it every half
  // interval from a thread of its own, each time only if `probe`'s last `ran` has run.
  void Ready(std::string_view text, Probe probe);
  // STOPPING=1 and stops petting (call before the probed thread stops).
  void Stopping();

 private:
  std::unique_ptr<SystemdWatchdog> watchdog_;
};

}  // namespace migrate::agent
