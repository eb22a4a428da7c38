// Cheap denial of service against the stream receiver: connections that never finish their
// handshake, peers that trickle their HELLO or a frame, and a commit that takes its time.
// None of them may keep a legitimate stream out or stall the server's other callers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <future>

#include "tests/support/poll.h"
#include "tests/transfer/raw_client.h"
#include "tests/transfer/stalled_peers.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;
using testing::RawClient;
using testing::StalledPeers;
using testing::StreamFixture;

// A small tree sent by the real sender: succeeds, or says why not.
Status SendSmallTree(StreamFixture& fx, const std::string& name) {
  std::string token = StreamFixture::NewToken();
  MIGRATE_RETURN_IF_ERROR(fx.server().Expect(token, fx.Expected(name)));
  std::string src = fx.dir().Sub("src-" + name);
  testing::MakeSampleTree(src, /*small=*/true);
  DirectoryTreeSource source(src);
  Status st = SendTree(fx.Send(token), source).status();
  testing::RemoveTree(src);
  return st;
}

TEST(ExhaustionTest, StalledHandshakesDoNotTakeTheStreamSlots) {
  StreamFixture fx([](StreamServerOptions& o) {
    o.max_connections = 4;  // streams
    o.max_handshakes = 8;
    o.handshake_timeout = std::chrono::seconds(30);  // they would hold on for long
  });
  StalledPeers stalled(fx.server().port(), 40);  // more than both caps
  ASSERT_EQ(stalled.connected(), 40);
  auto start = Clock::now();
  Status st = SendSmallTree(fx, "after-stall");
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5)) << "waited for the stalled ones";
}

TEST(ExhaustionTest, HandshakeHasADeadlineOfItsOwn) {
  StreamFixture fx(
      [](StreamServerOptions& o) { o.handshake_timeout = std::chrono::milliseconds(300); });
  StalledPeers stalled(fx.server().port(), 3);
  ASSERT_TRUE(
      testing::PollUntil([&] { return stalled.closed_by_server() == 3; }, std::chrono::seconds(5)))
      << "stalled handshakes are cut at their deadline";
}

TEST(ExhaustionTest, TrickledHelloIsCutAtTheHandshakeDeadline) {
  StreamFixture fx(
      [](StreamServerOptions& o) { o.handshake_timeout = std::chrono::milliseconds(500); });
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(token, fx.Expected("out")).ok());
  RawClient client(fx);
  ASSERT_TRUE(client.Connect().ok());
  ps::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_token(token);
  std::string frame = MessageFrame(ps::FRAME_TYPE_HELLO, hello);
  // One byte every 100 ms: each read is quick, the message as a whole is not.
  size_t sent = client.Trickle(frame, std::chrono::milliseconds(100));
  EXPECT_LT(sent, frame.size()) << "the whole trickled HELLO was read";
  EXPECT_LT(sent, 12u) << "cut after " << sent << " bytes (about 5 expected)";
  // The token was never claimed: a real sender still gets through.
  client.Abort();
  EXPECT_EQ(fx.server().Wait(token, Clock::now() + std::chrono::milliseconds(10)).status().code(),
            StatusCode::kDeadlineExceeded);
}

TEST(ExhaustionTest, TrickledFrameIsCutAtItsDeadline) {
  StreamFixture fx;
  std::string token;
  ExpectedStream e = fx.Expected("out");
  e.limits.io_timeout = std::chrono::milliseconds(400);
  auto opened = testing::OpenStream(fx, e, &token);
  ASSERT_TRUE(opened);
  RawClient& client = *opened;
  ps::Entry entry = client.MakeEntry("a-file-with-a-long-enough-name", ps::ENTRY_TYPE_DIRECTORY);
  std::string frame = MessageFrame(ps::FRAME_TYPE_ENTRY, entry);
  size_t sent = client.Trickle(frame, std::chrono::milliseconds(100));
  EXPECT_LT(sent, 10u) << "cut after " << sent << " of " << frame.size() << " bytes";
  auto st = fx.server().Wait(token, Clock::now() + std::chrono::seconds(10)).status();
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_EQ(testing::CountEntries(fx.staging()), 0u);
}

// Out of descriptors, accept() fails and the connection stays pending: a loop that just
// tries again spins on a core. The reserve descriptor lets the server shed the pending
// connections instead; then a real stream gets through once descriptors are free again.
TEST(ExhaustionTest, AcceptLoopShedsConnectionsInsteadOfSpinningWhenOutOfDescriptors) {
  StreamFixture fx;
  testing::Shedding r = testing::ConnectWhileOutOfDescriptors(fx.server().port(), 3);
  ASSERT_TRUE(r.exhausted);
  EXPECT_TRUE(r.shed) << "pending connections were left hanging";
  EXPECT_LT(r.cpu.count(), r.wall.count() / 2)
      << "the accept loop spun: " << r.cpu.count() << " us of CPU in " << r.wall.count() << " us";
  Status st = SendSmallTree(fx, "after-emfile");
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(ExhaustionTest, ACommitDoesNotStallProgressOfOtherStreams) {
  StreamFixture fx;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> told{false};
  std::string slow = StreamFixture::NewToken();
  ExpectedStream e = fx.Expected("slow");
  e.fault_hook = [&](std::string_view step, uint64_t) {
    if (step == "commit") {
      if (!told.exchange(true)) entered.set_value();
      released.wait();  // a rename + fsync that takes its time
    }
    return Status::Ok();
  };
  ASSERT_TRUE(fx.server().Expect(slow, e).ok());
  std::string other = StreamFixture::NewToken();
  ASSERT_TRUE(fx.server().Expect(other, fx.Expected("other")).ok());
  std::string src = fx.dir().Sub("src");
  testing::MakeSampleTree(src, /*small=*/true);
  auto sending = std::async(std::launch::async, [&] {
    DirectoryTreeSource source(src);
    return SendTree(fx.Send(slow), source).status();
  });
  ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto progress = std::async(std::launch::async, [&] { return fx.server().Progress(other).ok(); });
  bool answered = progress.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  release.set_value();
  EXPECT_TRUE(answered) << "Progress() waited for another stream's commit";
  EXPECT_TRUE(progress.get());
  EXPECT_TRUE(sending.get().ok());
  testing::RemoveTree(src);
}

}  // namespace
}  // namespace migrate::transfer
