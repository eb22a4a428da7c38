// The report as printed: JSON keys and types exactly as docs/controller.md promises.
#include "controller/report.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "controller/migration.h"
#include "tests/controller/fake_agent_client.h"

namespace migrate::controller {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

proto::Report MigratedReport() {
  auto pair = testing::MakeHealthyPair(proto::CGROUP_MODE_IGNORE);
  MigrationRequest request;
  request.container_id = "web";
  request.source.set_name("host-a");
  request.destination.set_name("host-b");
  request.cgroup_mode = proto::CGROUP_MODE_IGNORE;
  testing::FakeClock clock;
  return Migration(request, *pair->source, *pair->destination, clock, nullptr).Run();
}

Struct ParseJson(const std::string& json) {
  Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

const Value& Field(const Struct& s, const std::string& key) {
  static const Value kMissing;
  auto it = s.fields().find(key);
  if (it == s.fields().end()) {
    ADD_FAILURE() << "missing key " << key;
    return kMissing;
  }
  return it->second;
}

TEST(ReportJsonTest, HasTheDocumentedKeysAndTypes) {
  const proto::Report report = MigratedReport();
  ASSERT_EQ(report.status(), "migrated") << report.error();
  const std::string json = ReportToJson(report);
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line, one object";
  const Struct root = ParseJson(json);

  EXPECT_EQ(Field(root, "status").string_value(), "migrated");
  EXPECT_EQ(Field(root, "container").string_value(), "web");
  EXPECT_EQ(Field(root, "source").string_value(), "host-a");
  EXPECT_EQ(Field(root, "destination").string_value(), "host-b");
  EXPECT_EQ(Field(root, "error").string_value(), "");

  const Struct& modes = Field(root, "cgroups_mode").struct_value();
  EXPECT_EQ(Field(modes, "requested").string_value(), "ignore");
  EXPECT_EQ(Field(modes, "dump_effective").string_value(), "ignore");
  EXPECT_EQ(Field(modes, "restore_effective").string_value(), "ignore");

  const Struct& timings = Field(root, "timings_ms").struct_value();
  for (const char* key : {"total", "downtime", "preflight", "prepare", "checkpoint_transfer",
                          "restore", "verify", "commit", "rollback"}) {
    EXPECT_EQ(Field(timings, key).kind_case(), Value::kNumberValue) << key << " is a number";
  }
  EXPECT_EQ(Field(timings, "downtime").number_value(), 750);
  EXPECT_EQ(Field(timings, "rollback").number_value(), 0);

  const Struct& bytes = Field(root, "bytes").struct_value();
  EXPECT_EQ(Field(bytes, "raw").kind_case(), Value::kNumberValue);
  EXPECT_EQ(Field(bytes, "raw").number_value(), 300.0 * (1 << 20));
  EXPECT_EQ(Field(bytes, "wire").number_value(), 110.0 * (1 << 20));
}

TEST(ReportJsonTest, FailedReportCarriesTheError) {
  auto pair = testing::MakeHealthyPair();
  pair->destination->errors["Restore"] = Status::FailedPrecondition("runc restore failed");
  MigrationRequest request;
  request.container_id = "web";
  request.source.set_name("host-a");
  request.destination.set_name("host-b");
  testing::FakeClock clock;
  const proto::Report report =
      Migration(request, *pair->source, *pair->destination, clock, nullptr).Run();
  const Struct root = ParseJson(ReportToJson(report));
  EXPECT_EQ(Field(root, "status").string_value(), "rolled_back");
  EXPECT_THAT(Field(root, "error").string_value(), HasSubstr("runc restore failed"));
  EXPECT_EQ(Field(Field(root, "cgroups_mode").struct_value(), "restore_effective").string_value(),
            "");
  EXPECT_GT(Field(Field(root, "timings_ms").struct_value(), "rollback").number_value(), 0);
}

TEST(ReportTextTest, SaysWhatHappenedAndShowsTheEvidence) {
  const std::string text = ReportToText(MigratedReport());
  EXPECT_THAT(text, HasSubstr("migrated web host-a -> host-b"));
  EXPECT_THAT(text, HasSubstr("downtime: 750 ms"));
  EXPECT_THAT(text, HasSubstr("requested ignore, dump ran ignore, restore ran ignore"));
  EXPECT_THAT(text, HasSubstr("restore evidence: cg: Preparing cgroups yard"));
  EXPECT_THAT(text, HasSubstr("raw 300.0 MiB, wire 110.0 MiB"));
}

TEST(ReportTest, CriuOptionsInTextAndJson) {
  proto::Report report = MigratedReport();
  report.add_criu_options("link-remap: CRIU config file /s/w/criu-options.conf (CRIU_CONFIG_FILE)");
  EXPECT_THAT(ReportToText(report),
              HasSubstr("  CRIU option link-remap: CRIU config file /s/w/criu-options.conf"));
  const Struct root = ParseJson(ReportToJson(report));
  const auto& list = Field(root, "criu_options").list_value();
  ASSERT_EQ(list.values_size(), 1);
  EXPECT_THAT(list.values(0).string_value(), HasSubstr("link-remap: CRIU config file"));
}

TEST(ReportTest, ExitCodes) {
  proto::Report report;
  report.set_status("migrated");
  EXPECT_EQ(ExitCodeForReport(report), 0);
  report.set_status("preflight_ok");
  EXPECT_EQ(ExitCodeForReport(report), 0);
  report.set_status("rolled_back");
  EXPECT_EQ(ExitCodeForReport(report), 3);
  report.set_status("failed");
  EXPECT_EQ(ExitCodeForReport(report), 1);
  report.set_frozen(true);
  EXPECT_EQ(ExitCodeForReport(report), 4);
}

TEST(ReportTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.50 KiB");
  EXPECT_EQ(HumanBytes(300.0 * (1 << 20)), "300.0 MiB");
  EXPECT_EQ(HumanBytes(1.25 * (1 << 30)), "1.25 GiB");
}

}  // namespace
}  // namespace migrate::controller
