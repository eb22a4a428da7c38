// The real PosixProcessRunner on harmless programs (cheap, no root needed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/resource.h>

#include <set>
#include <sstream>
#include <vector>

#include "agent/runtime/posix_process_runner.h"

namespace migrate::runtime {
namespace {

TEST(PosixProcessRunnerTest, CapturesOutputAndExitStatus) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text, "err\n");
  EXPECT_FALSE(r->Succeeded());
  EXPECT_EQ(r->Describe(), "exit status 3");
}

TEST(PosixProcessRunnerTest, ArgumentsAreNotInterpretedByAShell) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"echo", "$HOME; rm -rf /", "'quoted'"};
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, "$HOME; rm -rf / 'quoted'\n");
}

TEST(PosixProcessRunnerTest, StdinEnvAndCwd) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "cat; echo \"$MIGRATE_X\"; pwd"};
  spec.stdin_data = std::string(300000, 'a');  // more than a pipe buffer
  spec.extra_env = {"MIGRATE_X=hello"};
  spec.cwd = "/tmp";
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_text, std::string(300000, 'a') + "hello\n/tmp\n");
}

TEST(PosixProcessRunnerTest, TimeoutKills) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"sleep", "30"};
  spec.timeout = std::chrono::milliseconds(200);
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(r->duration.count(), 5000);
  Result<ProcessResult> checked = RunChecked(runner, spec);
  EXPECT_EQ(checked.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(PosixProcessRunnerTest, DoesNotWaitForADetachedGrandchildHoldingThePipe) {
  // Like `runc run -d`: the child exits, something it started keeps stdout open.
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep 5 & echo started"};
  spec.timeout = std::chrono::seconds(4);
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "started\n");
}

TEST(PosixProcessRunnerTest, ExtraFdAndSignals) {
  PosixProcessRunner runner;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo ready >&5"};
  spec.extra_fds = {{5, fds[1]}};
  Result<ProcessResult> r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  ::close(fds[1]);
  char buf[16] = {};
  EXPECT_EQ(::read(fds[0], buf, sizeof(buf)), 6);
  EXPECT_STREQ(buf, "ready\n");
  ::close(fds[0]);

  ProcessSpec killed;
  killed.argv = {"sh", "-c", "kill -9 $$"};
  Result<ProcessResult> k = runner.Run(killed);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->term_signal, 9);
  EXPECT_EQ(k->Describe(), "killed by signal 9");
}

// The agent may hold thousands of sockets (busy API port, streams); none of them may reach
// runc or CRIU: `criu check` failed with "bit out of range 0 - FD_SETSIZE on fd_set" once
// the agent held 3,000 connections. Leaked here on purpose: no close-on-exec at all.
TEST(PosixProcessRunnerTest, ChildHoldsOnlyStdioAndTheFdsMeantForIt) {
  constexpr int kLeaked = 3000;
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < kLeaked + 100) {
    GTEST_SKIP() << "RLIMIT_NOFILE " << limit.rlim_cur << " is too low for " << kLeaked << " fds";
  }
  std::vector<int> leaked;
  for (int i = 0; i < kLeaked / 2; ++i) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);  // without O_CLOEXEC
    leaked.insert(leaked.end(), {fds[0], fds[1]});
  }
  ASSERT_GT(leaked.back(), 1024) << "the leaked fds must reach past FD_SETSIZE";
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"ls", "-1", "/proc/self/fd"};  // ls opens the listed directory at fd 3
  spec.extra_fds = {{7, leaked[10]}};
  Result<ProcessResult> r = runner.Run(spec);
  for (int fd : leaked) ::close(fd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->exit_code, 0) << r->stderr_text;
  std::set<int> seen;
  std::istringstream lines(r->stdout_text);
  for (int fd; lines >> fd;) seen.insert(fd);
  EXPECT_EQ(seen, (std::set<int>{0, 1, 2, 3, 7})) << r->stdout_text;
}

TEST(PosixProcessRunnerTest, MissingProgramAndChecked) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/nonexistent/migrate-no-such-program"};
  EXPECT_EQ(runner.Run(spec).status().code(), StatusCode::kNotFound);
  spec.argv = {"sh", "-c", "echo 'runc: container does not exist' >&2; exit 1"};
  Result<ProcessResult> r = RunChecked(runner, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exit status 1"), std::string::npos);
  EXPECT_NE(r.status().message().find("container does not exist"), std::string::npos);
  EXPECT_EQ(FormatCommand({"runc", "--root", "/a b", "it's"}), "runc --root '/a b' 'it'\\''s'");
}

}  // namespace
}  // namespace migrate::runtime
