#include "agent/runtime/oci_config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"

namespace migrate::runtime {
namespace {

// The shape `runc spec` writes, trimmed.
constexpr const char* kSpec = R"({
  "ociVersion": "1.0.2-dev",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
              "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}]},
  "root": {"path": "rootfs", "readonly": true},
  "linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": "/host-a/web-1",
            "namespaces": [{"type": "pid"}, {"type": "network"}]}
})";

TEST(OciConfigTest, RewritesCgroupsPathAndKeepsTheRest) {
  Result<OciConfig> config = OciConfig::Parse(kSpec);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->cgroups_path(), "/host-a/web-1");
  config->set_cgroups_path("/host-b/web-1");
  EXPECT_EQ(config->cgroups_path(), "/host-b/web-1");
  std::string out = config->ToString();
  EXPECT_NE(out.find("18446744073709551615"), std::string::npos) << "no float rounding";
  EXPECT_NE(out.find("\"readonly\": true"), std::string::npos);
  Result<OciConfig> back = OciConfig::Parse(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cgroups_path(), "/host-b/web-1");
  // Member order kept: linux still ends with namespaces after cgroupsPath.
  EXPECT_LT(out.find("cgroupsPath"), out.find("namespaces"));
}

// config.json is edited and written back for runc: every member stays where it was (an edit
// replaces in place, an addition comes last) and integers keep their exact value.
TEST(OciConfigTest, RewriteKeepsMemberOrderAndExactIntegers) {
  Result<OciConfig> config = OciConfig::Parse(R"({"ociVersion": "1.0.2",
    "process": {"oomScoreAdj": -9223372036854775808, "rlimits": [{"hard": 18446744073709551615}]},
    "linux": {"uidMappings": [], "cgroupsPath": "/host-a/web-1", "sysctl": {}},
    "annotations": {"z.first": "1", "a.second": "2"}})");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  config->set_cgroups_path("/host-b/web-1");
  config->set_annotation("m.third", "3");
  config->set_annotation("z.first", "one");
  const std::string out = config->ToString();
  std::vector<size_t> at;
  for (const char* key :
       {"ociVersion", "process", "oomScoreAdj", "rlimits", "linux", "uidMappings", "cgroupsPath",
        "sysctl", "annotations", "z.first", "a.second", "m.third"}) {
    at.push_back(out.find(std::string("\"") + key + "\""));
    EXPECT_NE(at.back(), std::string::npos) << key;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << out;
  EXPECT_NE(out.find("\"oomScoreAdj\": -9223372036854775808"), std::string::npos) << out;
  EXPECT_NE(out.find("\"hard\": 18446744073709551615"), std::string::npos) << out;
  EXPECT_NE(out.find("\"cgroupsPath\": \"/host-b/web-1\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"z.first\": \"one\""), std::string::npos) << out;
}

// What runc (Go's encoding/json) would read differently from what migrate judged, or not
// at all, is refused with the place of the problem.
TEST(OciConfigTest, RefusesWhatRuncWouldReadOtherwise) {
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {"{\"hooks\": {},\n \"hooks\": {\"prestart\": [{\"path\": \"/bin/sh\"}]}}",
            "duplicate member \"hooks\" at line 2, column 8"},
           {"{\"linux\": {\"cgroupsPath\": \"/a\", \"cgroupsPath\": \"/b\"}}",
            "duplicate member \"cgroupsPath\""},
           {"{\"hoo\xe2\x84ks\": {}}", "UTF-8"},
           {"{\"ociVersion\": \"1.0.2\"} {\"hooks\": {}}", "at line 1, column 25"},
           {"{\"ociVersion\": \"1.0.2\" /* a note */}", "at line 1, column 24"},
           {std::string(300, '[') + std::string(300, ']'), "nesting deeper than 256"},
       }) {
    Result<OciConfig> config = OciConfig::Parse(c.text);
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find("config.json: JSON: "), std::string::npos)
        << config.status().ToString();
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status().ToString();
  }
}

TEST(OciConfigTest, CreatesLinuxAndAnnotations) {
  Result<OciConfig> config = OciConfig::Parse(R"({"ociVersion":"1.0.2"})");
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->cgroups_path().has_value());
  EXPECT_FALSE(config->annotation(kCriuConfigAnnotation).has_value());
  config->set_cgroups_path("/x/y");
  config->set_annotation(kCriuConfigAnnotation, "/run/migrate/criu/y.conf");
  EXPECT_EQ(config->cgroups_path(), "/x/y");
  EXPECT_EQ(config->annotation("org.criu.config"), "/run/migrate/criu/y.conf");
  config->set_annotation(kCriuConfigAnnotation, "/other");
  EXPECT_EQ(config->annotation("org.criu.config"), "/other");
  EXPECT_TRUE(config->remove_annotation("org.criu.config"));
  EXPECT_FALSE(config->annotation("org.criu.config").has_value());
}

