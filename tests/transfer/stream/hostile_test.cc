// Bad input from a peer: each is refused with a clear error, nothing is committed, the staging
// tree is removed, and nothing outside it is touched.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "tests/transfer/raw_client.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/byte_budget.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;
using testing::CountEntries;
using testing::Exists;
using testing::RawClient;
using testing::StreamFixture;

struct Outcome {
  Status server;        // what Wait() said
  std::string verdict;  // what the client was told ("" if nothing)
};

class HostileTest : public ::testing::Test {
 protected:
  // Runs `body` on an accepted stream, then reads the verdict and waits for the receiver.
  Outcome Run(const std::function<void(RawClient&)>& body,
              SymlinkPolicy policy = SymlinkPolicy::kNone,
              const std::function<void(ExpectedStream&)>& adjust = nullptr) {
    token_ = StreamFixture::NewToken();
    ExpectedStream e = fx_.Expected("out");
    e.symlinks = policy;
    // Special files as the agent has them: none in images, FIFOs and sockets in a bundle.
    e.special_files = policy == SymlinkPolicy::kNone ? SpecialFilePolicy::kNone
                                                     : SpecialFilePolicy::kFifosAndSockets;
    e.limits.io_timeout = std::chrono::seconds(5);
    if (adjust) adjust(e);
    EXPECT_TRUE(fx_.server().Expect(token_, e).ok());
    RawClient client(fx_);
    EXPECT_TRUE(client.Connect().ok());
    Status hello = client.Hello(token_);
    EXPECT_TRUE(hello.ok()) << hello.ToString();
    body(client);
    Outcome out;
    auto v = client.ReadVerdict();
    if (v.ok()) out.verdict = v->message();
    client.Abort();
    out.server = fx_.server().Wait(token_, Clock::now() + std::chrono::seconds(30)).status();
    return out;
  }

  // A bundle's stream (links allowed), for the checks that are about links.
  static constexpr SymlinkPolicy kBundle = SymlinkPolicy::kContainerRoot;
  Outcome Run(SymlinkPolicy policy, const std::function<void(RawClient&)>& body) {
    return Run(body, policy);
  }

  // Nothing committed, nothing staged, nothing created beside the tree.
  void ExpectNothingExposed() {
    EXPECT_FALSE(Exists(fx_.FinalDir("out")));
    EXPECT_EQ(CountEntries(fx_.dir().Sub("final")), 0u);
    EXPECT_EQ(CountEntries(fx_.staging()), 0u) << "staging tree left behind";
    EXPECT_EQ(CountEntries(fx_.dir().path()), 3u) << "something appeared beside staging";
    EXPECT_FALSE(Exists("/tmp/migrate-evil-" + token_));
  }

  void ExpectRefused(const Outcome& out, StatusCode code, const std::string& text) {
    EXPECT_EQ(out.server.code(), code) << out.server.ToString();
    EXPECT_NE(out.server.message().find(text), std::string::npos) << out.server.ToString();
    EXPECT_NE(out.verdict.find(text), std::string::npos) << "client was told: " << out.verdict;
    ExpectNothingExposed();
  }

  StreamFixture fx_;
  std::string token_;
};

TEST_F(HostileTest, AbsolutePathIsRefused) {
  auto out = Run([&](RawClient& c) { (void)c.File("/tmp/migrate-evil-" + token_, "x"); });
  ExpectRefused(out, StatusCode::kInvalidArgument, "absolute path");
}

TEST_F(HostileTest, DotDotPathIsRefused) {
  auto out = Run([&](RawClient& c) { (void)c.File("../evil", "x"); });
  ExpectRefused(out, StatusCode::kInvalidArgument, "'..' component");
}

TEST_F(HostileTest, NestedDotDotPathIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("a", ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
    (void)c.File("a/../../evil", "x");
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "'..' component");
}

