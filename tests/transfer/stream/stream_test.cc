// The data stream end to end over loopback: real TLS, real zstd, real files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "tests/support/poll.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

using testing::CompareTrees;
using testing::CountEntries;
using testing::Exists;
using testing::MakeSampleTree;
using testing::StreamFixture;

constexpr auto kWait = std::chrono::seconds(60);

Result<TransferStats> WaitFor(StreamServer& server, const std::string& token) {
  return server.Wait(token, Clock::now() + kWait);
}

// A growing source over a new folder fx.dir()/`dir`, holding `before` (name -> text: files
// there before the watch starts) and following `follow`, and a token the receiver expects
// for a stream into FinalDir(`final_name`). `source` is null when the watch failed.
struct GrowingStream {
  std::string src;
  std::unique_ptr<GrowingDirectorySource> source;
  std::string token;

  // SendTree from the source to the fixture's receiver, on another thread.
  std::future<Result<TransferStats>> Send(StreamFixture& fx, const CancelFlag* cancel = nullptr) {
    return std::async(std::launch::async,
                      [this, &fx, cancel] { return SendTree(fx.Send(token), *source, cancel); });
  }
};
GrowingStream PrepareGrowing(StreamFixture& fx, const std::string& dir,
                             const std::string& final_name,
                             const std::map<std::string, std::string>& before = {},
                             std::vector<std::string> follow = {}) {
  GrowingStream g;
  g.src = fx.dir().Sub(dir);
  EXPECT_EQ(mkdir(g.src.c_str(), 0755), 0);
  for (const auto& [name, text] : before) testing::WriteTextFile(g.src + "/" + name, text);
  auto source = GrowingDirectorySource::Open(g.src, std::move(follow));
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (source.ok()) g.source = std::move(*source);
  g.token = StreamFixture::NewToken();
  EXPECT_TRUE(fx.server().Expect(g.token, fx.Expected(final_name)).ok());
  return g;
}

// The stream `token` failed on the receiver: nothing in FinalDir(`name`), nothing in staging.
void ExpectNothingReceived(StreamFixture& fx, const std::string& token, const std::string& name) {
  EXPECT_FALSE(WaitFor(fx.server(), token).ok());
  EXPECT_FALSE(Exists(fx.FinalDir(name)));
  EXPECT_EQ(CountEntries(fx.staging()), 0u);
}

