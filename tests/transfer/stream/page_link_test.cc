// The page link over loopback: a real StreamServer and real mutual TLS between the two agents'
// ends, two socketpairs standing for CRIU's sockets (page server on the source, lazy-pages daemon
// on the destination). "src" is the client (ConnectLink), "dst" the server side (ExpectLink), as in
// post-copy.
#include "transfer/stream/page_link.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tests/support/poll.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/link_connect.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;
using testing::PollUntil;

constexpr auto kWait = std::chrono::milliseconds(20'000);
constexpr size_t kPage = 4096;

// Pages as CRIU sends them: random (incompressible), zero, repeated text, half and half.
std::string PageData(size_t pages, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(pages * kPage, '\0');
  const std::string text = "struct task_struct { pid_t pid; char comm[16]; } ";
  for (size_t i = 0; i < pages; ++i) {
    char* page = out.data() + i * kPage;
    const size_t random_bytes = (i % 4 == 0) ? kPage : (i % 4 == 3) ? kPage / 2 : 0;
    for (size_t b = 0; b < random_bytes; ++b) page[b] = static_cast<char>(rng());
    if (i % 4 == 2) {
      for (size_t b = 0; b < kPage; ++b) page[b] = text[b % text.size()];
    }
  }
  return out;
}

std::string RandomData(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

bool WriteFully(int fd, const std::string& data) {
  for (size_t at = 0; at < data.size();) {
    // No SIGPIPE when the link is gone: the write fails.
    ssize_t n = send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadFully(int fd, size_t size) {
  std::string out(size, '\0');
  size_t at = 0;
  while (at < size) {
    ssize_t n = read(fd, out.data() + at, size - at);
    if (n <= 0) break;
    at += static_cast<size_t>(n);
  }
  out.resize(at);
  return out;
}

// Records what the link tells; answers pings while `answer_pings` holds.
class RecordingHandler : public PageLinkHandler {
 public:
  std::atomic<bool> answer_pings{true};
  std::atomic<int> pings{0};
  std::atomic<int> pongs{0};
  std::atomic<bool> local_closed{false};

  bool OnPing(uint64_t) override {
    ++pings;
    return answer_pings.load();
  }
  void OnPong(uint64_t seq, std::chrono::steady_clock::time_point sent) override {
    std::lock_guard<std::mutex> lock(mu_);
    pong_seqs_.push_back(seq);
    pong_sent_.push_back(sent);
    ++pongs;
  }
  void OnControl(const ps::LinkControl& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    controls_.push_back(message);
  }
  void OnLocalClosed() override { local_closed = true; }

  std::vector<ps::LinkControl> controls() {
    std::lock_guard<std::mutex> lock(mu_);
    return controls_;
  }
  std::vector<uint64_t> pong_seqs() {
    std::lock_guard<std::mutex> lock(mu_);
    return pong_seqs_;
  }
  std::vector<std::chrono::steady_clock::time_point> pong_sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return pong_sent_;
  }

 private:
  std::mutex mu_;
  std::vector<ps::LinkControl> controls_;
  std::vector<uint64_t> pong_seqs_;
  std::vector<std::chrono::steady_clock::time_point> pong_sent_;
};

// One agent's end: its page link, the socketpair (criu: the test's end) and its handler.
struct LinkEnd {
  int criu = -1;
  int local = -1;
  RecordingHandler handler;
  std::unique_ptr<PageLink> link;
  std::future<Status> run;

  LinkEnd() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("sp");
    criu = sv[0];
    local = sv[1];
  }
  ~LinkEnd() {
    if (link) link->Stop();
    if (run.valid()) run.wait();
    close(criu);
    close(local);
  }
  void Start(std::unique_ptr<TlsConnection> conn, PageLinkOptions options) {
    link = std::make_unique<PageLink>(std::move(conn), local, std::move(options), handler);
    run = std::async(std::launch::async, [this] { return link->Run(); });
  }
  // Run's result, or kDeadlineExceeded when it has not returned within kWait.
  Status Result() {
    if (run.wait_for(kWait) != std::future_status::ready) {
      return Status::DeadlineExceeded("Run did not return");
    }
    return run.get();
  }
};

// The stream fixture's server (node-b, the destination) and client identity (node-a, the source).
class PageLinkTest : public ::testing::Test {
 protected:
  static std::string NewToken() { return testing::StreamFixture::NewToken(); }

  LinkTarget Target(const std::string& token) const {
    SendOptions send = fx_.Send(token);
    LinkTarget t;
    t.host = send.host;
    t.port = send.port;
    t.server_name = send.server_name;
    t.tls = send.tls;
    t.token = token;
    t.label = "test";
    t.connect_timeout = std::chrono::seconds(5);
    return t;
  }

  // Registers `token` for node-a; the server's end of the connection comes out of the future.
  std::future<std::unique_ptr<TlsConnection>> ExpectLink(const std::string& token,
                                                         const std::string& node = "node-a") {
    auto promise = std::make_shared<std::promise<std::unique_ptr<TlsConnection>>>();
    auto future = promise->get_future();
    ExpectedLink e;
    e.expected_peer_node_name = node;
    e.label = "test-link";
    e.on_connect = [promise](std::unique_ptr<TlsConnection> conn) {
      promise->set_value(std::move(conn));
    };
    EXPECT_TRUE(fx_.server().ExpectLink(token, std::move(e)).ok());
    return future;
  }

  // A connected link: the client's end and the server's (both null when connecting failed).
  struct Ends {
    std::unique_ptr<TlsConnection> client;
    std::unique_ptr<TlsConnection> server;
  };
  Ends Connect() {
    const std::string token = NewToken();
    auto server_end = ExpectLink(token);
    auto client = ConnectLink(Target(token));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok() || server_end.wait_for(kWait) != std::future_status::ready) return {};
    return {std::move(*client), server_end.get()};
  }

  // Both ends connected and running: src (client) and dst (server, pinging when asked).
  void StartPair(PageLinkOptions src_options, PageLinkOptions dst_options) {
    Ends ends = Connect();
    ASSERT_TRUE(ends.client && ends.server);
    src_.Start(std::move(ends.client), std::move(src_options));
    dst_.Start(std::move(ends.server), std::move(dst_options));
  }

  testing::StreamFixture fx_;
  StreamServer& server_ = fx_.server();
  LinkEnd src_;
  LinkEnd dst_;
};

PageLinkOptions Options(const std::string& label) {
  PageLinkOptions o;
  o.label = label;
  o.io_timeout = std::chrono::seconds(10);
  return o;
}

// Sends `data` into `from`'s CRIU end and reads it at `to`'s, concurrently.
std::future<std::string> Pump(LinkEnd& from, LinkEnd& to, const std::string& data) {
  auto copy = std::make_shared<const std::string>(data);
  std::thread([fd = from.criu, copy] { WriteFully(fd, *copy); }).detach();
  return std::async(std::launch::async,
                    [fd = to.criu, size = data.size()] { return ReadFully(fd, size); });
}

TEST_F(PageLinkTest, CarriesDataBothWaysByteExact) {
  StartPair(Options("src"), Options("dst"));
  const std::string pages = PageData(2048, 1);        // 8 MiB, CRIU-like, compressible
  const std::string random = RandomData(3 << 20, 2);  // 3 MiB, incompressible
  const auto start = Clock::now();
  auto at_dst = Pump(src_, dst_, pages);
  auto at_src = Pump(dst_, src_, random);
  ASSERT_EQ(at_dst.wait_for(kWait), std::future_status::ready);
  ASSERT_EQ(at_src.wait_for(kWait), std::future_status::ready);
  const auto took = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(at_dst.get() == pages) << "pages corrupted on the way to the destination";
  EXPECT_TRUE(at_src.get() == random) << "data corrupted on the way to the source";

  PageLink::Stats s = src_.link->stats();
  PageLink::Stats d = dst_.link->stats();
  EXPECT_EQ(s.to_peer_raw, pages.size());
  EXPECT_EQ(d.from_peer_raw, pages.size());
  EXPECT_EQ(d.to_peer_raw, random.size());
  EXPECT_EQ(s.from_peer_raw, random.size());
  EXPECT_EQ(s.to_peer_wire, d.from_peer_wire);
  EXPECT_EQ(s.frames_out, d.frames_in);
  EXPECT_LT(s.to_peer_wire, pages.size() / 2) << "CRIU-like pages should compress";
  EXPECT_GE(d.to_peer_wire, random.size()) << "random data is sent stored";
  std::printf(
      "page link, 8 MiB CRIU-like pages: %llu raw -> %llu wire (ratio "
      "%.2f); 3 MiB random:"
      " %llu -> %llu; both ways at once in %.3f s\n",
      static_cast<unsigned long long>(s.to_peer_raw),
      static_cast<unsigned long long>(s.to_peer_wire),
      static_cast<double>(s.to_peer_raw) / static_cast<double>(s.to_peer_wire),
      static_cast<unsigned long long>(d.to_peer_raw),
      static_cast<unsigned long long>(d.to_peer_wire), took);
}

TEST_F(PageLinkTest, BuffersBoundedWhileTheLocalReaderIsSlow) {
  StartPair(Options("src"), Options("dst"));
  const std::string data = RandomData(24 << 20, 7);
  auto copy = std::make_shared<const std::string>(data);
  std::thread([fd = src_.criu, copy] { WriteFully(fd, *copy); }).detach();
  // Nobody reads the destination's CRIU end yet: the destination stops taking data at its
  // high-water mark (4 MiB waiting locally, plus one frame and the socket buffer).
  ASSERT_TRUE(PollUntil([&] { return dst_.link->stats().from_peer_raw >= (4u << 20); }, kWait));
  EXPECT_FALSE(PollUntil([&] { return dst_.link->stats().from_peer_raw > (8u << 20); },
                         std::chrono::milliseconds(300)))
      << "the destination buffered " << dst_.link->stats().from_peer_raw << " bytes";
  EXPECT_LT(src_.link->stats().to_peer_raw, data.size()) << "the source buffers boundedly too";
  std::string got = ReadFully(dst_.criu, data.size());
  EXPECT_TRUE(got == data);
}

TEST_F(PageLinkTest, NeverCompressesAtLevelZero) {
  PageLinkOptions src = Options("src");
  src.zstd_level = 0;
  StartPair(src, Options("dst"));
  const std::string pages = PageData(256, 3);
  auto at_dst = Pump(src_, dst_, pages);
  ASSERT_EQ(at_dst.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(at_dst.get() == pages);
  EXPECT_GT(src_.link->stats().to_peer_wire, pages.size());
}

TEST_F(PageLinkTest, PingsAreAnsweredWithPongs) {
  PageLinkOptions dst = Options("dst");
  dst.ping_interval = std::chrono::milliseconds(20);
  const auto before = std::chrono::steady_clock::now();
  StartPair(Options("src"), dst);
  ASSERT_TRUE(PollUntil([&] { return dst_.handler.pongs.load() >= 3; }, kWait));
  EXPECT_GE(src_.handler.pings.load(), 3);
  EXPECT_EQ(src_.handler.pongs.load(), 0) << "the source does not ping";
  auto seqs = dst_.handler.pong_seqs();
  auto sent = dst_.handler.pong_sent();
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], i) << "pongs answer the pings in order";
    EXPECT_GE(sent[i], before);
    EXPECT_LE(sent[i], std::chrono::steady_clock::now());
    if (i > 0) {
      EXPECT_GE(sent[i] - sent[i - 1], std::chrono::milliseconds(19));
    }
  }
}

