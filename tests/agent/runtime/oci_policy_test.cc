// The policy for received containers, rule by rule: runc's own default passes, and each
// host-touching addition a source could make is refused, naming itself, unless this node's
// policy allows it.
#include "agent/runtime/oci_policy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "tests/support/oci_spec.h"

namespace migrate::runtime {
namespace {

using testing::kRuncSpec;


// The default config with one part changed by `edit`.
OciConfig Edited(const std::function<void(json::Value&)>& edit) {
  Result<json::Value> doc = json::Parse(kRuncSpec);
  EXPECT_TRUE(doc.ok());
  edit(*doc);
  Result<OciConfig> config = OciConfig::Parse(json::Serialize(*doc));
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

json::Value Json(const std::string& text) {
  Result<json::Value> v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return *v;
}

json::Value& Linux(json::Value& doc) { return doc.at("linux"); }

// Refused under `policy`, with a violation that mentions `text`.
void ExpectRefused(const OciConfig& config, const std::string& text,
                   const OciPolicy& policy = OciPolicy()) {
  Status st = CheckOciConfigAgainstPolicy(config, policy);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
}

void ExpectAccepted(const OciConfig& config, const OciPolicy& policy = OciPolicy()) {
  Status st = CheckOciConfigAgainstPolicy(config, policy);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(OciPolicyTest, RuncsOwnDefaultPasses) {
  ExpectAccepted(Edited([](json::Value&) {}));
}

TEST(OciPolicyTest, HooksAreRefusedUnlessTheirExecutableIsAllowed) {
  OciConfig config = Edited([](json::Value& doc) {
    doc["hooks"] = Json(R"({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "id"]}],
                             "createRuntime": [{"path": "/usr/bin/evil"}]})");
  });
  ExpectRefused(config, "hooks.prestart[0]: runs /bin/sh");
  ExpectRefused(config, "hooks.createRuntime[0]: runs /usr/bin/evil");
  OciPolicy allowed;
  allowed.add_allowed_hook_paths("/bin/sh");
  ExpectRefused(config, "/usr/bin/evil", allowed);
  allowed.add_allowed_hook_paths("/usr/bin/evil");
  ExpectAccepted(config, allowed);
}

TEST(OciPolicyTest, MigratesOwnPrestartHookIsLeftToTheRestore) {
  // A container restored by migrate before carries its loopback hook; the restore replaces
  // it with this node's own. Only in prestart, where the restore looks for it.
  std::string marked = std::string(R"({"path": "/bin/sh", "args": ["sh", "-c", "# )") +
                       std::string(kLoopbackHookMarker) + R"(\nanything"]})";
  ExpectAccepted(
      Edited([&](json::Value& doc) { doc["hooks"] = Json(R"({"prestart": [)" + marked + "]}"); }));
  ExpectRefused(Edited([&](json::Value& doc) {
                  doc["hooks"] = Json(R"({"createRuntime": [)" + marked + "]}");
                }),
                "hooks.createRuntime[0]");
}

json::Value& Mounts(json::Value& doc) { return doc.at("mounts"); }

TEST(OciPolicyTest, HostBindMountsNeedAnAllowedPrefix) {
  auto bind = [](const std::string& source, const std::string& extra = "") {
    return Edited([&](json::Value& doc) {
      Mounts(doc).push_back(Json(R"({"destination": "/data", "source": ")" + source +
                                 R"(", "type": "bind", "options": ["rbind")" + extra + "]}"));
    });
  };
  ExpectRefused(bind("/etc"), "bind mount of /etc");
  OciPolicy policy;
  policy.add_allowed_bind_prefixes("/srv/data");
  ExpectAccepted(bind("/srv/data"), policy);
  ExpectAccepted(bind("/srv/data/app-1"), policy);
  ExpectRefused(bind("/srv/data-other"), "bind mount of /srv/data-other", policy);
  ExpectRefused(bind("/srv/data/../../etc"), "'..'", policy);
  ExpectRefused(bind("rootfs/../../etc"), "relative", policy);
  ExpectRefused(bind("/srv/data", R"(, "rshared")"), "shared propagation", policy);
}