// Polls the receiver's progress on `token` until `reached` holds; false after kWait.
bool AwaitProgress(StreamFixture& fx, const std::string& token,
                   const std::function<bool(const ProgressSnapshot&)>& reached) {
  const auto deadline = Clock::now() + kWait;
  for (;;) {
    auto p = fx.server().Progress(token);
    if (p.ok() && reached(*p)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Creates `src`/pages-1.img (a followed file), appends 1 MiB and waits until the receiver
// has it; returns the still open descriptor (-1 on failure).
int AppendFirstMiB(StreamFixture& fx, const std::string& src, const std::string& token) {
  int fd = open((src + "/pages-1.img").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const std::string piece(1 << 20, 'p');
  if (write(fd, piece.data(), piece.size()) != static_cast<ssize_t>(piece.size()) ||
      !AwaitProgress(fx, token, [](const ProgressSnapshot& p) { return p.raw_bytes >= 1 << 20; })) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(StreamTest, RoundTripPreservesTheTree) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/false);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("tree")).ok());

  DirectoryTreeSource source(src);
  TransferProgress progress;
  SendOptions opts = fx.Send(token);
  opts.progress = &progress;
  auto sent = SendTree(opts, source);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  auto received = WaitFor(fx.server(), token);
  ASSERT_TRUE(received.ok()) << received.status().ToString();

  // Zero pages inside chunks were not sent nor written: until something reads them into the
  // page cache they are holes to SEEK_DATA (pages 0, 3, 6... of mixed.img are zero), and the
  // file takes no more space than the chunk that was sent.
  {
    std::string mixed = fx.FinalDir("tree") + "/bin/mixed.img";
    int fd = open(mixed.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    struct stat st;
    EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 4096);
    EXPECT_EQ(lseek(fd, 4096, SEEK_HOLE), 3 * 4096);
    EXPECT_EQ(lseek(fd, 3 * 4096, SEEK_DATA), 4 * 4096);
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_LE(st.st_blocks * 512, 301 * 4096 + 4096);
    close(fd);
  }
  EXPECT_EQ(CompareTrees(src, fx.FinalDir("tree")), "");
  EXPECT_EQ(CountEntries(fx.staging()), 0u) << "staging not cleaned";
  EXPECT_EQ(sent->files, received->files);
  EXPECT_EQ(sent->raw_bytes, received->raw_bytes);
  EXPECT_EQ(sent->wire_bytes, received->wire_bytes);
  EXPECT_EQ(sent->files, 18u);
  EXPECT_EQ(progress.files.load(), sent->files);
  EXPECT_EQ(progress.raw_bytes.load(), sent->raw_bytes);
  auto p = fx.server().Progress(token);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->files, received->files);
  EXPECT_EQ(p->raw_bytes, received->raw_bytes);

  // The 256 MiB sparse file stays sparse and cost (almost) nothing on the wire.
  struct stat st;
  ASSERT_EQ(stat((fx.FinalDir("tree") + "/bin/sparse.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 256ll << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  EXPECT_LT(sent->wire_bytes, 8u << 20) << "random 5 MiB + text + 12 KiB of sparse data";
  // The final directory is the staged one: owner-only until metadata, then the source's.
  ASSERT_EQ(stat((fx.FinalDir("tree") + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

// A FIFO in a container's root file system is part of it: a restore of a process that holds
// it open needs it there ("Can't open fake fifo"). It must arrive, never be dropped.
TEST(StreamTest, FifoInABundleArrives) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((src + "/run").c_str(), 0755), 0);
  ASSERT_EQ(mkfifo((src + "/run/ctl.fifo").c_str(), 0620), 0);
  ASSERT_EQ(chmod((src + "/run/ctl.fifo").c_str(), 0620), 0);
  ASSERT_EQ(lchown((src + "/run/ctl.fifo").c_str(), 1234, 5678), 0);
  testing::WriteTextFile(src + "/run/after", "after the fifo\n");
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("fifo")).ok());
  DirectoryTreeSource source(src);
  auto sent = SendTree(fx.Send(token), source);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), token).ok());
  struct stat st;
  ASSERT_EQ(lstat((fx.FinalDir("fifo") + "/run/ctl.fifo").c_str(), &st), 0)
      << "the FIFO was dropped";
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(sent->files, 3u);
  EXPECT_EQ(CompareTrees(src, fx.FinalDir("fifo")), "");
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(StreamTest, IdleServerUsesNoCpuAfterAStream) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("idle")).ok());
  DirectoryTreeSource source(src);
  ASSERT_TRUE(SendTree(fx.Send(token), source).ok());
  ASSERT_TRUE(WaitFor(fx.server(), token).ok());
  // A measurement window, not synchronisation: an idle server must not spin.
  double before = ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LT(ProcessCpuSeconds() - before, 0.1) << "the idle stream server burns CPU";
}

TEST(StreamTest, ZeroFilledFilesCostNoWireBytes) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  // 64 MiB of real (allocated) zeros: sent as holes, received sparse.
  testing::WriteTextFile(src + "/zeros", std::string(64u << 20, '\0'));
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("zeros")).ok());
  DirectoryTreeSource source(src);
  auto sent = SendTree(fx.Send(token), source);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), token).ok());
  EXPECT_LT(sent->wire_bytes, 4096u);
  EXPECT_EQ(CompareTrees(src, fx.FinalDir("zeros")), "");
  struct stat st;
  ASSERT_EQ(stat((fx.FinalDir("zeros") + "/zeros").c_str(), &st), 0);
  EXPECT_EQ(st.st_blocks, 0);
}

TEST(StreamTest, FsyncOptionCommitsTheSameTree) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ExpectedStream expected = fx.Expected("synced");
  expected.fsync = true;
  ASSERT_TRUE(fx.server().Expect(token, expected).ok());
  DirectoryTreeSource source(src);
  SendOptions opts = fx.Send(token);
  opts.compress_threads = 1;
  opts.zstd_level = 3;
  auto sent = SendTree(opts, source);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), token).ok());
  EXPECT_EQ(CompareTrees(src, fx.FinalDir("synced")), "");
}

