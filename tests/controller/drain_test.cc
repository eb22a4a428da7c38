// `migrate drain`: the plan (what goes where, what is skipped and why), the run (how many at
// a time, what stops it), the exit status and the table.
#include "controller/drain.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace migrate::controller {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

proto::ContainerInfo Container(const std::string& id, uint64_t memory_mib,
                               const std::string& status = "running") {
  proto::ContainerInfo c;
  c.set_container_id(id);
  c.set_status(status);
  c.set_memory_bytes(memory_mib * kMiB);
  c.set_rootfs_bytes(10 * kMiB);
  return c;
}

std::string Reason(const std::vector<proto::DrainMove>& moves, const std::string& id) {
  for (const proto::DrainMove& m : moves) {
    if (m.container() == id) return m.reason();
  }
  return "absent";
}

DestinationRoom Room(const std::string& name, uint64_t memory_mib, uint64_t disk_mib = 100000) {
  return {name, memory_mib * kMiB, disk_mib * kMiB, ""};
}

std::string Where(const std::vector<proto::DrainMove>& moves, const std::string& id) {
  for (const proto::DrainMove& m : moves) {
    if (m.container() == id) return m.status().empty() ? m.destination() : m.status();
  }
  return "absent";
}

TEST(DrainPlanTest, BiggestFirstEachToTheDestinationWithTheMostMemoryLeft) {
  DrainPlanInput in;
  in.source = "host-a";
  in.containers = {Container("small", 100), Container("big", 1000), Container("mid", 500)};
  in.destinations = {Room("host-b", 1200), Room("host-c", 1000)};
  std::vector<proto::DrainMove> moves = PlanDrain(in);
  ASSERT_EQ(moves.size(), 3u);
  EXPECT_EQ(moves[0].container(), "big");
  EXPECT_EQ(moves[1].container(), "mid");
  EXPECT_EQ(moves[2].container(), "small");
  EXPECT_EQ(Where(moves, "big"), "host-b");    // b 1200 -> 200 left
  EXPECT_EQ(Where(moves, "mid"), "host-c");    // c 1000 -> 500 left
  EXPECT_EQ(Where(moves, "small"), "host-c");  // c has 500, b 200
}

TEST(DrainPlanTest, WhatFitsNowhereIsSkippedNamingTheBestRoom) {
  DrainPlanInput in;
  in.source = "host-a";
  in.containers = {Container("huge", 5000), Container("disk-hungry", 100), Container("ok", 100)};
  in.containers[1].set_rootfs_bytes(900 * kMiB);
  in.destinations = {Room("host-b", 2000, 500)};
  std::vector<proto::DrainMove> moves = PlanDrain(in);
  EXPECT_EQ(Where(moves, "huge"), "skipped");
  EXPECT_NE(moves[0].reason().find("no destination has room"), std::string::npos);
  EXPECT_NE(moves[0].reason().find("host-b"), std::string::npos) << moves[0].reason();
  EXPECT_EQ(Where(moves, "disk-hungry"), "skipped") << "images and root file system need disk";
  EXPECT_EQ(Where(moves, "ok"), "host-b");
}

TEST(DrainPlanTest, OnlyRunningContainersMoveAndOnlyTheNamedOnes) {
  DrainPlanInput in;
  in.source = "host-a";
  in.containers = {Container("web", 10), Container("db", 10, "paused"), Container("job", 10)};
  in.destinations = {Room("host-b", 1000)};
  std::vector<proto::DrainMove> all = PlanDrain(in);
  EXPECT_EQ(Where(all, "web"), "host-b");
  EXPECT_EQ(Where(all, "job"), "host-b");
  EXPECT_EQ(Where(all, "db"), "skipped");

  in.only = {"web", "ghost", "db"};
  std::vector<proto::DrainMove> some = PlanDrain(in);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(Where(some, "web"), "host-b");
  EXPECT_EQ(Where(some, "job"), "absent");
  EXPECT_EQ(Where(some, "ghost"), "skipped");
  EXPECT_NE(Reason(some, "ghost").find("no such container on host-a"), std::string::npos);
  EXPECT_NE(Reason(some, "db").find("paused"), std::string::npos);
}

TEST(DrainPlanTest, AnUnreachableDestinationGetsNothing) {
  DrainPlanInput in;
  in.source = "host-a";
  in.containers = {Container("web", 10)};
  in.destinations = {{"host-b", 0, 0, "Unavailable: connect: Connection refused"}};
  std::vector<proto::DrainMove> moves = PlanDrain(in);
  EXPECT_EQ(Where(moves, "web"), "skipped");
  EXPECT_NE(moves[0].reason().find("could be asked"), std::string::npos);
}

