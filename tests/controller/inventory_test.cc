#include "controller/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>


namespace migrate::controller {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"({
  "hosts": [
    {"name": "host-a", "address": "10.77.0.1", "port": 7443},
    {"name": "host-b", "address": "10.77.0.2", "port": 7443, "data_address": "10.78.0.2"}
  ],
  "controller": {"ca": "pki/ca.pem", "cert": "pki/controller/cert.pem", "key": "/abs/key.pem"}
})";

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "migrate-inventory-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(InventoryTest, ParsesAndResolvesRelativePaths) {
  Result<proto::Inventory> inv = ParseInventory(kGood, "/etc/migrate", "hosts.json");
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->hosts_size(), 2);
  EXPECT_EQ(inv->hosts(0).name(), "host-a");
  EXPECT_EQ(inv->hosts(0).port(), 7443u);
  EXPECT_EQ(inv->hosts(0).data_address(), "10.77.0.1") << "defaults to address";
  EXPECT_EQ(inv->hosts(1).data_address(), "10.78.0.2");
  EXPECT_EQ(inv->controller().ca(), "/etc/migrate/pki/ca.pem");
  EXPECT_EQ(inv->controller().cert(), "/etc/migrate/pki/controller/cert.pem");
  EXPECT_EQ(inv->controller().key(), "/abs/key.pem");
  EXPECT_EQ(inv->controller().crl(), "") << "unset: crl.pem beside ca, if any";
}

TEST(InventoryTest, RevocationListPathResolvesLikeTheOthers) {
  Result<proto::Inventory> inv = ParseInventory(
      R"({"hosts": [{"name": "h", "address": "a", "port": 1}],
          "controller": {"ca": "c", "cert": "c", "key": "k", "crl": "pki/crl.pem"}})",
      "/etc/migrate", "hosts.json");
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->controller().crl(), "/etc/migrate/pki/crl.pem");
}

TEST(InventoryTest, LoadsFromFileRelativeToItsFolder) {
  TempDir dir;
  const std::string path = dir.path() + "/hosts.json";
  std::ofstream(path) << kGood;
  Result<proto::Inventory> inv = LoadInventory(path);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->controller().ca(), dir.path() + "/pki/ca.pem");
}

TEST(InventoryTest, MissingFileSaysHowToGiveOne) {
  TempDir dir;
  Result<proto::Inventory> inv = LoadInventory(dir.path() + "/nope.json");
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(inv.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(inv.status().message(), HasSubstr("MIGRATE_HOSTS"));
}

TEST(InventoryTest, BadJsonSaysLineAndColumn) {
  const std::string text = "{\n  \"hosts\": [\n    {\"name\": \"a\",}\n  ]\n}";
  Result<proto::Inventory> inv = ParseInventory(text, "/", "x.json");
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(inv.status().message(), HasSubstr("line 3, column 18"));
  EXPECT_THAT(inv.status().message(), HasSubstr("expected string literal"));
}

TEST(InventoryTest, UnknownFieldIsAnError) {
  const std::string text = R"({"hosts": [{"name": "a", "address": "x", "prot": 1}],
    "controller": {"ca": "c", "cert": "c", "key": "k"}})";
  Result<proto::Inventory> inv = ParseInventory(text, "/", "x.json");
  ASSERT_FALSE(inv.ok());
  EXPECT_THAT(inv.status().message(), HasSubstr("prot"));
}

TEST(InventoryTest, WrongTypeIsAnError) {
  const std::string text = R"({"hosts": [{"name": "a", "address": "x", "port": "many"}],
    "controller": {"ca": "c", "cert": "c", "key": "k"}})";
  EXPECT_FALSE(ParseInventory(text, "/", "x.json").ok());
}

struct BadInventory {
  const char* name;
  const char* json;
  const char* message;
};

class InventoryValidationTest : public ::testing::TestWithParam<BadInventory> {};

TEST_P(InventoryValidationTest, IsRefusedWithAClearMessage) {
  Result<proto::Inventory> inv = ParseInventory(GetParam().json, "/", "x.json");
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(inv.status().message(), HasSubstr(GetParam().message));
}

#define CTL R"("controller": {"ca": "c", "cert": "c", "key": "k"})"
INSTANTIATE_TEST_SUITE_P(
    Refusals, InventoryValidationTest,
    ::testing::Values(
        BadInventory{"NoHosts", "{" CTL "}", "missing \"hosts\""},
        BadInventory{"NoName", R"({"hosts": [{"address": "x", "port": 1}], )" CTL "}",
                     "hosts[0].name"},
        BadInventory{"NoAddress", R"({"hosts": [{"name": "a", "port": 1}], )" CTL "}",
                     "hosts[0] (\"a\").address"},
        BadInventory{"NoPort", R"({"hosts": [{"name": "a", "address": "x"}], )" CTL "}",
                     "hosts[0] (\"a\").port"},
        BadInventory{"PortTooLarge",
                     R"({"hosts": [{"name": "a", "address": "x", "port": 70000}], )" CTL "}",
                     "not in 1..65535"},
        BadInventory{"DuplicateNames",
                     R"({"hosts": [{"name": "a", "address": "x", "port": 1},
                                   {"name": "a", "address": "y", "port": 2}], )" CTL "}",
                     "duplicate host name \"a\""},
        BadInventory{"NoController", R"({"hosts": [{"name": "a", "address": "x", "port": 1}]})",
                     "controller.ca"},
        BadInventory{"NoKey",
                     R"({"hosts": [{"name": "a", "address": "x", "port": 1}],
                         "controller": {"ca": "c", "cert": "c"}})",
                     "controller.key"},
        BadInventory{"NotAnObject", "[1, 2]", "x.json"},
        BadInventory{"Empty", "", "line 1, column 1"}),
    [](const ::testing::TestParamInfo<BadInventory>& p) { return p.param.name; });
#undef CTL

TEST(InventoryTest, FindHostListsKnownNames) {
  Result<proto::Inventory> inv = ParseInventory(kGood, "/", "x.json");
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(FindHost(*inv, "host-b").ok());
  Result<proto::InventoryHost> missing = FindHost(*inv, "host-c");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("unknown host \"host-c\""));
  EXPECT_THAT(missing.status().message(), HasSubstr("host-a, host-b"));
}

TEST(InventoryTest, PathLookupOrder) {
  EXPECT_EQ(ChooseInventoryPath("/flag.json", "/env.json"), "/flag.json");
  EXPECT_EQ(ChooseInventoryPath("", "/env.json"), "/env.json");
  EXPECT_EQ(ChooseInventoryPath("", ""), kDefaultInventoryPath);
  EXPECT_EQ(ChooseInventoryPath("", nullptr), "/etc/migrate/hosts.json");
}

TEST(InventoryTest, BadJsonIsPointedAtByLineAndColumn) {
  struct Case {
    const char* text;
    const char* where;
  };
  for (const Case& c : {Case{"{\"hosts\" []}", "line 1, column 10"},
                        Case{"{\"hosts\": [\n  {},,\n]}", "line 2, column 6"},
                        Case{"{\"hosts\": []} {}", "line 1, column 15"}}) {
    Result<proto::Inventory> inv = ParseInventory(c.text, "/etc/migrate", "hosts.json");
    ASSERT_FALSE(inv.ok()) << c.text;
    EXPECT_EQ(inv.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(inv.status().message(), HasSubstr("hosts.json is not valid JSON")) << c.text;
    EXPECT_THAT(inv.status().message(), HasSubstr(c.where)) << c.text;
  }
}

}  // namespace
}  // namespace migrate::controller