TEST(StreamTest, TokenIsOneTime) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("once")).ok());
  {
    DirectoryTreeSource source(src);
    ASSERT_TRUE(SendTree(fx.Send(token), source).ok());
  }
  DirectoryTreeSource again(src);
  auto second = SendTree(fx.Send(token), again);
  EXPECT_EQ(second.status().code(), StatusCode::kPermissionDenied) << second.status().ToString();
  EXPECT_NE(second.status().message().find("already used"), std::string::npos);
  EXPECT_EQ(fx.server().Expect(token, fx.Expected("twice")).code(), StatusCode::kAlreadyExists);
}

// Counts what a StreamObserver is told, for the tests below.
class CountingObserver final : public StreamObserver {
 public:
  void StreamStarted(StreamDirection d) override {
    std::lock_guard<std::mutex> lock(mu);
    ++started[d];
  }
  void StreamEnded(StreamDirection d, const TransferStats& stats) override {
    std::lock_guard<std::mutex> lock(mu);
    ++ended[d];
    raw[d] += stats.raw_bytes;
    wire[d] += stats.wire_bytes;
  }
  void ConnectionRefused(std::string_view reason) override {
    std::lock_guard<std::mutex> lock(mu);
    refused.emplace_back(reason);
  }
  std::mutex mu;
  std::map<StreamDirection, int> started, ended;
  std::map<StreamDirection, uint64_t> raw, wire;
  std::vector<std::string> refused;
};

TEST(StreamTest, ObserversSeeEachStreamAndItsBytesOnBothSides) {
  CountingObserver receiver;
  StreamFixture fx([&](StreamServerOptions& o) { o.observer = &receiver; });
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("tree")).ok());
  CountingObserver sender;
  SendOptions opts = fx.Send(token);
  opts.observer = &sender;
  DirectoryTreeSource source(src);
  auto sent = SendTree(opts, source);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), token).ok());
  EXPECT_EQ(sender.started[StreamDirection::kSend], 1);
  EXPECT_EQ(sender.ended[StreamDirection::kSend], 1);
  EXPECT_EQ(sender.raw[StreamDirection::kSend], sent->raw_bytes);
  EXPECT_EQ(sender.wire[StreamDirection::kSend], sent->wire_bytes);
  std::lock_guard<std::mutex> lock(receiver.mu);  // Wait() returned: the receiver told all
  EXPECT_EQ(receiver.started[StreamDirection::kReceive], 1);
  EXPECT_EQ(receiver.ended[StreamDirection::kReceive], 1);
  EXPECT_EQ(receiver.raw[StreamDirection::kReceive], sent->raw_bytes);
  EXPECT_EQ(receiver.wire[StreamDirection::kReceive], sent->wire_bytes)
      << "both sides count the same frames";
  EXPECT_TRUE(receiver.refused.empty());
}

TEST(StreamTest, ObserversSeeRefusalsAndFailedStreams) {
  CountingObserver receiver;
  StreamFixture fx([&](StreamServerOptions& o) { o.observer = &receiver; });
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  DirectoryTreeSource source(src);
  CountingObserver sender;
  SendOptions opts = fx.Send(StreamFixture::NewToken());  // a token nobody expects
  opts.observer = &sender;
  EXPECT_FALSE(SendTree(opts, source).ok());
  EXPECT_EQ(sender.started[StreamDirection::kSend], 1);
  EXPECT_EQ(sender.ended[StreamDirection::kSend], 1) << "a failed stream ends too";
  ASSERT_TRUE(migrate::testing::PollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(receiver.mu);
        return !receiver.refused.empty();
      },
      std::chrono::seconds(10)));
  std::lock_guard<std::mutex> lock(receiver.mu);
  EXPECT_EQ(receiver.refused, std::vector<std::string>{"peer"});
  EXPECT_EQ(receiver.started[StreamDirection::kReceive], 0);
}

