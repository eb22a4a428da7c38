#include "agent/runtime/host_stats.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
  // Locks on descriptors this test inherited (e.g. from `flock LOCKFILE ctest`) are held by
  // both processes: the child holds exactly one more than this process.
  const int inherited = *FileLocksHeld({static_cast<int>(getpid())});
  EXPECT_EQ(*FileLocksHeld({locker}), inherited + 1);
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

namespace migrate::runtime {
namespace {

// A child that runs `setup`, tells the parent, and waits to be killed (its own process
// group: killed with whatever it started). -1 when the setup failed.
template <typename Setup>
pid_t ChildAfter(Setup setup) {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    setpgid(0, 0);
    if (!setup(ready[1])) _exit(1);
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
  }
  close(ready[1]);
  char byte;
  const bool ok = read(ready[0], &byte, 1) == 1;
  close(ready[0]);
  if (!ok) {
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

void KillGroup(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Polls `find` until it returns a non-empty list (the kernel may take a moment), at most 1 s.
template <typename Find>
std::vector<int> Eventually(Find find) {
  std::vector<int> found;
  for (int i = 0; i < 200 && found.empty(); ++i) {
    found = *find();
    if (found.empty()) usleep(5000);
  }
  return found;
}

const std::vector<int> kSelf = {static_cast<int>(getpid())};

TEST(HostStatsTest, TracedTasksOfRealProcesses) {
  pid_t child = ChildAfter([](int) { return true; });
  ASSERT_GT(child, 0);
  EXPECT_TRUE(TracedTasks({child})->empty());
  ASSERT_EQ(ptrace(PTRACE_SEIZE, child, nullptr, nullptr), 0) << strerror(errno);
  EXPECT_EQ(Eventually([&] { return TracedTasks({child}); }), std::vector<int>{child});
  KillGroup(child);
}

TEST(HostStatsTest, VforkParentsOfRealProcesses) {
  // The child vforks; the vforked grandchild tells the parent and waits, so the child waits
  // in vfork until the group is killed.
  pid_t child = ChildAfter([](int ready) {
    if (vfork() == 0) {
      (void)!write(ready, "x", 1);
      for (;;) pause();
    }
    return false;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(Eventually([&] { return VforkParents({child}); }), std::vector<int>{child});
  EXPECT_TRUE(VforkParents(kSelf)->empty());
  KillGroup(child);
}

TEST(HostStatsTest, PendingSignalsOfRealProcesses) {
  pid_t child = ChildAfter([](int) {
    sigset_t trap;
    sigemptyset(&trap);
    sigaddset(&trap, SIGTRAP);
    return sigprocmask(SIG_BLOCK, &trap, nullptr) == 0 && kill(getpid(), SIGTRAP) == 0;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(*TasksWithPendingSignal({child}, SIGTRAP), std::vector<int>{child});
  EXPECT_TRUE(TasksWithPendingSignal({child}, SIGUSR1)->empty());
  EXPECT_TRUE(TasksWithPendingSignal(kSelf, SIGTRAP)->empty());
  EXPECT_EQ(TasksWithPendingSignal(kSelf, 0).status().code(), StatusCode::kInvalidArgument);
  KillGroup(child);
}

TEST(HostStatsTest, TasksWithOtherIdsOfRealProcesses) {
  EXPECT_TRUE(TasksWithOtherIds(kSelf, getuid(), getgid())->empty());
  EXPECT_FALSE(TasksWithOtherIds(kSelf, getuid() + 1, getgid())->empty());
  EXPECT_FALSE(TasksWithOtherIds(kSelf, getuid(), getgid() + 1)->empty());
  if (geteuid() != 0) GTEST_SKIP() << "a child of another uid needs root";
  pid_t child = ChildAfter([](int) {  // the saved ids alone differ
    return setresgid(0, 0, 4321) == 0 && setresuid(0, 0, 4321) == 0;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(*TasksWithOtherIds({child}, 0, 0), std::vector<int>{child});
  EXPECT_EQ(*TasksWithOtherIds({child}, 4321, 4321), std::vector<int>{child});  // real ids: 0
  KillGroup(child);
}

TEST(HostStatsTest, TasksWithChildTimeNamespaceOfRealProcesses) {
  EXPECT_TRUE(TasksWithChildTimeNamespace(kSelf)->empty());
  pid_t child = ChildAfter([](int) { return unshare(CLONE_NEWTIME) == 0; });
  if (child < 0) GTEST_SKIP() << "unshare(CLONE_NEWTIME) not allowed here";
  EXPECT_EQ(*TasksWithChildTimeNamespace({child}), std::vector<int>{child});
  KillGroup(child);
}

TEST(HostStatsTest, QueuedNotifyEventsOfRealProcesses) {
  const std::string dir = (fs::temp_directory_path() / ("migrate-inotify-" + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  // A child watching a folder of its own: with an event queued (a file created after the
  // watch) or without.
  auto watcher = [&](bool queue) {
    const std::string watched = dir + (queue ? "/queued" : "/idle");
    fs::create_directories(watched);
    return ChildAfter([&, watched, queue](int) {
      const int fd = inotify_init1(IN_NONBLOCK);
      if (fd < 0 || inotify_add_watch(fd, watched.c_str(), IN_CREATE) < 0) return false;
      return !queue || std::ofstream(watched + "/created").good();
    });
  };
  pid_t idle = watcher(false);
  ASSERT_GT(idle, 0);
  pid_t queued = watcher(true);
  ASSERT_GT(queued, 0);
  EXPECT_EQ(*TasksWithQueuedNotifyEvents({idle, queued}), std::vector<int>{queued});
  EXPECT_TRUE(TasksWithQueuedNotifyEvents(kSelf)->empty());
  EXPECT_TRUE(TasksWithQueuedNotifyEvents({999999999})->empty());  // vanished
  KillGroup(idle);
  KillGroup(queued);
  fs::remove_all(dir);
}

TEST(HostStatsTest, EffectiveCapabilitiesFromStatus) {
  FakeProc proc;
  fs::create_directories(proc.root() + "/self");
  std::ofstream(proc.root() + "/self/status") << "Name:\tx\nCapEff:\t0000000001000000\n";
  EXPECT_TRUE(*HasEffectiveCapability(24, proc.root()));   // CAP_SYS_RESOURCE
  EXPECT_FALSE(*HasEffectiveCapability(23, proc.root()));  // CAP_SYS_NICE
  EXPECT_EQ(HasEffectiveCapability(64, proc.root()).status().code(), StatusCode::kInvalidArgument);
  std::ofstream(proc.root() + "/self/status") << "Name:\tx\n";
  EXPECT_FALSE(HasEffectiveCapability(24, proc.root()).ok());
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// Real leases and a real flock in one task: the write lease is listed with its pid and file;
// the read lease and the lock are not.
TEST(HostStatsTest, FileLeasesOfARealProcessNameThePidAndTheFile) {
  const std::string leased = fs::temp_directory_path() / ("migrate-lease-" + std::to_string(getpid()));
  const std::string locked = leased + ".lock";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = fork();
  if (holder == 0) {
    close(ready[0]);
    int fd = open(leased.c_str(), O_CREAT | O_RDONLY, 0600);
    int lock = open(locked.c_str(), O_CREAT | O_RDONLY, 0600);
    if (fd < 0 || lock < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) != 0 ||
        fcntl(lock, F_SETLEASE, F_RDLCK) != 0 || flock(lock, LOCK_EX) != 0) {
      _exit(1);
    }
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child could not take its lease";
  close(ready[0]);
  const std::vector<std::string> leases = WriteLeasesHeld({holder});
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].rfind("pid " + std::to_string(holder) + ": WRITE lease on " + leased + " (fd ", 0),
            0u)
      << leases[0];
  EXPECT_TRUE(WriteLeasesHeld({static_cast<int>(getpid())}).empty());
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  fs::remove(leased);
  fs::remove(locked);
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// Device nodes are found and named relative to the tree; a symlink to one is not followed.
TEST(HostStatsTest, ScanTreeFindsDeviceNodesAndFollowsNoSymlink) {
  std::string pattern = (fs::temp_directory_path() / "migrate-scan-XXXXXX").string();
  const std::string root = mkdtemp(pattern.data());
  fs::create_directories(root + "/rootfs/dev");
  ASSERT_EQ(mknod((root + "/rootfs/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(mknod((root + "/rootfs/dev/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);
  std::ofstream(root + "/rootfs/file") << "12345";
  fs::create_symlink("/dev", root + "/rootfs/hostdev");
  Result<TreeScan> scan = ScanTree(root, 1);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  EXPECT_EQ(scan->device_node_count, 2u);
  ASSERT_EQ(scan->device_nodes.size(), 1u) << "listed up to max_listed";
  EXPECT_EQ(scan->device_nodes[0].rfind("rootfs/dev/", 0), 0u) << scan->device_nodes[0];
  EXPECT_EQ(*TreeBytes(root), scan->bytes);
  EXPECT_TRUE(ScanTree(root + "/rootfs/file").ok());
  fs::remove_all(root);
}

}  // namespace
}  // namespace migrate::runtime