TEST(OciConfigTest, NetworkNamespaceAndHooks) {
  Result<OciConfig> config = OciConfig::Parse(kSpec);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->creates_network_namespace());
  EXPECT_FALSE(OciConfig::Parse(R"({"linux":{"namespaces":[{"type":"pid"}]}})")
                   ->creates_network_namespace());
  EXPECT_FALSE(
      OciConfig::Parse(R"({"linux":{"namespaces":[{"type":"network","path":"/run/netns/a"}]}})")
          ->creates_network_namespace());

  EXPECT_EQ(config->CountHooks("prestart", "mark-1"), 0);
  config->SetHook("prestart", "mark-1", "/bin/sh", {"sh", "-c", "# mark-1\necho 1"}, {"PATH=/bin"});
  config->SetHook("prestart", "mark-1", "/bin/sh", {"sh", "-c", "# mark-1\necho 2"}, {});
  config->SetHook("prestart", "other", "/bin/true", {"true", "other"}, {});
  EXPECT_EQ(config->CountHooks("prestart", "mark-1"), 1) << "replaced, not added twice";
  EXPECT_EQ(config->CountHooks("prestart", "other"), 1);
  std::string out = config->ToString();
  EXPECT_NE(out.find("echo 2"), std::string::npos);
  EXPECT_EQ(out.find("echo 1"), std::string::npos);
  Result<OciConfig> back = OciConfig::Parse(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->CountHooks("prestart", "mark-1"), 1);
}

TEST(OciConfigTest, RejectsWhatIsNotAConfig) {
  EXPECT_FALSE(OciConfig::Parse("[]").ok());
  EXPECT_FALSE(OciConfig::Parse("{").ok());
  EXPECT_FALSE(OciConfig::Parse(R"({"linux": 3})").ok());
  EXPECT_FALSE(OciConfig::Parse(R"({"annotations": []})").ok());
}

TEST(OciConfigTest, SaveAndLoad) {
  char tmpl[] = "/tmp/oci-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/config.json";
  Result<OciConfig> config = OciConfig::Parse(kSpec);
  ASSERT_TRUE(config.ok());
  config->set_cgroups_path("/new");
  ASSERT_TRUE(config->Save(path).ok());
  Result<OciConfig> loaded = OciConfig::Load(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->cgroups_path(), "/new");
  EXPECT_EQ(OciConfig::Load(std::string(tmpl) + "/missing.json").status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(RemoveTree(tmpl).ok());
}

// A received bundle is the source's: a config.json that is a symlink would make the agent
// read a host file as the container's config.
TEST(OciConfigTest, LoadRefusesASymlinkedConfig) {
  char tmpl[] = "/tmp/oci-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_TRUE(WriteFileAtomic(dir + "/host-file.json", R"({"host":"secret"})").ok());
  ASSERT_EQ(::symlink((dir + "/host-file.json").c_str(), (dir + "/config.json").c_str()), 0);
  Result<OciConfig> loaded = OciConfig::Load(dir + "/config.json");
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << loaded.status().ToString();
  EXPECT_NE(loaded.status().message().find("symlink"), std::string::npos)
      << loaded.status().ToString();
  ASSERT_TRUE(RemoveTree(dir).ok());
}

// ... and a `config.json.tmp.<pid>` symlink planted in it would make the agent write the
// edited config through it into any host file.
TEST(OciConfigTest, SaveNeverWritesThroughAPlantedTempFile) {
  char tmpl[] = "/tmp/oci-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string canary = dir + "/canary";
  ASSERT_TRUE(WriteFileAtomic(canary, "host file, untouched\n").ok());
  const std::string tmp = dir + "/config.json.tmp." + std::to_string(::getpid());
  ASSERT_EQ(::symlink(canary.c_str(), tmp.c_str()), 0);
  Result<OciConfig> config = OciConfig::Parse(kSpec);
  ASSERT_TRUE(config.ok());
  ASSERT_TRUE(config->Save(dir + "/config.json").ok());
  EXPECT_EQ(*ReadFile(canary), "host file, untouched\n");
  EXPECT_TRUE(OciConfig::Load(dir + "/config.json").ok());
  struct stat st;
  EXPECT_NE(::lstat(tmp.c_str(), &st), 0) << "the planted link is gone, not followed";
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace migrate::runtime