TEST_F(HostileTest, EmptyAndNulPathsAreRefused) {
  auto out = Run([&](RawClient& c) { (void)c.File(std::string("a\0b", 3), "x"); });
  ExpectRefused(out, StatusCode::kInvalidArgument, "NUL byte");
  auto out2 = Run([&](RawClient& c) { (void)c.File("a//b", "x"); });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "empty component");
}

Status OpenGrowingPages(RawClient& c);

// Checkpoint images hold no links at all: CRIU, as root, opens them by name.
TEST_F(HostileTest, ImagesRefuseEverySymlink) {
  for (const char* target : {"../../../../etc", "/etc/passwd", "inventory.img", ".."}) {
    auto out = Run([&](RawClient& c) {
      (void)c.Entry(c.MakeEntry("link", ps::ENTRY_TYPE_SYMLINK, 0777, 0, target));
    });
    ExpectRefused(out, StatusCode::kInvalidArgument, "no symlinks");
  }
}

// The chain a lexical check let through: each link stays inside the tree on paper, together
// they resolve to ../../etc/shadow.
TEST_F(HostileTest, ImagesRefuseASymlinkChainThatLooksLocal) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("a", ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("a/up", ps::ENTRY_TYPE_SYMLINK, 0777, 0, ".."));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("x", ps::ENTRY_TYPE_SYMLINK, 0777, 0, "a/up/a/up/../../etc/shadow"));
    (void)c.EntryEnd();
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "no symlinks");
}

TEST_F(HostileTest, ImagesRefuseHardLinks) {
  auto out = Run([&](RawClient& c) {
    (void)c.File("pages-1.img", "pages");
    (void)c.Entry(c.MakeEntry("pages-2.img", ps::ENTRY_TYPE_HARDLINK, 0644, 0, "pages-1.img"));
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "no hard links");
}

// A root file system keeps its links, whatever they point at (inside the container they
// mean its own root); the receiver never resolves them.
TEST_F(HostileTest, BundleKeepsLinksButNeverFollowsThem) {
  auto out = Run(
      [&](RawClient& c) {
        (void)c.Entry(c.MakeEntry("a", ps::ENTRY_TYPE_DIRECTORY, 0755));
        (void)c.EntryEnd();
        (void)c.Entry(c.MakeEntry("a/up", ps::ENTRY_TYPE_SYMLINK, 0777, 0, ".."));
        (void)c.EntryEnd();
        (void)c.File("a/up/escaped", "through the link");
      },
      SymlinkPolicy::kContainerRoot);
  ExpectRefused(out, StatusCode::kInvalidArgument, "is not a directory");
}

TEST_F(HostileTest, WritingThroughASymlinkIsRefused) {
  // A root file system may hold absolute symlinks, but nothing is ever written through one.
  auto out = Run(
      [&](RawClient& c) {
        (void)c.Entry(c.MakeEntry("etc", ps::ENTRY_TYPE_SYMLINK, 0777, 0, "/etc"));
        (void)c.EntryEnd();
        (void)c.File("etc/migrate-evil", "owned");
      },
      SymlinkPolicy::kContainerRoot);
  ExpectRefused(out, StatusCode::kInvalidArgument, "is not a directory");
  EXPECT_FALSE(Exists("/etc/migrate-evil"));
}

TEST_F(HostileTest, WritingThroughAnInnerSymlinkIsRefused) {
  auto out = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("d", ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("s", ps::ENTRY_TYPE_SYMLINK, 0777, 0, "d"));
    (void)c.EntryEnd();
    (void)c.File("s/x", "through the link");
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "is not a directory");
}

TEST_F(HostileTest, EscapingHardLinkIsRefused) {
  auto out = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("h", ps::ENTRY_TYPE_HARDLINK, 0644, 0, "../../../etc/passwd"));
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "'..' component");
  auto out2 = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("h", ps::ENTRY_TYPE_HARDLINK, 0644, 0, "/etc/passwd"));
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "absolute path");
}

