#include "agent/runtime/node_probe.h"

#include <gtest/gtest.h>

#include "agent/runtime/loopback.h"

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