TEST_F(PageLinkTest, PingNotAnsweredWhenTheHandlerSaysNo) {
  src_.handler.answer_pings = false;
  PageLinkOptions dst = Options("dst");
  dst.ping_interval = std::chrono::milliseconds(10);
  StartPair(Options("src"), dst);
  ASSERT_TRUE(PollUntil([&] { return src_.handler.pings.load() >= 5; }, kWait));
  // A control message sent after the pings arrives after them: no PONG was on its way.
  ps::LinkControl cut;
  cut.mutable_cut()->set_reason("marker");
  src_.link->Send(cut);
  ASSERT_TRUE(PollUntil([&] { return !dst_.handler.controls().empty(); }, kWait));
  EXPECT_EQ(dst_.handler.pongs.load(), 0);
  // Pings answered again from now on.
  src_.handler.answer_pings = true;
  EXPECT_TRUE(PollUntil([&] { return dst_.handler.pongs.load() >= 1; }, kWait));
}

TEST_F(PageLinkTest, DestinationTimesOutWhenTheSourceStopsAnswering) {
  src_.handler.answer_pings = false;
  PageLinkOptions dst = Options("dst");
  dst.ping_interval = std::chrono::milliseconds(10);
  dst.io_timeout = std::chrono::milliseconds(300);
  const auto start = Clock::now();
  StartPair(Options("src"), dst);
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
  // The destination reset the link: the source learns it at once.
  Status src = src_.Result();
  EXPECT_EQ(src.code(), StatusCode::kUnavailable) << src.ToString();
}