TEST_F(HostileTest, HardLinkToADirectoryOrUnknownFileIsRefused) {
  auto out = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("d", ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("h", ps::ENTRY_TYPE_HARDLINK, 0644, 0, "d"));
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "does not name a regular file");
  auto out2 = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("h", ps::ENTRY_TYPE_HARDLINK, 0644, 0, "later"));
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "does not name a regular file");
}

TEST_F(HostileTest, DeviceFilesAreRefused) {
  auto out = Run([&](RawClient& c) {
    ps::Entry e = c.MakeEntry("dev-sda", ps::ENTRY_TYPE_REGULAR);
    e.set_type(static_cast<ps::EntryType>(9));  // not a type this protocol has
    (void)c.Entry(e);
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "only files, directories, links and special");
  auto out2 = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("dev-null", ps::ENTRY_TYPE_REGULAR, S_IFCHR | 0666));
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "file type bits");
  auto out3 = Run([&](RawClient& c) {
    ps::Entry e = c.MakeEntry("none", ps::ENTRY_TYPE_REGULAR);
    e.set_type(ps::ENTRY_TYPE_UNSPECIFIED);
    (void)c.Entry(e);
  });
  ExpectRefused(out3, StatusCode::kInvalidArgument, "refused");
}

// Checkpoint images hold no special files (CRIU writes regular files only): a FIFO or a
// device node there could make CRIU, as root, block on it or open a host device.
TEST_F(HostileTest, ImagesRefuseEverySpecialFile) {
  for (ps::EntryType type : {ps::ENTRY_TYPE_FIFO, ps::ENTRY_TYPE_SOCKET, ps::ENTRY_TYPE_CHAR_DEVICE,
                             ps::ENTRY_TYPE_BLOCK_DEVICE}) {
    auto out = Run([&](RawClient& c) { (void)c.Entry(c.MakeEntry("inventory.img", type, 0600)); });
    ExpectRefused(out, StatusCode::kInvalidArgument, "no special files in this stream");
  }
}

TEST_F(HostileTest, DeviceNodesAreRefusedUnlessThePolicyAdmitsThem) {
  for (ps::EntryType type : {ps::ENTRY_TYPE_CHAR_DEVICE, ps::ENTRY_TYPE_BLOCK_DEVICE}) {
    auto out = Run(kBundle, [&](RawClient& c) {
      ps::Entry e = c.MakeEntry("sda", type, 0660);
      e.set_rdev_major(8);
      (void)c.Entry(e);
    });
    ExpectRefused(out, StatusCode::kInvalidArgument, "device 'sda' 8:0: device nodes are refused");
  }
}

TEST_F(HostileTest, SpecialFilesCarryNoDataNoSizeAndNoSetIdBits) {
  auto data = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("fifo", ps::ENTRY_TYPE_FIFO, 0600));
    (void)c.Data(0, "bytes for a FIFO");
  });
  ExpectRefused(data, StatusCode::kInvalidArgument, "DATA frame outside a regular file");
  auto size = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("fifo", ps::ENTRY_TYPE_FIFO, 0600, 4096));
  });
  ExpectRefused(size, StatusCode::kInvalidArgument, "size on a non-file");
  for (uint32_t mode : {04600u, 02600u, 01666u}) {
    auto set_id = Run(kBundle, [&](RawClient& c) {
      (void)c.Entry(c.MakeEntry("fifo", ps::ENTRY_TYPE_FIFO, mode));
    });
    ExpectRefused(set_id, StatusCode::kInvalidArgument, "setuid, setgid or sticky bits");
  }
  auto type_bits = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("fifo", ps::ENTRY_TYPE_FIFO, S_IFCHR | 0600));
  });
  ExpectRefused(type_bits, StatusCode::kInvalidArgument, "file type bits");
  for (ps::EntryType type : {ps::ENTRY_TYPE_FIFO, ps::ENTRY_TYPE_REGULAR}) {
    auto rdev = Run(kBundle, [&](RawClient& c) {
      ps::Entry e = c.MakeEntry("x", type, 0600);
      e.set_rdev_minor(3);
      (void)c.Entry(e);
    });
    ExpectRefused(rdev, StatusCode::kInvalidArgument,
                  "device numbers on an entry that is no device");
  }
}

