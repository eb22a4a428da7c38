#include "agent/runtime/mode_plan.h"

#include <gtest/gtest.h>

namespace migrate::runtime {
namespace {

Version V(const char* text) { return *ParseVersion(text); }

const char* kOldRuncs[] = {"1.1.5", "1.1.15", "1.2.0", "1.2.6"};

TEST(ModePlanTest, StrictRestoreIsRefusedOnEveryRuncWithTheReason) {
  for (const char* version : {"1.1.5", "1.1.15", "1.2.6", "1.3.0", "1.4.1"}) {
    ModePlan plan = PlanRuncRestore(V(version), CgroupMode::kStrict);
    EXPECT_FALSE(plan.allowed()) << version;
    EXPECT_EQ(plan.mechanism, ModeMechanism::kRefused);
    EXPECT_NE(plan.reason.find("runc creates"), std::string::npos) << plan.reason;
    EXPECT_NE(plan.reason.find("Abort restore of existing cgroups"), std::string::npos);
    EXPECT_TRUE(plan.runtime_args.empty());
    EXPECT_EQ(plan.ToStatus().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(plan.ToStatus().message(), plan.reason);
  }
  EXPECT_TRUE(PlanRuncRestore(V("1.1.5"), CgroupMode::kSoft).ToStatus().ok());
}

TEST(ModePlanTest, OldRuncRestoresEveryModeThroughTheConfigFile) {
  for (const char* version : kOldRuncs) {
    for (CgroupMode mode : {CgroupMode::kIgnore, CgroupMode::kSoft, CgroupMode::kFull,
                            CgroupMode::kNone, CgroupMode::kProps}) {
      ModePlan plan = PlanRuncRestore(V(version), mode);
      ASSERT_TRUE(plan.allowed()) << version << " " << CgroupModeName(mode);
      EXPECT_EQ(plan.mechanism, ModeMechanism::kCriuConfigFile) << version;
      EXPECT_EQ(plan.expected, mode);
      EXPECT_EQ(plan.config_file_text,
                "manage-cgroups=" + std::string(CgroupModeName(mode)) + "\n");
      EXPECT_TRUE(plan.runtime_args.empty()) << "the flag is not read by runc " << version;
    }
  }
}

TEST(ModePlanTest, Runc13PassesTheFlag) {
  for (CgroupMode mode : {CgroupMode::kIgnore, CgroupMode::kSoft, CgroupMode::kFull}) {
    ModePlan plan = PlanRuncRestore(V("1.3.0"), mode);
    ASSERT_TRUE(plan.allowed());
    EXPECT_EQ(plan.mechanism, ModeMechanism::kRuntimeFlag);
    EXPECT_EQ(plan.runtime_args, (std::vector<std::string>{"--manage-cgroups-mode",
                                                           std::string(CgroupModeName(mode))}));
    EXPECT_TRUE(plan.config_file_text.empty());
  }
  // runc's flag has no value for none/props: the config file again.
  EXPECT_EQ(PlanRuncRestore(V("1.3.0"), CgroupMode::kProps).mechanism,
            ModeMechanism::kCriuConfigFile);
}

TEST(ModePlanTest, CheckpointFlagCarriesNonZeroModesOnEveryRunc) {
  for (const char* version : {"1.1.5", "1.1.15", "1.2.3", "1.3.0"}) {
    for (CgroupMode mode : {CgroupMode::kSoft, CgroupMode::kFull, CgroupMode::kStrict}) {
      ModePlan plan = PlanRuncCheckpoint(V(version), mode, /*owned_config_file=*/false);
      EXPECT_EQ(plan.mechanism, ModeMechanism::kRuntimeFlag) << version;
      EXPECT_EQ(plan.expected, mode);
      EXPECT_TRUE(plan.note.empty());
    }
  }
}

TEST(ModePlanTest, CheckpointIgnoreOnOldRuncNeedsAnOwnedConfigFile) {
  for (const char* version : kOldRuncs) {
    ModePlan owned = PlanRuncCheckpoint(V(version), CgroupMode::kIgnore, true);
    EXPECT_EQ(owned.mechanism, ModeMechanism::kCriuConfigFile) << version;
    EXPECT_EQ(owned.expected, CgroupMode::kIgnore);
    EXPECT_EQ(owned.config_file_text, "manage-cgroups=ignore\n");

    // Not created by migrate: the dump runs soft, and the plan says so instead of pretending.
    ModePlan foreign = PlanRuncCheckpoint(V(version), CgroupMode::kIgnore, false);
    EXPECT_TRUE(foreign.allowed()) << "the restore mode governs; the dump still proceeds";
    EXPECT_EQ(foreign.mechanism, ModeMechanism::kRuntimeDefault);
    EXPECT_EQ(foreign.expected, CgroupMode::kSoft);
    EXPECT_NE(foreign.note.find("dump side cannot run ignore"), std::string::npos) << foreign.note;
    EXPECT_TRUE(foreign.runtime_args.empty()) << "runc 1.1 rejects --manage-cgroups-mode ignore";
  }
  ModePlan v13 = PlanRuncCheckpoint(V("1.3.0"), CgroupMode::kIgnore, false);
  EXPECT_EQ(v13.mechanism, ModeMechanism::kRuntimeFlag);
  EXPECT_EQ(v13.expected, CgroupMode::kIgnore);
}

TEST(ModePlanTest, ConfigFileNeverUsesTheWhitespaceForm) {
  for (CgroupMode mode : kAllCgroupModes) {
    ModePlan plan = PlanRuncRestore(V("1.1.5"), mode);
    if (!plan.allowed()) continue;
    EXPECT_EQ(plan.config_file_text.find("manage-cgroups "), std::string::npos);
    EXPECT_EQ(plan.config_file_text.rfind("manage-cgroups=", 0), 0u);
  }
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// crun 1.21 measured (docs/runtime-measurements.md): restore always runs soft.
TEST(CrunModePlanTest, Crun121RestoresOnlySoftAndSaysWhatWorksInstead) {
  ModePlan soft = PlanCrunRestore(V("1.21"), CgroupMode::kSoft);
  EXPECT_TRUE(soft.allowed());
  EXPECT_EQ(soft.mechanism, ModeMechanism::kRuntimeDefault);
  for (CgroupMode mode : {CgroupMode::kIgnore, CgroupMode::kFull, CgroupMode::kStrict,
                          CgroupMode::kNone, CgroupMode::kProps}) {
    ModePlan plan = PlanCrunRestore(V("1.21"), mode);
    EXPECT_FALSE(plan.allowed()) << CgroupModeName(mode);
    EXPECT_NE(plan.reason.find("crun 1.21.0"), std::string::npos) << plan.reason;
    EXPECT_NE(plan.reason.find("use soft"), std::string::npos) << plan.reason;
  }
  EXPECT_NE(PlanCrunRestore(V("1.21"), CgroupMode::kIgnore).reason.find("--cgroup-path"),
            std::string::npos);
}

TEST(CrunModePlanTest, CrunCheckpointPassesEveryFlagMode) {
  for (CgroupMode mode : {CgroupMode::kIgnore, CgroupMode::kSoft, CgroupMode::kFull,
                          CgroupMode::kStrict}) {
    ModePlan plan = PlanCrunCheckpoint(V("1.21"), mode);
    EXPECT_EQ(plan.mechanism, ModeMechanism::kRuntimeFlag);
    EXPECT_EQ(plan.expected, mode);
    EXPECT_EQ(plan.description.rfind("crun flag", 0), 0u) << plan.description;
  }
  EXPECT_EQ(PlanCrunCheckpoint(V("1.21"), CgroupMode::kProps).expected, CgroupMode::kSoft);
}

TEST(CrunModePlanTest, LaterCrunsReadTheConfigFileThenTheFlag) {
  EXPECT_EQ(PlanCrunRestore(V("1.26"), CgroupMode::kIgnore).mechanism,
            ModeMechanism::kCriuConfigFile);
  EXPECT_EQ(PlanCrunRestore(V("1.30"), CgroupMode::kFull).mechanism, ModeMechanism::kRuntimeFlag);
  EXPECT_FALSE(PlanCrunRestore(V("1.30"), CgroupMode::kStrict).allowed());
}

TEST(CrunModePlanTest, DispatchByRuntimeName) {
  EXPECT_EQ(PlanRestoreFor("crun", V("1.21"), CgroupMode::kIgnore).mechanism,
            ModeMechanism::kRefused);
  EXPECT_EQ(PlanRestoreFor("runc", V("1.3.6"), CgroupMode::kIgnore).mechanism,
            ModeMechanism::kRuntimeFlag);
  EXPECT_EQ(PlanCheckpointFor("runc", V("1.2.9"), CgroupMode::kIgnore, true).mechanism,
            ModeMechanism::kCriuConfigFile);
}

TEST(CgroupPathTest, OnlyIgnoreAndSoftTakeANewCgroupPath) {
  EXPECT_TRUE(ModeTakesCgroupPath(CgroupMode::kIgnore));
  EXPECT_TRUE(ModeTakesCgroupPath(CgroupMode::kSoft));
  EXPECT_FALSE(ModeTakesCgroupPath(CgroupMode::kFull));
  EXPECT_FALSE(ModeTakesCgroupPath(CgroupMode::kStrict));
  EXPECT_TRUE(IgnoreLosesCgroupNamespace(4, 1, 1));
  EXPECT_TRUE(IgnoreLosesCgroupNamespace(4, 2, 1));
  EXPECT_FALSE(IgnoreLosesCgroupNamespace(4, 3, 0));
}

}  // namespace
}  // namespace migrate::runtime
