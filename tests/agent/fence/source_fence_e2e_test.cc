// The real `migrate-fence source`, spawned by FenceClient: a sleeping process in a frozen v1
// freezer cgroup stands for the container, another sleeping process for CRIU, a loopback TCP
// connection for the page link, and a fresh network namespace holds a CRIU lock chain (root,
// iptables).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "agent/fence/cgroup_control.h"
#include "agent/fence/executable_path.h"
#include "agent/fence/fence_client.h"
#include "agent/fence/fence_state.h"
#include "tests/agent/fence/test_cgroup.h"
#include "tests/support/poll.h"
#include "transfer/base/unique_fd.h"

namespace migrate::fence {
namespace {

using namespace std::chrono_literals;
using testing::TestCgroup;
using transfer::UniqueFd;

constexpr char kHierarchy[] = "/sys/fs/cgroup/freezer";

// A child of ours: `sleep SECONDS`, or (netns) a process alone in a new network namespace.
class Child {
 public:
  static Child Sleep(const char* seconds) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execlp("sleep", "sleep", seconds, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return Child(pid);
  }
  static Child InNewNetns() {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(126);
      ::execlp("sleep", "sleep", "1000", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    Child child(pid);
    migrate::testing::PollUntil([&] { return child.NetnsDiffers(); }, 5s);
    return child;
  }
  Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, 0)) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string netns() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }
  bool Exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = 0;
    return true;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  bool NetnsDiffers() const {
    std::error_code a, b;
    return std::filesystem::read_symlink(netns(), a) !=
               std::filesystem::read_symlink("/proc/self/ns/net", b) &&
           !a;
  }
  pid_t pid_;
};

// A loopback TCP connection: `fence_side` with SO_LINGER {1, 0} as the agent sets it.
struct PageLink {
  UniqueFd fence_side;
  UniqueFd criu_side;
};

PageLink ConnectLoopback() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  PageLink link{UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), UniqueFd()};
  EXPECT_EQ(::connect(link.fence_side.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  link.criu_side.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  linger abort{1, 0};
  EXPECT_EQ(::setsockopt(link.fence_side.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
  return link;
}

// What the CRIU side reads next: 0 for a FIN, -errno for an error (ECONNRESET for an RST).
int ReadOutcome(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  ssize_t n = ::read(fd, &c, 1);
  return n < 0 ? -errno : static_cast<int>(n);
}

int InNetns(const Child& ns, const std::string& command) {
  return std::system(("nsenter --net=" + ns.netns() + " " + command + " >/dev/null 2>&1").c_str());
}

std::string FreezerState(const TestCgroup& cgroup) {
  std::ifstream in(cgroup.dir() + "/freezer.state");
  std::string state;
  in >> state;
  return state;
}

class SourceFenceEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = TestCgroup::Unavailable(kHierarchy);
    if (why.empty() && FindExecutable("iptables").empty()) why = "needs iptables";
    if (!why.empty()) GTEST_SKIP() << why;
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // Spawns the fence; the test's copy of the page socket is closed, so the fence holds the last.
  std::unique_ptr<FenceClient> Spawn(PageLink& link, const TestCgroup& cgroup, const Child& netns,
                                     const Child& criu) {
    FenceSpec spec{MIGRATE_FENCE_BINARY,
                   FenceRole::kSource,
                   {"--page-socket-fd", std::to_string(kFirstHandedFd), "--freezer", cgroup.dir(),
                    "--netns", netns.netns(), "--criu-pid", std::to_string(criu.pid()), "--state",
                    state_file(), "--label", "e2e-source"},
                   {link.fence_side.get()}};
    Result<std::unique_ptr<FenceClient>> client = FenceClient::Spawn(spec);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    link.fence_side.reset();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  std::string state_file() const { return (dir / "fence.json").string(); }

  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fence-source-e2e-" + std::to_string(::getpid()));
};

TEST_F(SourceFenceEndToEndTest, ResumeResetsStopsCriuUnlocksAndThaws) {
  TestCgroup cgroup(kHierarchy);
  pid_t task = cgroup.StartSleeper();
  ASSERT_TRUE(FreezeCgroup(cgroup.dir()).ok());
  Child netns = Child::InNewNetns();
  ASSERT_EQ(InNetns(netns,
                    "sh -c 'iptables -N CRIU && iptables -A CRIU -j DROP && "
                    "iptables -I INPUT -j CRIU && iptables -I OUTPUT -j CRIU'"),
            0);
  ASSERT_EQ(InNetns(netns, "iptables -w -n -L CRIU"), 0);
  Child criu = Child::Sleep("1000");
  PageLink link = ConnectLoopback();
  std::unique_ptr<FenceClient> fence = Spawn(link, cgroup, netns, criu);
  ASSERT_NE(fence, nullptr);
  ASSERT_EQ(*fence->Request("COMMIT", 5s), "COMMITTED");
  ASSERT_EQ(*fence->Request("RESUME the destination failed", 10s), "RESUMED");
  EXPECT_EQ(ReadOutcome(link.criu_side.get()), -ECONNRESET);
  EXPECT_TRUE(criu.Exited()) << "CRIU's stand-in was not killed";
  EXPECT_NE(InNetns(netns, "iptables -w -n -L CRIU"), 0) << "the CRIU chain is still there";
  EXPECT_EQ(FreezerState(cgroup), "THAWED");
  EXPECT_FALSE(cgroup.Exited(task)) << "the resumed task must live";
  EXPECT_EQ(fence->WaitForExit(5s), 0);
  EXPECT_EQ(ReadFenceState(state_file())->state, "resumed");
}

TEST_F(SourceFenceEndToEndTest, ReleaseKillsTheTasksSendsAFinAndThaws) {
  TestCgroup cgroup(kHierarchy);
  pid_t task = cgroup.StartSleeper();
  ASSERT_TRUE(FreezeCgroup(cgroup.dir()).ok());
  Child netns = Child::InNewNetns();
  Child criu = Child::Sleep("1");  // CRIU exits after the FIN
  PageLink link = ConnectLoopback();
  std::unique_ptr<FenceClient> fence = Spawn(link, cgroup, netns, criu);
  ASSERT_NE(fence, nullptr);
  ASSERT_EQ(*fence->Request("RELEASE", 15s), "RELEASED");
  EXPECT_EQ(ReadOutcome(link.criu_side.get()), 0) << "no FIN";
  EXPECT_TRUE(migrate::testing::PollUntil([&] { return cgroup.Exited(task); }, 5s));
  EXPECT_EQ(FreezerState(cgroup), "THAWED");
  EXPECT_EQ(fence->WaitForExit(5s), 0);
  EXPECT_EQ(ReadFenceState(state_file())->state, "released");
}

}  // namespace
}  // namespace migrate::fence
