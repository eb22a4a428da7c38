#include "agent/runtime/host_stats.h"

#include <fcntl.h>
#include <sys/file.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace migrate::runtime {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    std::string pattern = (fs::temp_directory_path() / "migrate-proc-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
    fs::create_directories(root_ + "/42/net");
  }
  ~FakeProc() { fs::remove_all(root_); }
  void Write(const std::string& table, const std::string& rows) {
    std::ofstream(root_ + "/42/net/" + table)
        << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        << rows;
  }
  const std::string& root() const { return root_; }
  void WriteMeminfo(const std::string& text) { std::ofstream(root_ + "/meminfo") << text; }

 private:
  std::string root_;
};

TEST(HostStatsTest, MemAvailableComesFromMeminfo) {
  FakeProc proc;
  proc.WriteMeminfo("MemTotal:       24592852 kB\nMemFree:         1000000 kB\n"
                    "MemAvailable:   20000000 kB\nBuffers:          123 kB\n");
  EXPECT_EQ(*MemAvailableBytes(proc.root()), 20000000ULL * 1024);
  proc.WriteMeminfo("MemTotal:       24592852 kB\n");
  EXPECT_EQ(MemAvailableBytes(proc.root()).status().code(), StatusCode::kNotFound);
  EXPECT_GT(*MemAvailableBytes(), 0u) << "this machine's own";
}

// Lines as the kernel prints them: a listener (0A), two established (01), a TIME_WAIT (06).
// A child holding something under `dir` (an open directory, a file below it, or its working
// directory) until it is killed.
pid_t Hold(const std::string& dir, const std::string& what) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own group: killed with whatever it started
    if (what == "fd" && open(dir.c_str(), O_RDONLY | O_DIRECTORY) < 0) _exit(126);
    if (what == "file" && open((dir + "/sub/pages-1.img").c_str(), O_WRONLY) < 0) _exit(126);
    if (what == "cwd" && chdir((dir + "/sub").c_str()) != 0) _exit(126);
    if (what == "argv") {  // like runc checkpoint --image-path DIR: named, not opened
      // `read` is a builtin: no forked child that shows the same command line while it
      // execs. It blocks for ever on a pipe whose write end the shell itself holds.
      int fds[2];
      if (pipe(fds) != 0 || dup2(fds[0], 0) < 0) _exit(126);
      execl("/bin/sh", "sh", "-c", "read x", (dir + "/sub").c_str(),
            static_cast<char*>(nullptr));
    }
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST(HostStatsTest, ProcessesUsingFindsOpenDirectoriesFilesWorkingDirectoriesAndArguments) {
  std::string pattern = (fs::temp_directory_path() / "migrate-using-XXXXXX").string();
  const std::string dir = mkdtemp(pattern.data());
  fs::create_directories(dir + "/sub");
  std::ofstream(dir + "/sub/pages-1.img") << "pages";
  const std::string sibling = dir + "-other";  // shares the prefix, is not below `dir`
  fs::create_directories(sibling);
  for (const std::string what : {"fd", "file", "cwd", "argv"}) {
    pid_t holder = Hold(dir, what);
    ASSERT_GT(holder, 0);
    pid_t other = Hold(sibling, "fd");
    std::vector<int> pids;
    for (int i = 0; i < 100; ++i) {  // until the children have opened what they hold
      auto found = ProcessesUsing(dir + "/");
      ASSERT_TRUE(found.ok()) << found.status().ToString();
      pids = *found;
      if (!pids.empty()) break;
      usleep(10000);
    }
    EXPECT_EQ(pids, std::vector<int>{holder}) << what;
    for (pid_t p : {holder, other}) {
      kill(-p, SIGKILL);
      kill(p, SIGKILL);
    }
    int status = 0;
    waitpid(holder, &status, 0);
    waitpid(other, &status, 0);
    auto after = ProcessesUsing(dir);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->empty()) << what;
  }
  EXPECT_EQ(ProcessesUsing("relative/path").status().code(), StatusCode::kInvalidArgument);
  fs::remove_all(dir);
  fs::remove_all(sibling);
}

TEST(HostStatsTest, CountsEstablishedTcpConnectionsInBothTables) {
  FakeProc proc;
  proc.Write("tcp",
             "   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
             "   1: 0100007F:1388 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0\n"
             "   2: 0100007F:A1B2 0100007F:1388 06 00000000:00000000 00:00000000 00000000     0\n");
  proc.Write("tcp6",
             "   0: 00000000000000000000000001000000:1388 00000000000000000000000001000000:C000 01 "
             "00000000:00000000 00:00000000 00000000     0\n");
  Result<int> n = EstablishedTcpConnections(42, proc.root());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);
}

TEST(HostStatsTest, NoConnectionsIsZeroAndAMissingProcessIsAnError) {
  FakeProc proc;
  proc.Write("tcp", "");
  Result<int> n = EstablishedTcpConnections(42, proc.root());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_FALSE(EstablishedTcpConnections(43, proc.root()).ok());
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

TEST(HostStatsTest, StoppedTasksAndFileLocksOfRealProcesses) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t locker = fork();
  if (locker == 0) {
    close(ready[0]);
    const std::string path = fs::temp_directory_path() / ("migrate-lock-" + std::to_string(getpid()));
    int fd = open(path.c_str(), O_CREAT | O_RDWR, 0600);
    unlink(path.c_str());
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(1);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  EXPECT_EQ(*FileLocksHeld({locker}), 1);
  EXPECT_EQ(*FileLocksHeld({static_cast<int>(getpid())}), 0);
  EXPECT_TRUE(StoppedTasks({locker})->empty());
  kill(locker, SIGSTOP);
  std::vector<int> stopped;
  for (int i = 0; i < 200 && stopped.empty(); ++i) {  // until the kernel has stopped it
    stopped = *StoppedTasks({locker});
    if (stopped.empty()) usleep(5000);
  }
  EXPECT_EQ(stopped, std::vector<int>{locker});
  kill(locker, SIGKILL);
  waitpid(locker, nullptr, 0);
}

}  // namespace
}  // namespace migrate::runtime