TEST(StreamTest, UnknownTokenIsRefused) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  DirectoryTreeSource source(src);
  auto sent = SendTree(fx.Send(StreamFixture::NewToken()), source);
  EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(sent.status().message().find("unknown stream token"), std::string::npos)
      << sent.status().ToString();
}

TEST(StreamTest, SenderWithAnotherNodeNameIsRefusedAndTokenKept) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("named")).ok());
  // node-c has a valid certificate from the same CA, but is not the expected source.
  auto ctx = tls::MakeClientContext(fx.pki().Issue("node-c"));
  ASSERT_TRUE(ctx.ok());
  SendOptions opts = fx.Send(token);
  opts.tls = *ctx;
  DirectoryTreeSource source(src);
  auto sent = SendTree(opts, source);
  EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied) << sent.status().ToString();
  EXPECT_FALSE(Exists(fx.FinalDir("named")));
  // The right node can still use the token.
  DirectoryTreeSource again(src);
  auto ok = SendTree(fx.Send(token), again);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(StreamTest, ControllerCertificateCannotSendData) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ExpectedStream expected = fx.Expected("ctl");
  expected.expected_peer_node_name = "ctl";
  ASSERT_TRUE(fx.server().Expect(token, expected).ok());
  auto ctx = tls::MakeClientContext(fx.pki().Issue("ctl", tls::Role::kController));
  ASSERT_TRUE(ctx.ok());
  SendOptions opts = fx.Send(token);
  opts.tls = *ctx;
  DirectoryTreeSource source(src);
  auto sent = SendTree(opts, source);
  EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied) << sent.status().ToString();
}

TEST(StreamTest, ServerNameMismatchStopsTheSender) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("x")).ok());
  SendOptions opts = fx.Send(token);
  opts.server_name = "node-z";
  DirectoryTreeSource source(src);
  auto sent = SendTree(opts, source);
  EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied) << sent.status().ToString();
  EXPECT_EQ(fx.server().Wait(token, Clock::now() + std::chrono::milliseconds(50)).status().code(),
            StatusCode::kDeadlineExceeded);
}

TEST(StreamTest, CancelBeforeConnectRefusesTheStream) {
  StreamFixture fx;
  std::string src = fx.dir().Sub("src");
  MakeSampleTree(src, /*small=*/true);
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("c")).ok());
  fx.server().Cancel(token);
  EXPECT_EQ(WaitFor(fx.server(), token).status().code(), StatusCode::kAborted);
  DirectoryTreeSource source(src);
  EXPECT_EQ(SendTree(fx.Send(token), source).status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(Exists(fx.FinalDir("c")));
}

TEST(StreamTest, CancelWhileStreamingLeavesNothing) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "src", "cancelled", {{"first", "complete\n"}});
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  // Wait until the first file has arrived in staging, then cancel on the receiver.
  ASSERT_TRUE(AwaitProgress(fx, g.token, [](const ProgressSnapshot& p) { return p.files >= 1; }));
  EXPECT_EQ(CountEntries(fx.staging()), 1u) << "a staging tree while streaming";
  fx.server().Cancel(g.token);
  auto received = WaitFor(fx.server(), g.token);
  EXPECT_EQ(received.status().code(), StatusCode::kAborted) << received.status().ToString();
  EXPECT_FALSE(Exists(fx.FinalDir("cancelled")));
  EXPECT_EQ(CountEntries(fx.staging()), 0u);
  auto sent = sender.get();
  EXPECT_FALSE(sent.ok());
}

TEST(StreamTest, SenderCancelFlagStopsTheTransfer) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "src", "sender-cancel");
  ASSERT_TRUE(g.source);
  CancelFlag cancel;
  auto sender = g.Send(fx, &cancel);
  auto deadline = Clock::now() + kWait;
  while (Clock::now() < deadline && CountEntries(fx.staging()) == 0) std::this_thread::yield();
  cancel.Cancel();
  auto sent = sender.get();
  EXPECT_EQ(sent.status().code(), StatusCode::kAborted) << sent.status().ToString();
  auto received = WaitFor(fx.server(), g.token);
  EXPECT_FALSE(received.ok());
  EXPECT_FALSE(Exists(fx.FinalDir("sender-cancel")));
  EXPECT_EQ(CountEntries(fx.staging()), 0u);
}

