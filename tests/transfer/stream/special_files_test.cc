// Special files (FIFOs, unix-socket files, device nodes): how each file type is named, what
// each policy admits, and trees holding them sent for real over loopback.
#include "transfer/stream/special_files.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "tests/transfer/test_tree.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;
using testing::CompareTrees;
using testing::CountEntries;
using testing::Exists;
using testing::StreamFixture;

ps::Entry Special(ps::EntryType type, uint32_t mode = 0600) {
  ps::Entry e;
  e.set_path("run/node");
  e.set_type(type);
  e.set_mode(mode);
  return e;
}

// A unix-socket file, as a process that bound it and exited leaves it.
void MakeSocketFile(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  close(fd);
}

// src/run with a FIFO and a socket file (foreign owners, odd modes), and src/dev with a
// character and a block device node when `devices`.
std::string MakeSpecialTree(StreamFixture& fx, bool devices) {
  const std::string src = fx.dir().Sub("src");
  EXPECT_EQ(mkdir(src.c_str(), 0755), 0);
  EXPECT_EQ(mkdir((src + "/run").c_str(), 0755), 0);
  EXPECT_EQ(mkfifo((src + "/run/ctl.fifo").c_str(), 0600), 0);
  EXPECT_EQ(chmod((src + "/run/ctl.fifo").c_str(), 0640), 0);
  EXPECT_EQ(lchown((src + "/run/ctl.fifo").c_str(), 1234, 5678), 0);
  MakeSocketFile(src + "/run/app.sock");
  EXPECT_EQ(chmod((src + "/run/app.sock").c_str(), 0777), 0);
  if (devices) {
    EXPECT_EQ(mkdir((src + "/dev").c_str(), 0755), 0);
    EXPECT_EQ(mknod((src + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    EXPECT_EQ(mknod((src + "/dev/loop7").c_str(), S_IFBLK | 0660, makedev(7, 7)), 0);
  }
  return src;
}

// Sends `src` into FinalDir(`name`) under `policy`; the sender's result.
Result<TransferStats> SendUnder(StreamFixture& fx, const std::string& src, const std::string& name,
                                SpecialFilePolicy policy, std::string* token) {
  *token = StreamFixture::NewToken();
  ExpectedStream expected = fx.Expected(name);
  expected.special_files = policy;
  EXPECT_TRUE(fx.server().Expect(*token, expected).ok());
  DirectoryTreeSource source(src);
  return SendTree(fx.Send(*token), source);
}

// The stream arrived, and FinalDir(`name`) is `src` (types, owners, modes, times, numbers).
void ExpectArrivedAsSent(StreamFixture& fx, const Result<TransferStats>& sent,
                         const std::string& token, const std::string& src,
                         const std::string& name) {
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(fx.server().Wait(token, Clock::now() + std::chrono::seconds(30)).ok());
  EXPECT_EQ(CompareTrees(src, fx.FinalDir(name)), "");
}

void ExpectRefusedWithNothingLeft(StreamFixture& fx, const Result<TransferStats>& sent,
                                  const std::string& token, const std::string& name,
                                  const std::string& why) {
  ASSERT_FALSE(sent.ok());
  EXPECT_NE(sent.status().message().find(why), std::string::npos) << sent.status().ToString();
  auto received = fx.server().Wait(token, Clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(received.status().code(), StatusCode::kInvalidArgument) << received.status().ToString();
  EXPECT_FALSE(Exists(fx.FinalDir(name)));
  EXPECT_EQ(CountEntries(fx.staging()), 0u) << "staging left behind";
}

TEST(SpecialFilesTest, EveryLinuxFileTypeHasAnEntryType) {
  EXPECT_EQ(*EntryTypeOf(S_IFREG | 0644, "f"), ps::ENTRY_TYPE_REGULAR);
  EXPECT_EQ(*EntryTypeOf(S_IFDIR | 0755, "d"), ps::ENTRY_TYPE_DIRECTORY);
  EXPECT_EQ(*EntryTypeOf(S_IFLNK | 0777, "l"), ps::ENTRY_TYPE_SYMLINK);
  EXPECT_EQ(*EntryTypeOf(S_IFIFO | 0600, "p"), ps::ENTRY_TYPE_FIFO);
  EXPECT_EQ(*EntryTypeOf(S_IFSOCK | 0600, "s"), ps::ENTRY_TYPE_SOCKET);
  EXPECT_EQ(*EntryTypeOf(S_IFCHR | 0600, "c"), ps::ENTRY_TYPE_CHAR_DEVICE);
  EXPECT_EQ(*EntryTypeOf(S_IFBLK | 0600, "b"), ps::ENTRY_TYPE_BLOCK_DEVICE);
}

TEST(SpecialFilesTest, ATypeTheStreamCannotCarryFailsNamingPathAndType) {
  auto type = EntryTypeOf(0160000 | 0644, "/src/rootfs/odd");  // S_IFWHT of the BSDs
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(type.status().message().find("/src/rootfs/odd"), std::string::npos);
  EXPECT_NE(type.status().message().find("file type 0160000"), std::string::npos)
      << type.status().ToString();
}

TEST(SpecialFilesTest, EachPolicyAdmitsWhatItNames) {
  for (ps::EntryType t : {ps::ENTRY_TYPE_FIFO, ps::ENTRY_TYPE_SOCKET, ps::ENTRY_TYPE_CHAR_DEVICE,
                          ps::ENTRY_TYPE_BLOCK_DEVICE}) {
    EXPECT_FALSE(ValidateSpecialEntry(Special(t), SpecialFilePolicy::kNone).ok());
    EXPECT_TRUE(ValidateSpecialEntry(Special(t), SpecialFilePolicy::kDevicesToo).ok());
    EXPECT_EQ(ValidateSpecialEntry(Special(t), SpecialFilePolicy::kFifosAndSockets).ok(),
              !IsDeviceEntryType(t));
  }
  Status st =
      ValidateSpecialEntry(Special(ps::ENTRY_TYPE_FIFO, 04600), SpecialFilePolicy::kDevicesToo);
  EXPECT_NE(st.message().find("FIFO 'run/node': mode 04600 has setuid"), std::string::npos)
      << st.ToString();
}

TEST(SpecialFilesTest, DeviceNumbersBelongToDevicesOnly) {
  ps::Entry fifo = Special(ps::ENTRY_TYPE_FIFO);
  fifo.set_rdev_major(1);
  EXPECT_FALSE(CheckDeviceNumbers(fifo).ok());
  ps::Entry dev = Special(ps::ENTRY_TYPE_CHAR_DEVICE);
  dev.set_rdev_major(1);
  dev.set_rdev_minor(3);
  EXPECT_TRUE(CheckDeviceNumbers(dev).ok());
  EXPECT_EQ(DeviceNumberOf(dev), makedev(1, 3));
  EXPECT_EQ(DeviceNumberOf(fifo), 0u);
  EXPECT_EQ(SpecialFileType(ps::ENTRY_TYPE_SOCKET), static_cast<mode_t>(S_IFSOCK));
}

TEST(SpecialFilesTest, BundleKeepsFifosAndSocketFiles) {
  StreamFixture fx;
  const std::string src = MakeSpecialTree(fx, /*devices=*/false);
  std::string token;
  auto sent = SendUnder(fx, src, "bundle", SpecialFilePolicy::kFifosAndSockets, &token);
  ExpectArrivedAsSent(fx, sent, token, src, "bundle");
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->files, 3u);
  EXPECT_EQ(sent->raw_bytes, 0u);
  struct stat st;
  ASSERT_EQ(lstat((fx.FinalDir("bundle") + "/run/app.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST(SpecialFilesTest, DeviceNodesArriveOnlyWhereThePolicyAdmitsThem) {
  StreamFixture fx;
  const std::string src = MakeSpecialTree(fx, /*devices=*/true);
  std::string token;
  auto refused = SendUnder(fx, src, "refused", SpecialFilePolicy::kFifosAndSockets, &token);
  ExpectRefusedWithNothingLeft(fx, refused, token, "refused",
                               "block device 'dev/loop7' 7:7: device nodes are refused");
  auto admitted = SendUnder(fx, src, "admitted", SpecialFilePolicy::kDevicesToo, &token);
  ExpectArrivedAsSent(fx, admitted, token, src, "admitted");
}

TEST(SpecialFilesTest, ImagesRefuseASpecialFileNamingIt) {
  StreamFixture fx;
  const std::string src = MakeSpecialTree(fx, /*devices=*/false);
  std::string token;
  auto sent = SendUnder(fx, src, "images", SpecialFilePolicy::kNone, &token);
  ExpectRefusedWithNothingLeft(fx, sent, token, "images",
                               "socket 'run/app.sock': no special files");
}

}  // namespace
}  // namespace migrate::transfer