TEST_F(HostileTest, SpecialFilesAreNeverMadeThroughALinkNorOverAName) {
  auto through = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("up", ps::ENTRY_TYPE_SYMLINK, 0777, 0, fx_.dir().path()));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("up/evil.fifo", ps::ENTRY_TYPE_FIFO, 0600));
  });
  ExpectRefused(through, StatusCode::kInvalidArgument, "is not a directory");
  EXPECT_FALSE(Exists(fx_.dir().path() + "/evil.fifo"));
  auto over = Run(kBundle, [&](RawClient& c) {
    (void)c.File("same", "a file");
    (void)c.Entry(c.MakeEntry("same", ps::ENTRY_TYPE_SOCKET, 0600));
  });
  ExpectRefused(over, StatusCode::kInvalidArgument, "duplicate entry");
}

TEST_F(HostileTest, DuplicateNamesAreRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.File("same", "one");
    (void)c.File("same", "two");
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "duplicate entry");
  auto out2 = Run(kBundle, [&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("same", ps::ENTRY_TYPE_DIRECTORY, 0755));
    (void)c.EntryEnd();
    (void)c.Entry(c.MakeEntry("same", ps::ENTRY_TYPE_SYMLINK, 0777, 0, "x"));
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "duplicate entry");
}

TEST_F(HostileTest, ParentMustComeFirst) {
  auto out = Run([&](RawClient& c) { (void)c.File("nodir/file", "x"); });
  ExpectRefused(out, StatusCode::kInvalidArgument, "was not sent before it");
}

TEST_F(HostileTest, ChunkBeyondTheDeclaredSizeIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("small", ps::ENTRY_TYPE_REGULAR, 0644, 10));
    (void)c.Data(0, std::string(100, 'a'));
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "size lies");
}

TEST_F(HostileTest, EntryEndThatLiesAboutBytesIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 100));
    (void)c.Data(0, std::string(100, 'a'));
    ps::EntryEnd end;
    end.set_id(1);
    end.set_data_bytes(50);
    end.set_chunks(1);
    (void)c.SendFrame(ps::FRAME_TYPE_ENTRY_END, end.SerializeAsString());
  });
  ExpectRefused(out, StatusCode::kDataLoss, "sender says 50");
}

TEST_F(HostileTest, OversizeDeclarationsAreRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("huge", ps::ENTRY_TYPE_REGULAR, 0644, 1ull << 50));
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "over the limit");
}

TEST_F(HostileTest, TrailerThatLiesIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.File("a", "aaa");
    ps::Trailer t;
    t.set_entries(2);
    t.set_data_bytes(3);
    (void)c.SendFrame(ps::FRAME_TYPE_TRAILER, t.SerializeAsString());
  });
  ExpectRefused(out, StatusCode::kDataLoss, "trailer says 2 entries");
  auto out2 = Run([&](RawClient& c) {
    (void)c.File("a", "aaa");
    ps::Trailer t;
    t.set_entries(1);
    t.set_data_bytes(3);
    t.set_manifest_digest(std::string(32, 'x'));
    (void)c.SendFrame(ps::FRAME_TYPE_TRAILER, t.SerializeAsString());
  });
  ExpectRefused(out2, StatusCode::kDataLoss, "manifest digest mismatch");
}

