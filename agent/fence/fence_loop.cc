#include "agent/fence/fence_loop.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "transfer/base/unique_fd.h"

namespace migrate::fence {
namespace {

// Milliseconds poll() should wait: until the deadline (rounded up), or -1 for ever.
int PollTimeout(const FenceCore& core, FenceClock& clock) {
  std::optional<int64_t> deadline = core.deadline_ns();
  if (!deadline) return -1;
  int64_t left_ns = *deadline - clock.MonotonicNs();
  if (left_ns <= 0) return 0;
  int64_t ms = (left_ns + 999'999) / 1'000'000;
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

void SendLine(int fd, std::string line) {
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::send(fd, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // the agent is gone: the read side sees EOF next
    done += static_cast<size_t>(n);
  }
}

// Reads what is there and answers every complete line. False at EOF or a read error.
class ControlReader {
 public:
  explicit ControlReader(int fd) : fd_(fd) {}

  bool Serve(FenceCore& core) {
    char chunk[1024];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n && !core.finished(); ++i) Take(core, chunk[i]);
    return true;
  }

 private:
  void Take(FenceCore& core, char c) {
    if (c != '\n') {
      if (line_.size() < kMaxControlLine)
        line_ += c;
      else
        too_long_ = true;
      return;
    }
    SendLine(fd_, too_long_ ? "ERROR line longer than " + std::to_string(kMaxControlLine) + " bytes"
                            : core.Handle(line_));
    line_.clear();
    too_long_ = false;
  }

  int fd_;
  std::string line_;
  bool too_long_ = false;
};

}  // namespace

int RunFence(FenceCore& core, FenceClock& clock, int control_fd) {
  transfer::UniqueFd control(control_fd);
  ControlReader reader(control.get());
  core.Start();
  while (true) {
    core.Tick();
    if (core.finished()) break;
    pollfd p{control.get(), POLLIN, 0};
    int n = ::poll(&p, control.get() >= 0 ? 1 : 0, PollTimeout(core, clock));
    if (n < 0 && errno != EINTR) ::usleep(10'000);  // never give up the watch: try again
    if (n <= 0 || control.get() < 0) continue;
    if (!reader.Serve(core)) {
      control.reset();
      core.OnControlClosed();
    }
  }
  return core.exit_code();
}

}  // namespace migrate::fence