TEST_F(PageLinkTest, SilentPeerTimesOut) {
  Ends ends = Connect();  // the server's end never sends a byte
  ASSERT_TRUE(ends.client && ends.server);
  PageLinkOptions o = Options("src");
  o.io_timeout = std::chrono::milliseconds(200);
  src_.Start(std::move(ends.client), o);
  Status st = src_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("nothing from the peer"), std::string::npos) << st.ToString();
}

TEST_F(PageLinkTest, DeliversControlMessages) {
  StartPair(Options("src"), Options("dst"));
  ps::LinkControl done;
  auto* d = done.mutable_done();
  d->set_pages_total(100);
  d->set_pages_copied(1);
  d->set_pages_faulted(20);
  d->set_pages_pushed(79);
  d->set_tasks(3);
  d->set_summary("all pages");
  dst_.link->Send(done);
  ps::LinkControl ack;
  ack.mutable_committed();
  ps::LinkControl killed;
  killed.mutable_killed()->set_ran_ms(1234);
  killed.mutable_killed()->set_reason("lease");
  src_.link->Send(ack);
  src_.link->Send(killed);
  ASSERT_TRUE(PollUntil([&] { return src_.handler.controls().size() == 1; }, kWait));
  ASSERT_TRUE(PollUntil([&] { return dst_.handler.controls().size() == 2; }, kWait));
  auto at_src = src_.handler.controls();
  ASSERT_TRUE(at_src[0].has_done());
  EXPECT_EQ(at_src[0].done().pages_total(), 100u);
  EXPECT_EQ(at_src[0].done().pages_pushed(), 79u);
  EXPECT_EQ(at_src[0].done().tasks(), 3u);
  EXPECT_EQ(at_src[0].done().summary(), "all pages");
  auto at_dst = dst_.handler.controls();
  EXPECT_TRUE(at_dst[0].has_committed());
  ASSERT_TRUE(at_dst[1].has_killed());
  EXPECT_EQ(at_dst[1].killed().ran_ms(), 1234u);
  EXPECT_EQ(at_dst[1].killed().reason(), "lease");
}