TEST(StreamTest, GrowingDirectoryIsStreamedWhileWritten) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "images", {{"inventory.img", "before\n"}});
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  // The producer: writes files one after another; each must reach the receiver before the
  // producer is done (streaming does not wait for the whole directory).
  for (int i = 0; i < 5; ++i) {
    std::string name = g.src + "/pages-" + std::to_string(i) + ".img";
    testing::WriteRandomFile(name, (1u << 20) + static_cast<uint64_t>(i) * 4096, 100 + i);
    const uint64_t want = static_cast<uint64_t>(i) + 2;
    ASSERT_TRUE(
        AwaitProgress(fx, g.token, [&](const ProgressSnapshot& p) { return p.files >= want; }))
        << "file " << i << " not streamed while producing";
  }
  ASSERT_EQ(mkdir((g.src + "/sub").c_str(), 0700), 0);
  testing::WriteTextFile(g.src + "/sub/late.img", "late\n");
  ASSERT_EQ(symlink("pages-0.img", (g.src + "/link").c_str()), 0);
  g.source->MarkProducerDone();
  auto sent = sender.get();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), g.token).ok());
  EXPECT_EQ(sent->files, 9u);
  EXPECT_EQ(CompareTrees(g.src, fx.FinalDir("images")), "");
}

// A followed file (pages-*.img) is streamed while its producer still appends to it: the
// receiver has most of it before the producer closes it, and the result is exact (size,
// zero pages, a short last chunk, mtime).
TEST(StreamTest, FollowedFileIsStreamedWhileItIsAppended) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "followed", {}, {"pages-*.img"});
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);

  const std::string pages = g.src + "/pages-1.img";
  int fd = open(pages.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  const std::string pagemap = "written and closed while pages grow\n";
  testing::WriteTextFile(g.src + "/pagemap-1.img", pagemap);
  std::string piece(1 << 20, '\0');
  uint64_t written = 0;
  for (int i = 0; i < 8; ++i) {
    for (size_t j = 0; j < piece.size(); ++j) piece[j] = static_cast<char>('a' + (i * 7 + j) % 26);
    if (i == 3) std::fill(piece.begin(), piece.end(), '\0');  // an all-zero chunk: a hole
    if (i == 5) std::fill(piece.begin() + 4096, piece.begin() + 3 * 4096, '\0');  // zero pages
    ASSERT_EQ(write(fd, piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
    written += piece.size();
    // Every whole chunk reaches the receiver while the file is still open.
    const uint64_t want = written - (i >= 3 ? (1u << 20) : 0);  // chunk 3 is a hole
    ASSERT_TRUE(
        AwaitProgress(fx, g.token, [&](const ProgressSnapshot& p) { return p.raw_bytes >= want; }))
        << "chunk " << i << " not streamed while appending";
  }
  ASSERT_EQ(write(fd, "short tail", 10), 10);
  ASSERT_EQ(close(fd), 0);
  g.source->MarkProducerDone();
  auto sent = sender.get();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitFor(fx.server(), g.token).ok());
  EXPECT_EQ(sent->files, 2u);
  EXPECT_EQ(sent->raw_bytes, 7u * (1 << 20) + 10 + pagemap.size());  // the zero chunk: a hole
  EXPECT_EQ(CompareTrees(g.src, fx.FinalDir("followed")), "");
  struct stat st;
  ASSERT_EQ(stat((fx.FinalDir("followed") + "/pages-1.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8ll * (1 << 20) + 10);
}

TEST(StreamTest, ProducerFailingWhileAFileIsFollowedLeavesNothing) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "failed", {}, {"pages-*.img"});
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  const int fd = AppendFirstMiB(fx, g.src, g.token);
  ASSERT_GE(fd, 0);
  g.source->MarkProducerFailed("criu dump exited with 1");
  auto sent = sender.get();
  EXPECT_EQ(sent.status().code(), StatusCode::kAborted) << sent.status().ToString();
  EXPECT_NE(sent.status().message().find("criu dump exited with 1"), std::string::npos);
  close(fd);
  ExpectNothingReceived(fx, g.token, "failed");
}

// Cancelling the sender while it follows a file that never closes ends the stream at once.
TEST(StreamTest, CancelWhileFollowingAFileStopsPromptly) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "cancel-follow", {}, {"pages-*.img"});
  ASSERT_TRUE(g.source);
  CancelFlag cancel;
  auto sender = g.Send(fx, &cancel);
  const int fd = AppendFirstMiB(fx, g.src, g.token);
  ASSERT_GE(fd, 0);
  auto cancelled_at = Clock::now();
  cancel.Cancel();
  auto sent = sender.get();
  EXPECT_LT(Clock::now() - cancelled_at, std::chrono::seconds(10)) << "the sender kept following";
  EXPECT_EQ(sent.status().code(), StatusCode::kAborted) << sent.status().ToString();
  close(fd);
  ExpectNothingReceived(fx, g.token, "cancel-follow");
}