TEST(OciPolicyTest, BindByOptionAndUnknownTypesAreRefused) {
  ExpectRefused(
      Edited([](json::Value& doc) {
        Mounts(doc).push_back(
            Json(R"({"destination": "/h", "source": "/", "type": "none", "options": ["bind"]})"));
      }),
      "bind mount of /");
  OciConfig disk = Edited([](json::Value& doc) {
    Mounts(doc).push_back(
        Json(R"({"destination": "/disk", "source": "/dev/vda", "type": "ext4"})"));
  });
  ExpectRefused(disk, "mount type ext4");
  OciPolicy policy;
  policy.add_allowed_mount_types("ext4");
  ExpectAccepted(disk, policy);
  ExpectRefused(Edited([](json::Value& doc) { Linux(doc)["rootfsPropagation"] = "rshared"; }),
                "rootfsPropagation rshared");
}

TEST(OciPolicyTest, RootMustBeInsideTheBundle) {
  ExpectRefused(Edited([](json::Value& doc) { doc["root"]["path"] = "/"; }), "root.path");
  ExpectRefused(Edited([](json::Value& doc) { doc["root"]["path"] = "../other/rootfs"; }),
                "root.path");
}

TEST(OciPolicyTest, NamespacesJoinedByPathOrSharedWithTheHost) {
  OciConfig joined = Edited([](json::Value& doc) {
    Linux(doc)["namespaces"] = Json(R"([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}])");
  });
  ExpectRefused(joined, "joins the network namespace /proc/1/ns/net");
  OciPolicy policy;
  policy.add_allowed_namespace_path_prefixes("/run/netns");
  ExpectRefused(joined, "/proc/1/ns/net", policy);
  ExpectAccepted(Edited([](json::Value& doc) {
                   Linux(doc)["namespaces"] = Json(R"([{"type": "pid"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"},
                       {"type": "network", "path": "/run/netns/web"}])");
                 }),
                 policy);
  OciConfig host_pid = Edited([](json::Value& doc) {
    Linux(doc)["namespaces"] = Json(R"([{"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}])");
  });
  ExpectRefused(host_pid, "shares the host's pid namespace");
  OciPolicy shares;
  shares.add_allowed_host_namespaces("pid");
  ExpectAccepted(host_pid, shares);
}