TEST_F(PageLinkTest, StopFlushesQueuedControlAndThePeerSeesTheClose) {
  StartPair(Options("src"), Options("dst"));
  ps::LinkControl cut;
  cut.mutable_cut()->set_reason("rolled back");
  src_.link->Send(cut);
  src_.link->Stop();
  Status st = src_.Result();
  EXPECT_TRUE(st.ok()) << st.ToString();
  Status peer = dst_.Result();
  EXPECT_EQ(peer.code(), StatusCode::kUnavailable) << peer.ToString();
  auto got = dst_.handler.controls();
  ASSERT_EQ(got.size(), 1u) << "the cut queued before Stop() went out";
  EXPECT_EQ(got[0].cut().reason(), "rolled back");
}

TEST_F(PageLinkTest, StopBeforeRunReturnsOk) {
  Ends ends = Connect();
  ASSERT_TRUE(ends.client && ends.server);
  PageLink link(std::move(ends.client), src_.local, Options("src"), src_.handler);
  link.Stop();
  Status st = link.Run();
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(PageLinkTest, LocalEofIsReportedAndTheLinkGoesOn) {
  StartPair(Options("src"), Options("dst"));
  ASSERT_EQ(shutdown(src_.criu, SHUT_WR), 0);  // CRIU's side is done sending
  ASSERT_TRUE(PollUntil([&] { return src_.handler.local_closed.load(); }, kWait));
  const std::string data = PageData(64, 4);
  auto at_src = Pump(dst_, src_, data);
  ASSERT_EQ(at_src.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(at_src.get() == data);
  EXPECT_FALSE(dst_.handler.local_closed.load());
}

TEST_F(PageLinkTest, CloseLocalStopsUsingTheFd) {
  StartPair(Options("src"), Options("dst"));
  ps::LinkControl marker;
  marker.mutable_cut()->set_reason("marker");
  dst_.link->CloseLocal();
  dst_.link->Send(marker);  // taken in the same turn as CloseLocal, or a later one
  ASSERT_TRUE(PollUntil([&] { return src_.handler.controls().size() == 1; }, kWait));
  const std::string data = PageData(64, 5);
  ASSERT_TRUE(WriteFully(src_.criu, data));
  ASSERT_TRUE(WriteFully(dst_.criu, "x"));
  dst_.link->Send(marker);
  ASSERT_TRUE(PollUntil([&] { return dst_.link->stats().from_peer_raw == data.size(); }, kWait));
  ASSERT_TRUE(PollUntil([&] { return src_.handler.controls().size() == 2; }, kWait));
  // Nothing reached the destination's CRIU end, and what it wrote was not read.
  char byte;
  EXPECT_EQ(recv(dst_.criu, &byte, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(src_.link->stats().from_peer_raw, 0u);
  EXPECT_EQ(dst_.link->stats().to_peer_raw, 0u);
}

TEST_F(PageLinkTest, CorruptZstdDataIsDataLoss) {
  PageLinkOptions src = Options("src");
  auto tampered = std::make_shared<std::atomic<bool>>(false);
  src.tamper_hook = [tampered](uint64_t, std::string& payload) {
    if (payload[0] != ps::CHUNK_ENCODING_ZSTD || tampered->exchange(true)) return;
    payload[payload.size() / 2] ^= 0x5a;  // the first compressed frame
  };
  StartPair(src, Options("dst"));
  // Fits in the socket buffer: the write cannot block once the destination cuts the link.
  ASSERT_TRUE(WriteFully(src_.criu, PageData(16, 6)));
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("zstd"), std::string::npos) << st.ToString();
  EXPECT_TRUE(tampered->load());
}

TEST_F(PageLinkTest, UnknownEncodingIsDataLoss) {
  PageLinkOptions src = Options("src");
  src.tamper_hook = [](uint64_t, std::string& payload) { payload[0] = 7; };
  StartPair(src, Options("dst"));
  ASSERT_TRUE(WriteFully(src_.criu, "some bytes"));
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("encoding"), std::string::npos) << st.ToString();
}

TEST_F(PageLinkTest, WrongRawLengthIsDataLoss) {
  PageLinkOptions src = Options("src");
  src.zstd_level = 0;
  src.tamper_hook = [](uint64_t, std::string& payload) {
    payload[1] = static_cast<char>(payload[1] + 1);
  };
  StartPair(src, Options("dst"));
  ASSERT_TRUE(WriteFully(src_.criu, "some bytes"));
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("header says 11"), std::string::npos) << st.ToString();
}

TEST_F(PageLinkTest, PongForNoPingIsDataLoss) {
  StartPair(Options("src"), Options("dst"));
  ps::LinkControl pong;
  pong.mutable_pong()->set_seq(99);
  src_.link->Send(pong);
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("PONG 99"), std::string::npos) << st.ToString();
}

