#include "agent/early_freeze.h"

#include <chrono>

#include "agent/fence/cgroup_control.h"
#include "agent/runtime/file_util.h"
#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

constexpr auto kStep = std::chrono::milliseconds(1);
constexpr auto kGiveUp = std::chrono::seconds(30);  // a runc that never starts CRIU's dump
// CRIU's first line of a run that dumps (a feature check before it logs only its run id).
constexpr char kDumpRunStarted[] = "Version: ";
// CRIU logs this only when it found the cgroup thawed and froze it itself.
constexpr char kCriuFroze[] = "freezing processes:";

bool LogHas(const std::string& path, const char* text) {
  Result<std::string> log = runtime::ReadFile(path);
  return log.ok() && log->find(text) != std::string::npos;
}

}  // namespace

bool EarlyFreezeAllowed(runtime::CgroupMode restore_mode) {
  switch (restore_mode) {
    case runtime::CgroupMode::kIgnore:
    case runtime::CgroupMode::kNone:
    case runtime::CgroupMode::kSoft:
      return true;
    case runtime::CgroupMode::kProps:
    case runtime::CgroupMode::kFull:
    case runtime::CgroupMode::kStrict:
      break;
  }
  return false;
}

EarlyFreeze::EarlyFreeze(std::string criu_log, std::string freezer_dir)
    : log_(std::move(criu_log)), freezer_dir_(std::move(freezer_dir)) {
  thread_ = std::thread([this] { Run(); });
}

EarlyFreeze::~EarlyFreeze() { Stop(); }

bool EarlyFreeze::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return frozen_;
}

bool EarlyFreeze::WaitForDumpRun() {
  const auto give_up = std::chrono::steady_clock::now() + kGiveUp;
  while (!stop_ && std::chrono::steady_clock::now() < give_up) {
    if (LogHas(log_, kDumpRunStarted)) return true;
    std::this_thread::sleep_for(kStep);
  }
  return false;
}

std::unique_ptr<EarlyFreeze> StartEarlyFreeze(const runtime::Runtime& runtime,
                                              const runtime::CheckpointOptions& options,
                                              const std::string& freezer_dir) {
  const std::string log = runtime.CgroupFreezingDumpLog(options);
  if (log.empty() || !EarlyFreezeAllowed(options.cgroup_mode)) return nullptr;
  return std::make_unique<EarlyFreeze>(log, freezer_dir);
}

void EarlyFreeze::Run() {
  if (!WaitForDumpRun()) return;
  Status frozen = fence::FreezeCgroup(freezer_dir_);
  // Read after the freeze: absent, CRIU's thaw (which follows the line) comes after ours.
  if (LogHas(log_, kCriuFroze)) {
    MIGRATE_LOG(kDebug, "") << "early freeze of " << freezer_dir_ << " came after CRIU's: undone";
    (void)fence::ThawCgroup(freezer_dir_);
    return;
  }
  if (!frozen.ok()) {  // CRIU freezes it itself, as without this
    MIGRATE_LOG(kDebug, "") << "early freeze of " << freezer_dir_ << ": " << frozen.ToString();
    return;
  }
  frozen_ = true;
}

}  // namespace migrate::agent
