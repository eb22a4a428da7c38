// A failure injected at every step of a transfer, in turn (as Beast's tests do): the
// connection closed before frame k, frame k corrupted, the receiver's file system failing at
// step k. Every run must fail cleanly with nothing exposed, until k is past the last step and
// the transfer succeeds with the exact tree.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <future>

#include "tests/transfer/test_tree.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

using testing::CompareTrees;
using testing::CountEntries;
using testing::Exists;
using testing::StreamFixture;

constexpr uint64_t kMaxSteps = 200;  // far more than the sample tree needs

class FailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = fx_.dir().Sub("src");
    testing::MakeSampleTree(src_, /*small=*/true);
  }

  SendOptions Options(const std::string& token) {
    SendOptions o = fx_.Send(token);
    o.chunk_bytes = 64 * 1024;  // several chunks per file: more steps to break
    o.io_timeout = std::chrono::seconds(5);
    return o;
  }

  ExpectedStream Expected(const std::string& name) {
    ExpectedStream e = fx_.Expected(name);
    e.limits.io_timeout = std::chrono::seconds(5);
    e.fsync = true;  // exercise the sync steps too
    return e;
  }

  // After a failed run: nothing visible anywhere.
  void ExpectNothingExposed(const std::string& name, uint64_t k) {
    EXPECT_FALSE(Exists(fx_.FinalDir(name))) << "step " << k;
    EXPECT_EQ(CountEntries(fx_.staging()), 0u) << "staging left behind at step " << k;
  }

  StreamFixture fx_;
  std::string src_;
};

TEST_F(FailureTest, ConnectionClosedBeforeEachFrame) {
  for (uint64_t k = 0; k < kMaxSteps; ++k) {
    std::string name = "close-" + std::to_string(k);
    std::string token = StreamFixture::NewToken();
    ASSERT_TRUE(fx_.server().Expect(token, Expected(name)).ok());
    std::atomic<bool> fired{false};
    SendOptions o = Options(token);
    o.fault_hook = [&](std::string_view, uint64_t index) {
      if (index != k) return Status::Ok();
      fired = true;
      return Status::Unavailable("connection dropped");
    };
    DirectoryTreeSource source(src_);
    auto sent = SendTree(o, source);
    if (!fired) {
      ASSERT_TRUE(sent.ok()) << sent.status().ToString();
      ASSERT_TRUE(fx_.server().Wait(token, Clock::now() + std::chrono::seconds(30)).ok());
      EXPECT_EQ(CompareTrees(src_, fx_.FinalDir(name)), "");
      EXPECT_GT(k, 10u) << "the sample tree should take more frames";
      return;
    }
    EXPECT_FALSE(sent.ok()) << "step " << k;
    if (k == 0) {
      // Before HELLO: the token is never claimed.
      EXPECT_EQ(
          fx_.server().Wait(token, Clock::now() + std::chrono::milliseconds(20)).status().code(),
          StatusCode::kDeadlineExceeded);
      fx_.server().Cancel(token);
    } else {
      auto got = fx_.server().Wait(token, Clock::now() + std::chrono::seconds(30));
      EXPECT_FALSE(got.ok()) << "step " << k;
    }
    ExpectNothingExposed(name, k);
  }
  FAIL() << "the transfer never completed";
}

TEST_F(FailureTest, EachFrameCorruptedInTurn) {
  for (uint64_t k = 1; k < kMaxSteps; ++k) {  // frame 0 is HELLO (covered by token tests)
    std::string name = "flip-" + std::to_string(k);
    std::string token = StreamFixture::NewToken();
    ASSERT_TRUE(fx_.server().Expect(token, Expected(name)).ok());
    bool flipped = false;
    SendOptions o = Options(token);
    o.tamper_hook = [&](uint64_t index, uint8_t, std::string& frame) {
      // Flip one payload byte (the header is covered by the hostile-input tests).
      if (index != k || frame.size() <= 8) return;
      frame[8 + (frame.size() - 8) / 2] ^= 0x20;
      flipped = true;
    };
    DirectoryTreeSource source(src_);
    auto sent = SendTree(o, source);
    auto got = fx_.server().Wait(token, Clock::now() + std::chrono::seconds(30));
    if (!flipped) {
      if (sent.ok()) {
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(CompareTrees(src_, fx_.FinalDir(name)), "");
        EXPECT_GT(k, 10u);
        return;
      }
      // An empty-payload frame (nothing to flip): the run must simply succeed.
      FAIL() << "step " << k << ": " << sent.status().ToString();
    }
    EXPECT_FALSE(sent.ok()) << "corruption in frame " << k << " went unnoticed";
    EXPECT_FALSE(got.ok()) << "corruption in frame " << k << " was committed";
    ExpectNothingExposed(name, k);
  }
  FAIL() << "the transfer never completed";
}

TEST_F(FailureTest, ReceiverFileSystemFailsAtEachStep) {
  for (uint64_t k = 0; k < kMaxSteps; ++k) {
    std::string name = "fs-" + std::to_string(k);
    std::string token = StreamFixture::NewToken();
    ExpectedStream e = Expected(name);
    std::atomic<bool> fired{false};
    std::atomic<uint64_t> steps{0};
    e.fault_hook = [&](std::string_view step, uint64_t) {
      // One counter over every file-system step of the receiver (tree and chunk writers).
      if (steps.fetch_add(1) != k) return Status::Ok();
      fired = true;
      return Status::IoError("injected failure at " + std::string(step));
    };
    ASSERT_TRUE(fx_.server().Expect(token, e).ok());
    DirectoryTreeSource source(src_);
    auto sent = SendTree(Options(token), source);
    auto got = fx_.server().Wait(token, Clock::now() + std::chrono::seconds(30));
    if (!fired) {
      ASSERT_TRUE(sent.ok()) << sent.status().ToString();
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(CompareTrees(src_, fx_.FinalDir(name)), "");
      EXPECT_GT(k, 20u);
      return;
    }
    EXPECT_EQ(got.status().code(), StatusCode::kIoError)
        << "step " << k << ": " << got.status().ToString();
    EXPECT_NE(got.status().message().find("injected failure"), std::string::npos);
    EXPECT_FALSE(sent.ok()) << "sender believed step " << k << " succeeded";
    EXPECT_NE(sent.status().message().find("injected failure"), std::string::npos)
        << "sender was not told why: " << sent.status().ToString();
    ExpectNothingExposed(name, k);
  }
  FAIL() << "the transfer never completed";
}

TEST_F(FailureTest, SourceReadErrorFailsTheStream) {
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(token, Expected("unreadable")).ok());
  // A directory that cannot be listed (even root cannot list a non-directory).
  testing::WriteTextFile(src_ + "/zz-not-a-dir", "x");
  DirectoryTreeSource source(src_ + "/zz-not-a-dir");
  auto sent = SendTree(Options(token), source);
  EXPECT_EQ(sent.status().code(), StatusCode::kIoError) << sent.status().ToString();
  EXPECT_FALSE(fx_.server().Wait(token, Clock::now() + std::chrono::seconds(30)).ok());
  ExpectNothingExposed("unreadable", 0);
}

}  // namespace
}  // namespace migrate::transfer