TEST_F(HostileTest, FrameOverTheLimitIsRefusedWithoutAllocating) {
  auto out = Run([&](RawClient& c) {
    std::string header(8, '\0');
    EncodeFrameHeader(ps::FRAME_TYPE_DATA, 0x7fffffff, header.data());
    (void)c.SendRaw(header);
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "over the limit");
}

TEST_F(HostileTest, UnknownFrameTypeIsRefused) {
  auto out = Run([&](RawClient& c) { (void)c.SendFrame(static_cast<ps::FrameType>(42), "??"); });
  ExpectRefused(out, StatusCode::kInvalidArgument, "unknown frame type 42");
}

TEST_F(HostileTest, NonZeroReservedBytesAreRefused) {
  auto out = Run([&](RawClient& c) {
    std::string header(8, '\0');
    EncodeFrameHeader(ps::FRAME_TYPE_KEEPALIVE, 0, header.data());
    header[2] = 1;
    (void)c.SendRaw(header);
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "reserved bytes");
}

TEST_F(HostileTest, OutOfPlaceFramesAreRefused) {
  auto out = Run([&](RawClient& c) {
    ChunkHeader h;
    h.entry_id = 1;
    h.encoding = ps::CHUNK_ENCODING_RAW;
    h.raw_length = 1;
    (void)c.DataCustom(h, "x");
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "DATA frame outside a regular file");
  auto out2 = Run([&](RawClient& c) {
    ps::Hello hello;
    hello.set_protocol_version(1);
    (void)c.SendFrame(ps::FRAME_TYPE_HELLO, hello.SerializeAsString());
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "unexpected FRAME_TYPE_HELLO");
  auto out3 = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("a", ps::ENTRY_TYPE_REGULAR, 0644, 0));
    (void)c.Entry(c.MakeEntry("b", ps::ENTRY_TYPE_REGULAR, 0644, 0));
  });
  ExpectRefused(out3, StatusCode::kInvalidArgument, "still open");
  auto out4 = Run([&](RawClient& c) {
    ps::Entry e = c.MakeEntry("a", ps::ENTRY_TYPE_REGULAR);
    e.set_id(7);
    (void)c.Entry(e);
  });
  ExpectRefused(out4, StatusCode::kInvalidArgument, "out of order");
}

TEST_F(HostileTest, ChunkWithWrongTagIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 5));
    ChunkHeader h;
    h.entry_id = 1;
    h.encoding = ps::CHUNK_ENCODING_RAW;
    h.raw_length = 5;
    ChunkTag wrong{};
    wrong[0] = 1;
    (void)c.DataCustom(h, "hello", wrong);
    (void)c.EntryEnd();
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kDataLoss, "tag mismatch");
}

TEST_F(HostileTest, ChunkMovedAfterTaggingIsRefused) {
  // The tag covers the header: a chunk tagged for offset 0 and sent for offset 4096 (every
  // other check passes, and the file digest over the tags matches) is refused.
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 2 * 4096));
    ChunkHeader h;
    h.entry_id = 1;
    h.encoding = ps::CHUNK_ENCODING_RAW;
    h.raw_length = 4096;
    std::string payload(ChunkHeaderSize(h), '\0');
    EncodeChunkHeader(h, payload.data());
    payload += std::string(4096, 'm');
    auto tag = c.Tag(h, payload);
    ASSERT_TRUE(tag.ok());
    h.offset = 4096;
    (void)c.DataCustom(h, std::string(4096, 'm'), *tag);
    (void)c.EntryEnd();
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kDataLoss, "tag mismatch");
}

// The ENTRY of a page file still being written: no size, size_at_end.
Status OpenGrowingPages(RawClient& c) {
  auto e = c.MakeEntry("pages-1.img", ps::ENTRY_TYPE_REGULAR, 0600);
  e.set_size_at_end(true);
  return c.Entry(e);
}

TEST_F(HostileTest, SizeAtEndIsOnlyForFilesWithoutASize) {
  auto on_dir = Run([&](RawClient& c) {
    auto e = c.MakeEntry("d", ps::ENTRY_TYPE_DIRECTORY, 0755);
    e.set_size_at_end(true);
    (void)c.Entry(e);
  });
  ExpectRefused(on_dir, StatusCode::kInvalidArgument, "size_at_end on a non-file or with a size");
  auto with_size = Run([&](RawClient& c) {
    auto e = c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 4096);
    e.set_size_at_end(true);
    (void)c.Entry(e);
  });
  ExpectRefused(with_size, StatusCode::kInvalidArgument, "size_at_end on a non-file or with a size");
}