TEST(OciPolicyTest, DevicesBeyondRuncsDefaults) {
  OciConfig disk = Edited([](json::Value& doc) {
    Linux(doc)["devices"] = Json(R"([{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}])");
  });
  ExpectRefused(disk, "linux.devices[0]: /dev/sda (b 8:0)");
  OciPolicy policy;
  policy.add_allowed_devices("b 8:*");
  ExpectAccepted(disk, policy);
  ExpectAccepted(Edited([](json::Value& doc) {
    Linux(doc)["devices"] = Json(R"([{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}])");
  }));
  auto rule = [](const std::string& text) {
    return Edited(
        [&](json::Value& doc) { Linux(doc)["resources"]["devices"] = Json("[" + text + "]"); });
  };
  ExpectRefused(rule(R"({"allow": true, "access": "rwm"})"), "allows a *:* rwm");
  ExpectRefused(rule(R"({"allow": true, "type": "b", "major": 8, "minor": 0, "access": "rw"})"),
                "allows b 8:0 rw");
  ExpectAccepted(rule(R"({"allow": false, "access": "rwm"},
                         {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                         {"allow": true, "type": "c", "major": 136, "access": "rwm"})"));
  ExpectAccepted(rule(R"({"allow": true, "type": "b", "major": 8, "minor": 0, "access": "rw"})"),
                 policy);
}

TEST(OciPolicyTest, SysctlsOutsideTheSafeSet) {
  auto sysctl = [](const std::string& name) {
    return Edited(
        [&](json::Value& doc) { Linux(doc)["sysctl"] = Json(R"({")" + name + R"(": "1"})"); });
  };
  ExpectRefused(sysctl("kernel.core_pattern"), "sysctl kernel.core_pattern");
  ExpectAccepted(sysctl("net.ipv4.ip_local_port_range"));
  OciPolicy policy;
  policy.add_allowed_sysctls("net.core.*");
  ExpectAccepted(sysctl("net.core.somaxconn"), policy);
  ExpectRefused(sysctl("kernel.core_pattern"), "kernel.core_pattern", policy);
}

TEST(OciPolicyTest, CapabilitiesBeyondRuncsDefault) {
  OciConfig admin = Edited([](json::Value& doc) {
    doc["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  });
  ExpectRefused(admin, "process.capabilities.bounding: CAP_SYS_ADMIN");
  OciPolicy policy;
  policy.add_allowed_capabilities("CAP_SYS_ADMIN");
  ExpectAccepted(admin, policy);
}

TEST(OciPolicyTest, HardeningThatRuncSetsMustStay) {
  OciConfig unmasked = Edited([](json::Value& doc) {
    Linux(doc).erase("maskedPaths");
    Linux(doc)["readonlyPaths"] = Json(R"(["/proc/bus"])");
  });
  ExpectRefused(unmasked, "masked paths left out: /proc/acpi, /proc/asound, /proc/kcore");
  ExpectRefused(unmasked,
                "read-only paths left out: /proc/fs, /proc/irq, /proc/sys, "
                "/proc/sysrq-trigger");
  OciPolicy relaxed;
  relaxed.set_allow_unmasked_paths(true);
  ExpectAccepted(unmasked, relaxed);
  OciConfig oom = Edited([](json::Value& doc) { doc["process"]["oomScoreAdj"] = -1000; });
  ExpectRefused(oom, "oomScoreAdj -1000");
  OciPolicy seccomp;
  seccomp.set_require_seccomp(true);
  ExpectRefused(Edited([](json::Value&) {}), "no linux.seccomp", seccomp);
}

TEST(OciPolicyTest, SystemdPropertiesAndCgroupPaths) {
  ExpectRefused(Edited([](json::Value& doc) {
                  doc["annotations"] =
                      Json(R"({"org.systemd.property.DeviceAllow": "'/dev/sda rwm'"})");
                }),
                "annotation org.systemd.property.DeviceAllow");
  OciConfig escaping =
      Edited([](json::Value& doc) { Linux(doc)["cgroupsPath"] = "/host-a/../system.slice"; });
  ExpectRefused(escaping, "cgroupsPath");
  OciPolicy policy;
  policy.add_allowed_cgroup_prefixes("/migrate");
  ExpectRefused(Edited([](json::Value&) {}), "cgroupsPath /host-a/c1", policy);
}

TEST(OciPolicyTest, EveryViolationIsNamedAtOnce) {
  OciConfig config = Edited([](json::Value& doc) {
    doc["hooks"] = Json(R"({"poststart": [{"path": "/bin/true"}]})");
    Mounts(doc).push_back(Json(R"({"destination": "/h", "source": "/etc", "type": "bind"})"));
    Linux(doc)["sysctl"] = Json(R"({"kernel.panic": "1"})");
  });
  EXPECT_EQ(OciPolicyViolations(config, OciPolicy()).size(), 3u);
  Status st = CheckOciConfigAgainstPolicy(config, OciPolicy());
  for (const char* part : {"hooks.poststart[0]", "bind mount of /etc", "sysctl kernel.panic"}) {
    EXPECT_NE(st.message().find(part), std::string::npos) << st.message();
  }
}

// runc reads config.json with Go's encoding/json, which matches keys whatever their case: a
// "Hooks" key is runc's hooks (runc runs it), so only the exact spellings may reach runc.
TEST(OciPolicyTest, KeysThatRuncReadsWhateverTheirCaseAreRefused) {
  const std::string hook = R"({"createRuntime": [{"path": "/bin/sh"}]})";
  ExpectRefused(Edited([&](json::Value& doc) { doc["Hooks"] = Json(hook); }),
                "key \"Hooks\" is read by runc as \"hooks\"");
  ExpectRefused(Edited([&](json::Value& doc) { doc["HOOKS"] = Json(hook); }), "\"HOOKS\"");
  // KELVIN SIGN and LONG S fold to k and s in Go.
  ExpectRefused(Edited([&](json::Value& doc) { doc["hoo\u212As"] = Json(hook); }), "as \"hooks\"");
  ExpectRefused(Edited([&](json::Value& doc) { doc["mount\u017F"] = Json("[]"); }),
                "as \"mounts\"");
  ExpectRefused(Edited([&](json::Value& doc) {
                  Linux(doc)["Devices"] = Json(R"([{"path": "/dev/sda", "type": "b",
                                                     "major": 8, "minor": 0}])");
                }),
                "linux: key \"Devices\"");
  ExpectRefused(Edited([&](json::Value& doc) {
                  doc["process"]["Capabilities"] = Json(R"({"bounding": []})");
                }),
                "process: key \"Capabilities\"");
  ExpectRefused(
      Edited([&](json::Value& doc) {
        Mounts(doc).push_back(Json(R"({"destination": "/h", "Source": "/", "type": "tmpfs"})"));
      }),
      "mounts: key \"Source\"");
  // Annotation and sysctl names are data, matched exactly by runc.
  ExpectAccepted(Edited([&](json::Value& doc) {
    doc["annotations"] = Json(R"({"Hooks": "x", "Path": "y"})");
    Linux(doc)["sysctl"] = Json(R"({"net.ipv4.tcp_syncookies": "1"})");
  }));
}

TEST(OciPolicyTest, MalformedSectionsAreRefusedNotIgnored) {
  ExpectRefused(Edited([](json::Value& doc) { doc["hooks"] = "x"; }), "hooks");
  ExpectRefused(Edited([](json::Value& doc) { doc["mounts"] = json::Value::object(); }), "mounts");
  ExpectRefused(
      Edited([](json::Value& doc) { Linux(doc)["namespaces"] = Json(R"([{"type": 7}])"); }),
      "namespaces");
}

TEST(OciPolicyTest, APolicyThatCannotMeanWhatItSaysIsRefused) {
  EXPECT_TRUE(ValidateOciPolicy(OciPolicy()).ok());
  auto refused = [](const std::function<void(OciPolicy&)>& edit, const std::string& text) {
    OciPolicy policy;
    edit(policy);
    Status st = ValidateOciPolicy(policy);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
  };
  refused([](OciPolicy& p) { p.add_allowed_bind_prefixes("srv/data"); }, "allowed_bind_prefixes");
  refused([](OciPolicy& p) { p.add_allowed_hook_paths("/usr/../bin/sh"); }, "allowed_hook_paths");
  refused([](OciPolicy& p) { p.add_allowed_devices("sda"); }, "allowed_devices");
  refused([](OciPolicy& p) { p.add_allowed_host_namespaces("net"); }, "allowed_host_namespaces");
  refused([](OciPolicy& p) { p.add_allowed_capabilities("SYS_ADMIN"); }, "allowed_capabilities");
}

class ReceivedBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/oci-policy-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/bundle").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/bundle/config.json", kRuncSpec).ok());
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  Status Check() { return CheckReceivedBundle(dir_ + "/bundle", *OciConfig::Parse(kRuncSpec)); }
  std::string dir_;
};

TEST_F(ReceivedBundleTest, RootIsARealDirectoryInsideTheBundle) {
  ASSERT_TRUE(MakeDirs(dir_ + "/bundle/rootfs").ok());
  EXPECT_TRUE(Check().ok()) << Check().ToString();
}

TEST_F(ReceivedBundleTest, RootfsThatIsASymlinkIsRefused) {
  ASSERT_EQ(::symlink("/", (dir_ + "/bundle/rootfs").c_str()), 0);
  Status st = Check();
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("rootfs"), std::string::npos) << st.message();
}

TEST_F(ReceivedBundleTest, MissingRootOrSymlinkedConfigIsRefused) {
  EXPECT_EQ(Check().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(MakeDirs(dir_ + "/bundle/rootfs").ok());
  ASSERT_EQ(::unlink((dir_ + "/bundle/config.json").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/host.json", kRuncSpec).ok());
  ASSERT_EQ(::symlink((dir_ + "/host.json").c_str(), (dir_ + "/bundle/config.json").c_str()), 0);
  Status st = Check();
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("config.json"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace migrate::runtime
