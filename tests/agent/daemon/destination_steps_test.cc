// The destination's streams as the agent expects them: a bundle keeps its FIFOs and socket
// files, and device nodes only where this node's policy for received containers admits them.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tests/agent/daemon/agent_test_fixture.h"
#include "transfer/stream/chunk_codec.h"

namespace migrate::agent::test {
namespace {

using DestinationStepsTest = AgentTest;

// "web"'s bundle on host-a, with a FIFO and a character device node in its root.
std::string SpecialBundle(const std::string& bundle) {
  EXPECT_EQ(mkfifo((bundle + "/rootfs/ctl.fifo").c_str(), 0600), 0);
  EXPECT_EQ(chmod((bundle + "/rootfs/ctl.fifo").c_str(), 0620), 0);
  fs::create_directories(bundle + "/rootfs/dev");
  EXPECT_EQ(mknod((bundle + "/rootfs/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  return bundle;
}

TEST_F(DestinationStepsTest, DeviceNodesInAReceivedBundleAreRefusedByDefault) {
  StartTwoHosts();
  a_.runtime.AddRunning("web", SpecialBundle(MakeBundle("user-bundle")));
  Status st = Migrate("m1", proto::CGROUP_MODE_SOFT, /*commit=*/false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("character device 'rootfs/dev/null' 1:3: device nodes are refused"),
            std::string::npos)
      << st.ToString();
  EXPECT_FALSE(fs::exists(b_.state + "/containers/web/m1"));
}

TEST_F(DestinationStepsTest, BundleKeepsItsFifoAndDevicesWhereThePolicyAdmitsThem) {
  received_policy_.set_allow_device_nodes(true);
  StartTwoHosts();
  a_.runtime.AddRunning("web", SpecialBundle(MakeBundle("user-bundle")));
  Status st = Migrate("m1", proto::CGROUP_MODE_SOFT, /*commit=*/true);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string rootfs = b_.state + "/containers/web/m1/rootfs";
  struct stat fifo, null;
  ASSERT_EQ(lstat((rootfs + "/ctl.fifo").c_str(), &fifo), 0) << "the FIFO did not arrive";
  EXPECT_TRUE(S_ISFIFO(fifo.st_mode));
  EXPECT_EQ(fifo.st_mode & 07777, 0620u);
  ASSERT_EQ(lstat((rootfs + "/dev/null").c_str(), &null), 0);
  EXPECT_TRUE(S_ISCHR(null.st_mode));
  EXPECT_EQ(null.st_rdev, makedev(1, 3));
}

std::string Sha256Of(const std::string& text) {
  transfer::Digest d = transfer::Sha256::Of(text.data(), text.size());
  return std::string(d.begin(), d.end());
}

// The controller names the config.json that the destination's preflight approved: another
// one (still within the policy) is refused before anything is restored.
TEST_F(DestinationStepsTest, AConfigOtherThanTheOnePreflightApprovedIsNeverRestored) {
  approved_config_sha256_ = Sha256Of(std::string(testing::kRuncSpec) + " ");
  StartTwoHosts();
  a_.runtime.AddRunning("web", MakeBundle("user-bundle"));
  Status st = Migrate("m1", proto::CGROUP_MODE_SOFT, /*commit=*/false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("not the one preflight approved"), std::string::npos) << st.ToString();
  EXPECT_TRUE(b_.runtime.restores.empty());
}

TEST_F(DestinationStepsTest, TheApprovedConfigIsRestored) {
  approved_config_sha256_ = Sha256Of(testing::kRuncSpec);
  StartTwoHosts();
  a_.runtime.AddRunning("web", MakeBundle("user-bundle"));
  Status st = Migrate("m1", proto::CGROUP_MODE_SOFT, /*commit=*/true);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(DestinationStepsTest, AnApprovedDigestOfTheWrongSizeIsRefused) {
  StartTwoHosts();
  proto::PrepareReceiveRequest prepare = PrepareRequest("m1");
  prepare.set_approved_config_sha256("short");
  EXPECT_EQ(b_.service->PrepareReceive(prepare).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace migrate::agent::test