TEST_F(PageLinkTest, EmptyControlMessageIsDataLoss) {
  StartPair(Options("src"), Options("dst"));
  src_.link->Send(ps::LinkControl());
  Status st = dst_.Result();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
}

TEST_F(PageLinkTest, BadOptionsAreRefused) {
  PageLinkOptions src = Options("src");
  src.max_data_frame = 5u << 20;
  StartPair(src, Options("dst"));
  Status st = src_.Result();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

// ---- the link's token on the server, and ConnectLink ----

TEST_F(PageLinkTest, WaitReturnsOnceOnConnectHasReturned) {
  const std::string token = NewToken();
  auto server_end = ExpectLink(token);
  auto client = ConnectLink(Target(token));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto waited = server_.Wait(token, Clock::now() + kWait);
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(waited->files, 0u);
  EXPECT_EQ(waited->wire_bytes, 0u);
  EXPECT_EQ(server_end.wait_for(std::chrono::seconds(0)), std::future_status::ready);
}

TEST_F(PageLinkTest, TokenIsOneTime) {
  const std::string token = NewToken();
  auto server_end = ExpectLink(token);
  ASSERT_TRUE(ConnectLink(Target(token)).ok());
  auto again = ConnectLink(Target(token));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kPermissionDenied) << again.status().ToString();
  EXPECT_NE(again.status().message().find("already used"), std::string::npos);
}

