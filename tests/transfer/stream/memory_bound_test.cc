// The receiver's memory per stream does not grow with the number of files it receives
// (docs/transfer.md, "Threads, backpressure, memory"). Measured for real: each run receives a
// tree in a child process of its own and reports its peak RSS (VmHWM), so that nothing else
// of the test binary is counted, and the cost per entry is the slope between two sizes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/transfer/raw_client.h"
#include "tests/transfer/test_tree.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;
using testing::RawClient;
using testing::StreamFixture;

uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kb) == 1) return kb * 1024;
  }
  return 0;
}

// Sends `files` empty files (in `dirs` directories) through a real stream; the receiver's
// peak RSS, or 0 when the stream failed.
uint64_t ReceiveAndMeasure(int dirs, int files) {
  StreamFixture fx;
  std::string token = StreamFixture::NewToken();
  ExpectedStream e = fx.Expected("tree");
  if (!fx.server().Expect(token, e).ok()) return 0;
  RawClient c(fx);
  if (!c.Connect().ok() || !c.Hello(token).ok()) return 0;
  for (int d = 0; d < dirs; ++d) {
    (void)c.Entry(c.MakeEntry("directory-" + std::to_string(d), ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
  }
  for (int f = 0; f < files; ++f) {
    std::string path =
        "directory-" + std::to_string(f % dirs) + "/a-file-named-" + std::to_string(f) + ".txt";
    if (!c.Entry(c.MakeEntry(path, ps::ENTRY_TYPE_REGULAR, 0644, 0)).ok()) return 0;
    (void)c.EntryEnd();
  }
  (void)c.Trailer();
  auto verdict = c.ReadVerdict();
  if (!verdict.ok() || verdict->code() != ps::VERDICT_CODE_COMMITTED) return 0;
  uint64_t peak = PeakRssBytes();
  testing::RemoveTree(fx.FinalDir("tree"));
  return peak;
}

// ReceiveAndMeasure in a child process (fork before any thread of this test exists).
uint64_t PeakInChild(int dirs, int files) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    // On tmpfs when there is one: ext4 spends seconds looking for recently deleted inodes
    // when hundreds of thousands of files come and go; what is measured is our memory.
    if (access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    uint64_t peak = ReceiveAndMeasure(dirs, files);
    (void)!write(fds[1], &peak, sizeof peak);
    _exit(0);
  }
  close(fds[1]);
  uint64_t peak = 0;
  if (read(fds[0], &peak, sizeof peak) != sizeof peak) peak = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return peak;
}

// MIGRATE_MEMORY_BOUND_FILES=1000000 measures the documented 1M-entry case (about a minute).
int LargeCount() {
  const char* env = std::getenv("MIGRATE_MEMORY_BOUND_FILES");
  return env != nullptr ? std::atoi(env) : 120'000;
}

TEST(MemoryBoundTest, FilesCostTheReceiverNoMemoryOnceReceived) {
  constexpr int kDirs = 100;
  const int kSmall = 20'000, kLarge = LargeCount();
  uint64_t small = PeakInChild(kDirs, kSmall);
  uint64_t large = PeakInChild(kDirs, kLarge);
  ASSERT_GT(small, 0u) << "the small stream failed";
  ASSERT_GT(large, 0u) << "the large stream failed";
  double per_file = (static_cast<double>(large) - static_cast<double>(small)) / (kLarge - kSmall);
  RecordProperty("peak_rss_small_mib", std::to_string(small >> 20));
  RecordProperty("peak_rss_large_mib", std::to_string(large >> 20));
  RecordProperty("bytes_per_file", std::to_string(per_file));
  std::printf("peak RSS: %d files %.1f MiB, %d files %.1f MiB: %.1f bytes per file\n", kSmall,
              small / 1048576.0, kLarge, large / 1048576.0, per_file);
  // The bound of docs/transfer.md: nothing is kept per regular file (a few bytes of
  // allocator noise at most).
  EXPECT_LT(per_file, 16.0);
}

// Directories are kept until the end (their metadata follows their children's): a record
// and the path each, and never more than StreamLimits::max_kept_bytes.
TEST(MemoryBoundTest, DirectoriesCostTheirRecordAndNoMore) {
  constexpr int kSmall = 5'000, kLarge = 45'000;
  uint64_t small = PeakInChild(kSmall, 0);
  uint64_t large = PeakInChild(kLarge, 0);
  ASSERT_GT(small, 0u);
  ASSERT_GT(large, 0u);
  double per_dir = (static_cast<double>(large) - static_cast<double>(small)) / (kLarge - kSmall);
  std::printf("peak RSS: %d directories %.1f MiB, %d directories %.1f MiB: %.1f bytes each\n",
              kSmall, small / 1048576.0, kLarge, large / 1048576.0, per_dir);
  EXPECT_LT(per_dir, 256.0) << "a 64-byte record, a ~16-byte path and vector growth";
}

}  // namespace
}  // namespace migrate::transfer
