// A real cgroup for a test, under a hierarchy of this host (e.g. /sys/fs/cgroup/freezer), named
// migrate-test-<pid>-<n>, with `sleep` children in it; removed, children and all, at the end.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace migrate::fence::testing {

class TestCgroup {
 public:
  // Empty reason when the cgroup can be made here; else why not (not root, no such hierarchy).
  static std::string Unavailable(const std::string& hierarchy);

  explicit TestCgroup(const std::string& hierarchy);
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  const std::string& dir() const { return dir_; }
  // A `sleep 1000` that joined the cgroup before it exec'd.
  pid_t StartSleeper();
  // True once `pid` has exited (it is reaped).
  bool Exited(pid_t pid);

 private:
  std::string dir_;
  std::vector<pid_t> children_;
};

}  // namespace migrate::fence::testing