TEST_F(PageLinkTest, UnknownTokenIsRefused) {
  auto link = ConnectLink(Target(NewToken()));
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied) << link.status().ToString();
  EXPECT_NE(link.status().message().find("unknown stream token"), std::string::npos);
}

TEST_F(PageLinkTest, WrongPeerNodeIsRefused) {
  const std::string token = NewToken();
  auto server_end = ExpectLink(token, "node-c");
  auto link = ConnectLink(Target(token));
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied) << link.status().ToString();
  EXPECT_NE(link.status().message().find("not node node-c"), std::string::npos);
  EXPECT_EQ(server_end.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
}

TEST_F(PageLinkTest, CancelledTokenIsRefused) {
  const std::string token = NewToken();
  auto server_end = ExpectLink(token);
  server_.Cancel(token);
  auto link = ConnectLink(Target(token));
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied) << link.status().ToString();
  auto waited = server_.Wait(token, Clock::now() + kWait);
  EXPECT_EQ(waited.status().code(), StatusCode::kAborted);
}

TEST_F(PageLinkTest, ServerNameIsVerified) {
  const std::string token = NewToken();
  auto server_end = ExpectLink(token);
  LinkTarget t = Target(token);
  t.server_name = "node-c";  // the server is node-b
  auto link = ConnectLink(t);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied) << link.status().ToString();
}

TEST_F(PageLinkTest, ExpectLinkChecksItsArguments) {
  ExpectedLink e;
  e.expected_peer_node_name = "node-a";
  e.on_connect = [](std::unique_ptr<TlsConnection>) {};
  EXPECT_EQ(server_.ExpectLink("short", e).code(), StatusCode::kInvalidArgument);
  ExpectedLink no_callback = e;
  no_callback.on_connect = nullptr;
  EXPECT_EQ(server_.ExpectLink(NewToken(), no_callback).code(), StatusCode::kInvalidArgument);
  ExpectedLink no_node = e;
  no_node.expected_peer_node_name.clear();
  EXPECT_EQ(server_.ExpectLink(NewToken(), no_node).code(), StatusCode::kInvalidArgument);
  const std::string token = NewToken();
  EXPECT_TRUE(server_.ExpectLink(token, e).ok());
  EXPECT_EQ(server_.ExpectLink(token, e).code(), StatusCode::kAlreadyExists);
}

TEST_F(PageLinkTest, ConnectLinkChecksItsTarget) {
  LinkTarget t = Target(NewToken());
  t.token.clear();
  EXPECT_EQ(ConnectLink(t).status().code(), StatusCode::kInvalidArgument);
  t = Target(NewToken());
  t.tls = nullptr;
  EXPECT_EQ(ConnectLink(t).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace migrate::transfer