proto::DrainReport Planned(int n) {
  proto::DrainReport report;
  report.set_source("host-a");
  for (int i = 0; i < n; ++i) {
    proto::DrainMove& m = *report.add_moves();
    m.set_container("c" + std::to_string(i));
    m.set_destination("host-b");
  }
  return report;
}

proto::Report Outcome(const std::string& status) {
  proto::Report r;
  r.set_status(status);
  if (status != "migrated") r.set_error("it broke");
  if (status == "rolled_back") r.set_frozen(true);
  return r;
}

TEST(DrainRunTest, NoMoreThanParallelMovesAtOnceAndAllOfThemRun) {
  proto::DrainReport report = Planned(6);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  DrainControl control;
  control.parallel = 2;
  RunDrain(report, control, [&](const proto::DrainMove&) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    return Outcome("migrated");
  });
  EXPECT_EQ(most.load(), 2);
  for (const proto::DrainMove& m : report.moves()) EXPECT_EQ(m.status(), "migrated");
  EXPECT_EQ(DrainExitCode(report), 0);
}

TEST(DrainRunTest, AFailureStopsNewMovesUnlessKeepGoing) {
  proto::DrainReport report = Planned(3);
  int calls = 0;
  RunDrain(report, DrainControl{}, [&](const proto::DrainMove&) {
    return Outcome(++calls == 1 ? "rolled_back" : "migrated");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(report.stopped());
  EXPECT_EQ(report.moves(0).status(), "rolled_back");
  EXPECT_EQ(report.moves(0).reason(), "it broke");
  EXPECT_EQ(report.moves(1).status(), "not_started");
  EXPECT_EQ(DrainExitCode(report), 3);

  proto::DrainReport again = Planned(3);
  calls = 0;
  DrainControl keep_going;
  keep_going.keep_going = true;
  RunDrain(again, keep_going, [&](const proto::DrainMove&) {
    return Outcome(++calls == 1 ? "failed" : "migrated");
  });
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(again.stopped());
  EXPECT_EQ(again.moves(2).status(), "migrated");
  EXPECT_EQ(DrainExitCode(again), 1);
}

TEST(DrainRunTest, AfterCtrlCTheRunningMoveEndsAndNoNewOneStarts) {
  proto::DrainReport report = Planned(3);
  std::atomic<bool> stop{false};
  DrainControl control;
  control.stop_new = &stop;
  int calls = 0;
  RunDrain(report, control, [&](const proto::DrainMove&) {
    ++calls;
    stop = true;  // the signal arrives while the first move runs
    return Outcome("migrated");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(report.interrupted());
  EXPECT_FALSE(report.stopped());
  EXPECT_EQ(report.moves(0).status(), "migrated");
  EXPECT_EQ(report.moves(1).status(), "not_started");
  EXPECT_EQ(report.moves(1).reason(), "interrupted before it started");
}

TEST(DrainRunTest, SkippedMovesAreNotRunAndMakeTheExitOne) {
  proto::DrainReport report = Planned(2);
  report.mutable_moves(0)->set_status("skipped");
  int calls = 0;
  RunDrain(report, DrainControl{}, [&](const proto::DrainMove& m) {
    ++calls;
    EXPECT_EQ(m.container(), "c1");
    return Outcome("migrated");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(DrainExitCode(report), 1);
  proto::Report needs_operator = Outcome("failed");
  needs_operator.set_frozen(true);
  *report.mutable_moves(1)->mutable_report() = needs_operator;
  EXPECT_EQ(DrainExitCode(report), 4);
}

TEST(DrainReportTest, OneRowPerContainerAndASummary) {
  proto::DrainReport report = Planned(2);
  report.mutable_moves(0)->set_status("migrated");
  *report.mutable_moves(0)->mutable_report() = Outcome("migrated");
  report.mutable_moves(0)->mutable_report()->mutable_timings_ms()->set_downtime(812);
  report.mutable_moves(1)->set_status("skipped");
  report.mutable_moves(1)->set_reason("it is paused: only running containers move");
  const std::string text = DrainReportToText(report);
  EXPECT_NE(text.find("drain of host-a"), std::string::npos) << text;
  EXPECT_NE(text.find("812 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("it is paused"), std::string::npos) << text;
  EXPECT_NE(text.find("1 migrated, 1 skipped"), std::string::npos) << text;
}

}  // namespace
}  // namespace migrate::controller