TEST_F(HostileTest, FinalSizeThatDoesNotHoldTheChunksIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)OpenGrowingPages(c);
    (void)c.Data(0, std::string(8192, 'p'));
    (void)c.EntryEnd(4096);  // the chunks end at 8192
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "does not fit its chunks");
}

TEST_F(HostileTest, FinalSizeForAFileWhoseSizeWasKnownIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 4096));
    (void)c.Data(0, std::string(4096, 'k'));
    (void)c.EntryEnd(8192);
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "entry whose size was known");
}

TEST_F(HostileTest, GrowingFileIsBoundedByTheLimits) {
  auto limit_file = [](ExpectedStream& e) { e.limits.max_file_size = 1 << 16; };
  auto out = Run(
      [&](RawClient& c) {
        (void)OpenGrowingPages(c);
        (void)c.Data(0, std::string(1 << 16, 'a'));
        (void)c.Data(1 << 16, std::string(4096, 'b'));  // past the per-file limit
      },
      SymlinkPolicy::kNone, limit_file);
  ExpectRefused(out, StatusCode::kInvalidArgument, "beyond the limit of 65536 bytes per file");
  auto limit_total = [](ExpectedStream& e) { e.limits.max_total_bytes = 1 << 16; };
  auto out2 = Run(
      [&](RawClient& c) {
        (void)c.File("first", std::string(1 << 15, 'f'));
        (void)OpenGrowingPages(c);
        (void)c.Data(0, std::string(1 << 15, 'a'));
        (void)c.Data(1 << 15, std::string(4096, 'b'));  // 32 KiB declared + 36 KiB > 64 KiB
      },
      SymlinkPolicy::kNone, limit_total);
  ExpectRefused(out2, StatusCode::kInvalidArgument, "declares or carries more than 65536 bytes");
}

// The destination agrees in preflight to receive so many bytes for a migration (its free
// space was checked for that much); the migration's streams share that budget, whatever the
// fixed limits would allow.
TEST_F(HostileTest, StreamsMayNotWriteMoreThanTheDestinationAgreedTo) {
  auto budget = std::make_shared<ByteBudget>(10'000);
  auto shared = [&](ExpectedStream& e) { e.budget = budget; };
  auto first = Run([&](RawClient& c) {
    (void)c.File("config.json", std::string(6000, 'c'));
    (void)c.Trailer();
  }, SymlinkPolicy::kNone, shared);
  EXPECT_TRUE(first.server.ok()) << first.server.ToString();
  testing::RemoveTree(fx_.FinalDir("out"));
  auto second = Run([&](RawClient& c) {
    (void)c.File("pages-1.img", std::string(6000, 'p'));
  }, SymlinkPolicy::kNone, shared);
  ExpectRefused(second, StatusCode::kInvalidArgument, "more than the destination agreed to");
  auto growing = Run([&](RawClient& c) {
    (void)OpenGrowingPages(c);
    (void)c.Data(0, std::string(8192, 'g'));  // no size declared: charged as it grows
  }, SymlinkPolicy::kNone, [](ExpectedStream& e) { e.budget = std::make_shared<ByteBudget>(4096); });
  ExpectRefused(growing, StatusCode::kInvalidArgument, "more than the destination agreed to");
}

TEST(ByteBudgetTest, AgreedBytesHaveTheMarginOfThePreflightSpaceCheck) {
  EXPECT_EQ(AgreedStreamBytes(0), 64ull << 20);
  EXPECT_EQ(AgreedStreamBytes(10ull << 30), (10ull << 30) + (1ull << 30) + (64ull << 20));
  ByteBudget budget(100);
  EXPECT_TRUE(budget.Take(60));
  EXPECT_FALSE(budget.Take(41));
  EXPECT_TRUE(budget.Take(40));
  EXPECT_EQ(budget.remaining(), 0u);
}

TEST_F(HostileTest, DirectoriesBeyondTheKeptBytesLimitAreRefused) {
  auto small = [](ExpectedStream& e) { e.limits.max_kept_bytes = 4096; };
  auto out = Run(
      [&](RawClient& c) {
        for (int i = 0; i < 200; ++i) {
          if (!c.Entry(c.MakeEntry("d" + std::to_string(i), ps::ENTRY_TYPE_DIRECTORY, 0755)).ok())
            return;
          (void)c.EntryEnd();
        }
      },
      SymlinkPolicy::kNone, small);
  ExpectRefused(out, StatusCode::kInvalidArgument, "bytes kept for their metadata");
}

TEST_F(HostileTest, BadZeroPageMapsAreRefused) {
  auto chunk = [](std::string map) {
    ChunkHeader h;
    h.entry_id = 1;
    h.encoding = ps::CHUNK_ENCODING_RAW;
    h.raw_length = 3 * 4096;  // three pages: the map is one byte, bits 3..7 unused
    h.zero_map = std::move(map);
    return h;
  };
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 3 * 4096));
    (void)c.DataCustom(chunk(std::string(1, '\x09')), std::string(2 * 4096, 'a'));  // page 3
  });
  ExpectRefused(out, StatusCode::kInvalidArgument, "marks pages past the chunk");
  auto out2 = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 3 * 4096));
    (void)c.DataCustom(chunk(std::string(1, '\x07')), "");
  });
  ExpectRefused(out2, StatusCode::kInvalidArgument, "every page omitted");
  auto out3 = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 3 * 4096));
    ChunkHeader h = chunk(std::string(1, '\x02'));
    std::string sent = std::string(2 * 4096, 'a') + "extra";  // more bytes than the map leaves
    (void)c.DataCustom(h, sent);  // honestly tagged
    (void)c.EntryEnd();
    (void)c.Trailer();
  });
  ExpectRefused(out3, StatusCode::kDataLoss, "raw chunk holds");
}