TEST(StreamTest, FileChangedAfterSendingFailsTheStream) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "changed");
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  testing::WriteTextFile(g.src + "/core.img", "version 1\n");
  ASSERT_TRUE(AwaitProgress(fx, g.token, [](const ProgressSnapshot& p) { return p.files >= 1; }));
  testing::WriteTextFile(g.src + "/core.img", "version 2, longer\n");  // rewritten after sending
  g.source->MarkProducerDone();
  auto sent = sender.get();
  EXPECT_EQ(sent.status().code(), StatusCode::kFailedPrecondition) << sent.status().ToString();
  ExpectNothingReceived(fx, g.token, "changed");
}

TEST(StreamTest, ProducerFailureAbortsTheStream) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "images", "failed");
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  testing::WriteTextFile(g.src + "/a.img", "a\n");
  g.source->MarkProducerFailed("criu dump exited 1");
  auto sent = sender.get();
  EXPECT_EQ(sent.status().code(), StatusCode::kAborted);
  EXPECT_NE(sent.status().message().find("criu dump exited 1"), std::string::npos);
  EXPECT_FALSE(WaitFor(fx.server(), g.token).ok());
  EXPECT_FALSE(Exists(fx.FinalDir("failed")));
}

TEST(StreamTest, ExpectValidatesItsArguments) {
  StreamFixture fx;
  EXPECT_EQ(fx.server().Expect("short", fx.Expected("a")).code(), StatusCode::kInvalidArgument);
  ExpectedStream e = fx.Expected("a");
  e.staging_dir = fx.dir().Sub("missing");
  EXPECT_EQ(fx.server().Expect(StreamFixture::NewToken(), e).code(), StatusCode::kInvalidArgument);
  e = fx.Expected("a");
  e.final_dir = fx.staging();  // exists
  EXPECT_EQ(fx.server().Expect(StreamFixture::NewToken(), e).code(), StatusCode::kInvalidArgument);
  e = fx.Expected("a");
  e.staging_dir = "/dev/shm";  // another file system (tmpfs)
  struct stat a, b;
  if (stat("/dev/shm", &a) == 0 && stat(fx.staging().c_str(), &b) == 0 && a.st_dev != b.st_dev) {
    EXPECT_EQ(fx.server().Expect(StreamFixture::NewToken(), e).code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(fx.server().Wait("nope", Clock::now()).status().code(), StatusCode::kNotFound);
}

TEST(StreamTest, ServerShutdownDuringStreamCleansUp) {
  StreamFixture fx;
  GrowingStream g = PrepareGrowing(fx, "src", "down", {{"first", "x\n"}});
  ASSERT_TRUE(g.source);
  auto sender = g.Send(fx);
  ASSERT_TRUE(AwaitProgress(fx, g.token, [](const ProgressSnapshot& p) { return p.files >= 1; }));
  fx.StopServer();  // while the stream runs
  EXPECT_EQ(CountEntries(fx.staging()), 0u);
  EXPECT_FALSE(Exists(fx.FinalDir("down")));
  EXPECT_FALSE(sender.get().ok());
}

}  // namespace
}  // namespace migrate::transfer
