#include "agent/runtime/criu_log.h"

#include <gtest/gtest.h>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

std::string Data(const std::string& name) {
  Result<std::string> text = ReadFile(std::string(MIGRATE_RUNTIME_TESTDATA) + "/" + name);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : std::string();
}

struct RestoreCase {
  const char* file;
  CgroupMode expected;
};

class RestoreLogTest : public ::testing::TestWithParam<RestoreCase> {};

TEST_P(RestoreLogTest, EffectiveModeFromRealLog) {
  Result<RestoreLogFinding> finding = ParseRestoreLogMode(Data(GetParam().file));
  ASSERT_TRUE(finding.ok()) << finding.status().ToString();
  EXPECT_EQ(finding->mode, GetParam().expected)
      << GetParam().file << ": got " << CgroupModeName(finding->mode);
  if (GetParam().expected == CgroupMode::kIgnore) {
    EXPECT_NE(finding->evidence.find("no \"cg: Preparing cgroups yard\" line"), std::string::npos);
  } else {
    EXPECT_NE(finding->evidence.find("cg: Preparing cgroups yard (cgroups restore mode 0x"),
              std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    RealLogs, RestoreLogTest,
    ::testing::Values(RestoreCase{"restore-ignore-configfile.log", CgroupMode::kIgnore},
                      RestoreCase{"restore-none-configfile.log", CgroupMode::kNone},
                      RestoreCase{"restore-props-configfile.log", CgroupMode::kProps},
                      RestoreCase{"restore-soft-configfile.log", CgroupMode::kSoft},
                      RestoreCase{"restore-full-configfile.log", CgroupMode::kFull},
                      RestoreCase{"restore-strict-configfile.log", CgroupMode::kStrict},
                      // The trap: "manage-cgroups ignore" parses and yields soft.
                      RestoreCase{"restore-ignore-whitespace-trap.log", CgroupMode::kSoft},
                      // The original bug: runc 1.1.5 drops --manage-cgroups-mode on restore.
                      RestoreCase{"restore-ignore-flag-only-runc-1.1.5.log", CgroupMode::kSoft}));

TEST(CriuLogTest, WhitespaceTrapStillReadsTheConfigFile) {
  // CRIU opened the file and did not complain: only the mode line tells the truth.
  std::string log = Data("restore-ignore-whitespace-trap.log");
  EXPECT_FALSE(ConfigFilesParsed(log).empty());
  EXPECT_EQ(ParseRestoreLogMode(log)->mode, CgroupMode::kSoft);
}

TEST(CriuLogTest, ConfigFilesParsed) {
  EXPECT_EQ(ConfigFilesParsed(Data("restore-ignore-configfile.log")),
            std::vector<std::string>{"/tmp/rtx/c1.conf"});
  // runc's default /etc/criu/runc.conf does not exist here: "Would overwrite" only.
  EXPECT_TRUE(ConfigFilesParsed(Data("restore-ignore-flag-only-runc-1.1.5.log")).empty());
}

TEST(CriuLogTest, DumpLogTellsIgnoreFromManaged) {
  Result<DumpLogFinding> soft = ParseDumpLog(Data("dump-soft-default.log"));
  ASSERT_TRUE(soft.ok());
  EXPECT_TRUE(soft->cgroups_managed);
  EXPECT_GT(soft->adding_cgroup_lines, 0);
  EXPECT_TRUE(soft->dump_finished);
  EXPECT_NE(soft->evidence.find("cg: adding cgroup"), std::string::npos);

  Result<DumpLogFinding> ignore = ParseDumpLog(Data("dump-ignore-configfile.log"));
  ASSERT_TRUE(ignore.ok());
  EXPECT_FALSE(ignore->cgroups_managed);
  EXPECT_EQ(ignore->adding_cgroup_lines, 0);
  EXPECT_EQ(ignore->dumping_value_lines, 0);
  EXPECT_TRUE(ignore->dump_finished);
}

TEST(CriuLogTest, RejectsWhatIsNotACompleteEnoughLog) {
  EXPECT_FALSE(ParseRestoreLogMode("").ok());
  EXPECT_FALSE(ParseRestoreLogMode("runc: something failed\n").ok());
  // A CRIU log that stops before the cgroup set-up cannot claim ignore.
  std::string head = "(00.000000) Version: 4.1.1 (gitid 0)\n(00.000100) Error: early\n";
  EXPECT_FALSE(ParseRestoreLogMode(head).ok());
  std::string bad_flag =
      "(00.0) Version: 4.1.1\n(00.1) cg: Preparing cgroups yard (cgroups "
      "restore mode 0x6)\n";
  EXPECT_FALSE(ParseRestoreLogMode(bad_flag).ok());
  EXPECT_FALSE(ParseDumpLog("no version here").ok());
}

TEST(CriuLogTest, ConfigText) {
  EXPECT_EQ(CriuConfigForMode(CgroupMode::kIgnore), "manage-cgroups=ignore\n");
  EXPECT_EQ(CriuConfigForMode(CgroupMode::kFull), "manage-cgroups=full\n");
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// What CRIU warns about reaches the report; what it prints on every run does not.
TEST(CriuWarningsTest, KeepsWhatMattersOnceAndDropsTheHarmless) {
  const std::string log =
      "(00.000100) Version: 4.1.1 (gitid 0)\n"
      "(00.010000) Warn  (criu/cr-restore.c:1043): Set CLONE_PARENT | CLONE_NEWPID but it "
      "might cause restore problem,because not all kernels support such clone flags "
      "combinations!\n"
      "(00.020000) Warn  (criu/fsnotify.c:286): fsnotify: The 0x1 inotify events will be "
      "dropped\n"
      "(00.020100) Warn  (criu/fsnotify.c:286): fsnotify: The 0x1 inotify events will be "
      "dropped\n"
      "(00.030000) Warn  (criu/cr-dump.c:1230): Will restore 42 with interrupted system call\n"
      "(00.040000) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self\n"
      "(00.050000) Warn  (criu/sk-unix.c:901): unix: Shutdown mismatch 1:3 -> 3\n";
  EXPECT_EQ(CriuWarnings(log),
            (std::vector<std::string>{"fsnotify: The 0x1 inotify events will be dropped",
                                      "unix: Shutdown mismatch 1:3 -> 3"}));
  EXPECT_TRUE(CriuWarnings("(00.1) Version: 4.1.1\n(00.2) Dumping finished successfully\n").empty());
}

TEST(CriuWarningsTest, WhatSkipInFlightDroppedIsAWarning) {
  EXPECT_EQ(CriuWarnings("(00.000100) Will skip in-flight TCP connections\n"
                         "(00.090000) Skipping in-flight connection (l) for 925c18\n"),
            std::vector<std::string>{"Skipping in-flight connection (l) for 925c18"});
}

}  // namespace
}  // namespace migrate::runtime