TEST_F(HostileTest, DecompressionBombIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("bomb", ps::ENTRY_TYPE_REGULAR, 0644, 1000));
    std::string big(4u << 20, 'z');
    std::string encoded;
    ChunkCompressor comp(1);
    ASSERT_TRUE(comp.Encode(big.data(), big.size(), &encoded).ok());
    ChunkHeader h;
    h.entry_id = 1;
    h.encoding = ps::CHUNK_ENCODING_ZSTD;
    h.raw_length = 1000;  // the frame holds 4 MiB
    (void)c.DataCustom(h, encoded);  // honest tag, lying size
    (void)c.EntryEnd();
    (void)c.Trailer();
  });
  ExpectRefused(out, StatusCode::kDataLoss, "declares 4194304 bytes");
}

TEST_F(HostileTest, ReorderedChunksAreRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 2 << 16));
    (void)c.Data(1 << 16, std::string(1 << 16, 'b'));
    (void)c.Data(0, std::string(1 << 16, 'a'));
  });
  ExpectRefused(out, StatusCode::kDataLoss, "out of order or overlapping");
}

TEST_F(HostileTest, StreamEndingBeforeTheTrailerIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.File("a", "complete file");
    c.CloseNotify();  // a clean TLS close, but the stream is not complete
  });
  EXPECT_EQ(out.server.code(), StatusCode::kDataLoss) << out.server.ToString();
  EXPECT_NE(out.server.message().find("before the trailer"), std::string::npos);
  ExpectNothingExposed();
}

TEST_F(HostileTest, ConnectionResetMidStreamIsRefused) {
  auto out = Run([&](RawClient& c) {
    (void)c.Entry(c.MakeEntry("f", ps::ENTRY_TYPE_REGULAR, 0644, 1 << 20));
    (void)c.Data(0, std::string(1 << 16, 'a'));
    c.Abort();
  });
  EXPECT_FALSE(out.server.ok());
  ExpectNothingExposed();
}

