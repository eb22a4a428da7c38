#include "tests/agent/fence/test_cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "tests/support/poll.h"

namespace migrate::fence::testing {
namespace {

std::atomic<int> next_id{0};

void WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
}

}  // namespace

std::string TestCgroup::Unavailable(const std::string& hierarchy) {
  if (::geteuid() != 0) return "needs root (creates cgroups)";
  if (::access((hierarchy + "/cgroup.procs").c_str(), W_OK) != 0)
    return "no cgroup hierarchy " + hierarchy;
  return "";
}

TestCgroup::TestCgroup(const std::string& hierarchy)
    : dir_(hierarchy + "/migrate-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(next_id++)) {
  if (::mkdir(dir_.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir_);
}

TestCgroup::~TestCgroup() {
  for (pid_t pid : children_) ::kill(pid, SIGKILL);
  if (::access((dir_ + "/freezer.state").c_str(), F_OK) == 0)
    WriteFile(dir_ + "/freezer.state", "THAWED");
  if (::access((dir_ + "/cgroup.freeze").c_str(), F_OK) == 0)
    WriteFile(dir_ + "/cgroup.freeze", "0");
  for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
  // The kernel lets a cgroup go only once its last task is fully gone: retry for a while.
  migrate::testing::PollUntil([&] { return ::rmdir(dir_.c_str()) == 0 || errno == ENOENT; },
                              std::chrono::seconds(5));
}

pid_t TestCgroup::StartSleeper() {
  std::string procs = dir_ + "/cgroup.procs";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(procs.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%d", ::getpid()) < 0 || std::fclose(f) != 0) ::_exit(125);
    ::execlp("sleep", "sleep", "1000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  children_.push_back(pid);
  // Joined once it is listed in the cgroup.
  migrate::testing::PollUntil(
      [&] {
        std::ifstream in(procs);
        for (long p = 0; in >> p;)
          if (p == pid) return true;
        return false;
      },
      std::chrono::seconds(5));
  return pid;
}

bool TestCgroup::Exited(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return false;
  children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
  return true;
}

}  // namespace migrate::fence::testing
