#include "agent/runtime/node_probe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/runtime/loopback.h"
#include "agent/runtime/runc_runtime.h"
#include "tests/support/fake_process_runner.h"
#include "tests/transfer/test_pki.h"

namespace migrate::runtime {
namespace {

// Lines as /proc/self/mountinfo prints them on the three layouts.
constexpr const char* kHybrid =
    "30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n";
constexpr const char* kV2 =
    "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
constexpr const char* kV1 =
    "32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu\n";

TEST(NodeProbeTest, CgroupLayout) {
  EXPECT_EQ(DetectCgroupLayout(kHybrid), proto::CGROUP_LAYOUT_HYBRID);
  EXPECT_EQ(DetectCgroupLayout(kV2), proto::CGROUP_LAYOUT_V2);
  EXPECT_EQ(DetectCgroupLayout(kV1), proto::CGROUP_LAYOUT_V1);
  EXPECT_EQ(DetectCgroupLayout("22 1 0:21 / /proc rw - proc proc rw\n"),
            proto::CGROUP_LAYOUT_UNSPECIFIED);
  EXPECT_EQ(CgroupLayoutName(proto::CGROUP_LAYOUT_HYBRID), "hybrid");
}

TEST(NodeProbeTest, CgroupMountsNameEveryHierarchy) {
  std::vector<CgroupMount> mounts = ParseCgroupMounts(kHybrid);  // the tmpfs is not one
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(mounts[0].v2);
  EXPECT_EQ(mounts[1].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_FALSE(mounts[1].v2);
}

TEST(LoopbackTest, ParsesIpOutput) {
  // As runc restores it: DOWN, no address.
  LoopbackState down = ParseLoopback(
      "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\"
      "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n",
      "");
  EXPECT_TRUE(down.checked);
  EXPECT_FALSE(down.up);
  EXPECT_FALSE(down.has_ipv4);
  LoopbackState up = ParseLoopback(
      "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT\n",
      "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
      "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n");
  EXPECT_TRUE(up.up);
  EXPECT_TRUE(up.has_ipv4);
  EXPECT_NE(up.detail.find("127.0.0.1"), std::string::npos);
  // "LOWER_UP" alone is not "UP".
  EXPECT_FALSE(ParseLoopback("1: lo: <LOOPBACK,LOWER_UP> mtu 65536\n", "").up);
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

RuncRuntime FakeRunc(testing::FakeProcessRunner* runner) {
  return RuncRuntime(runner, RuncOptions{}, RuntimeInfo{"runc", *ParseVersion("1.1.5"), "/x/runc"});
}

TEST(ProbeNodeTest, FillsCapabilitiesFromRuntimeAndCriu) {
  testing::FakeProcessRunner runner;
  runner.OnExit({"criu", "--version"}, 0, "Version: 4.1.1\n");
  runner.OnExit({"criu", "check"}, 0, "Looks good.\n");
  RuncRuntime runtime = FakeRunc(&runner);
  Criu criu(&runner);
  NodeProbeOptions options;
  options.node_name = "host-a";
  Result<proto::Capabilities> caps = ProbeNode(runtime, criu, options);
  ASSERT_TRUE(caps.ok()) << caps.status().ToString();
  EXPECT_EQ(caps->node_name(), "host-a");
  EXPECT_EQ(caps->runtime_version(), "1.1.5");
  EXPECT_EQ(caps->runtime_path(), "/x/runc");
  EXPECT_EQ(caps->criu_version(), "4.1.1");
  EXPECT_TRUE(caps->criu_check_ok());
  ASSERT_EQ(caps->cgroup_modes_size(), 6);
  for (const proto::CgroupModeSupport& row : caps->cgroup_modes()) {
    EXPECT_NE(row.mode(), proto::CGROUP_MODE_UNSPECIFIED);
    if (row.mode() == proto::CGROUP_MODE_STRICT) {
      EXPECT_FALSE(row.restore());
    }
  }
  EXPECT_NE(FormatCapabilities(*caps).find("strict: checkpoint yes, restore no"),
            std::string::npos);
}

TEST(ProbeNodeTest, FailingOrMissingCriuIsReportedNotAnError) {
  testing::FakeProcessRunner failing;
  failing.OnExit({"criu", "--version"}, 0, "Version: 3.17.1\n");
  failing.OnExit({"criu", "check"}, 1, "",
                 "Error (criu/vdso.c:...): vdso: Unexpected rt vDSO area bounds\n");
  RuncRuntime runtime = FakeRunc(&failing);
  Criu criu(&failing);
  Result<proto::Capabilities> caps = ProbeNode(runtime, criu, NodeProbeOptions{});
  ASSERT_TRUE(caps.ok());
  EXPECT_FALSE(caps->criu_check_ok());
  EXPECT_NE(caps->criu_check_output().find("Unexpected rt vDSO"), std::string::npos);

  testing::FakeProcessRunner missing;  // no rules: every program "not found"
  RuncRuntime runtime2 = FakeRunc(&missing);
  Criu criu2(&missing);
  Result<proto::Capabilities> caps2 = ProbeNode(runtime2, criu2, NodeProbeOptions{});
  ASSERT_TRUE(caps2.ok());
  EXPECT_FALSE(caps2->criu_check_ok());
  EXPECT_NE(caps2->criu_check_output().find("CRIU unusable"), std::string::npos);
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// crun refuses a hybrid host whose cgroup2 hierarchy holds controllers; runc does not care.
TEST(RuntimeHostProblemTest, CrunOnAHybridHostWithV2Controllers) {
  migrate::testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/unified");
  std::ofstream(dir.path() + "/unified/cgroup.controllers") << "hugetlb\n";
  RuntimeInfo crun{"crun", *ParseVersion("1.21"), "/x/crun"};
  RuntimeInfo runc{"runc", *ParseVersion("1.1.5"), "/x/runc"};
  const std::string problem = RuntimeHostProblem(crun, proto::CGROUP_LAYOUT_HYBRID, dir.path());
  EXPECT_NE(problem.find("crun 1.21.0 refuses this hybrid cgroup host"), std::string::npos)
      << problem;
  EXPECT_NE(problem.find("(hugetlb)"), std::string::npos) << problem;
  EXPECT_NE(problem.find("mount -t cgroup -o hugetlb"), std::string::npos) << problem;
  EXPECT_EQ(RuntimeHostProblem(runc, proto::CGROUP_LAYOUT_HYBRID, dir.path()), "");
  EXPECT_EQ(RuntimeHostProblem(crun, proto::CGROUP_LAYOUT_V2, dir.path()), "");
  std::ofstream(dir.path() + "/unified/cgroup.controllers", std::ios::trunc) << "\n";
  EXPECT_EQ(RuntimeHostProblem(crun, proto::CGROUP_LAYOUT_HYBRID, dir.path()), "");
}

}  // namespace
}  // namespace migrate::runtime