TEST_F(HostileTest, SilentPeerTimesOut) {
  ExpectedStream e = fx_.Expected("out");
  e.limits.io_timeout = std::chrono::milliseconds(300);
  auto client = testing::OpenStream(fx_, e, &token_);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->File("a", "a").ok());
  auto st = fx_.server().Wait(token_, Clock::now() + std::chrono::seconds(30)).status();
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  ExpectNothingExposed();
}

TEST_F(HostileTest, WrongProtocolVersionIsRefused) {
  token_ = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(token_, fx_.Expected("out")).ok());
  RawClient client(fx_);
  ASSERT_TRUE(client.Connect().ok());
  Status st = client.Hello(token_, 99);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("protocol version 99"), std::string::npos) << st.ToString();
}

TEST_F(HostileTest, PlaintextClientIsDroppedAndServerKeepsServing) {
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(token, fx_.Expected("after")).ok());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(fx_.server().port());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string req = "HELLO " + token + "\r\n";
  ASSERT_GT(write(fd, req.data(), req.size()), 0);
  char buf[256];
  // The server answers with a TLS alert at most, then closes: read until EOF.
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
  }
  close(fd);
  // The token was not consumed; a real sender still gets through.
  std::string src = fx_.dir().Sub("src");
  testing::MakeSampleTree(src, /*small=*/true);
  DirectoryTreeSource source(src);
  auto sent = SendTree(fx_.Send(token), source);
  EXPECT_TRUE(sent.ok()) << sent.status().ToString();
  testing::RemoveTree(src);
}

// The data port: a decommissioned node's certificate is refused at the handshake once the
// CA's revocation list reaches this node, without restarting the receiver.
TEST_F(HostileTest, RevokedNodeCannotSendAStream) {
  std::string src = fx_.dir().Sub("src");
  testing::MakeSampleTree(src, /*small=*/true);
  std::string before = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(before, fx_.Expected("before")).ok());
  DirectoryTreeSource first(src);
  ASSERT_TRUE(SendTree(fx_.Send(before), first).ok());
  ASSERT_TRUE(fx_.pki().Revoke("node-a").ok());
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(token, fx_.Expected("out")).ok());
  DirectoryTreeSource source(src);
  auto sent = SendTree(fx_.Send(token), source);
  EXPECT_FALSE(sent.ok());
  EXPECT_EQ(fx_.server().Wait(token, Clock::now() + std::chrono::milliseconds(50)).status().code(),
            StatusCode::kDeadlineExceeded)
      << "the token stays unclaimed";
  EXPECT_EQ(CountEntries(fx_.staging()), 0u);
  testing::RemoveTree(src);
}

TEST_F(HostileTest, ClientWithCertificateFromAnotherCaIsRefused) {
  std::string token = StreamFixture::NewToken();
  ASSERT_TRUE(fx_.server().Expect(token, fx_.Expected("out")).ok());
  testing::TestPki other(fx_.dir().Sub("other-pki"), "rogue CA");
  tls::TlsFiles rogue = other.Issue("node-a");
  // Trust the real CA (to reach the server) but present a rogue certificate.
  rogue.ca_file = fx_.pki().Issue("node-a").ca_file;
  auto ctx = tls::MakeClientContext(rogue);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  SendOptions opts = fx_.Send(token);
  opts.tls = *ctx;
  std::string src = fx_.dir().Sub("src");
  testing::MakeSampleTree(src, /*small=*/true);
  DirectoryTreeSource source(src);
  auto sent = SendTree(opts, source);
  EXPECT_FALSE(sent.ok());
  EXPECT_TRUE(sent.status().code() == StatusCode::kPermissionDenied ||
              sent.status().code() == StatusCode::kUnavailable)
      << sent.status().ToString();
  // The token is untouched, nothing received.
  EXPECT_EQ(fx_.server().Wait(token, Clock::now() + std::chrono::milliseconds(50)).status().code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CountEntries(fx_.staging()), 0u);
  testing::RemoveTree(src);
  testing::RemoveTree(fx_.dir().Sub("other-pki"));
}

}  // namespace
}  // namespace migrate::transfer
