#include "agent/runtime/criu.h"

#include <stdlib.h>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"

namespace migrate::runtime {
namespace {

std::string Combined(const ProcessResult& r) {
  std::string out = r.stdout_text;
  if (!r.stderr_text.empty()) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += r.stderr_text;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

Result<std::string> MakeTempDir() {
  std::string tmpl = "/tmp/migrate-cpuinfo-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno("mkdtemp", errno);
  return tmpl;
}

}  // namespace

Result<Version> Criu::GetVersion() {
  ProcessSpec spec;
  spec.argv = {path_, "--version"};
  spec.timeout = std::chrono::seconds(30);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, RunChecked(*runner_, spec));
  return ParseCriuVersionOutput(r.stdout_text + r.stderr_text);
}

Result<CriuCheck> Criu::Check() {
  ProcessSpec spec;
  spec.argv = {path_, "check"};
  spec.timeout = std::chrono::seconds(60);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, runner_->Run(spec));
  CriuCheck check;
  check.output = Combined(r);
  // "Looks good." (or "Looks good but ..." for optional features) with exit 0.
  check.ok = r.Succeeded() && check.output.find("Looks good") != std::string::npos;
  if (!r.Succeeded()) check.output += (check.output.empty() ? "" : "\n") + r.Describe();
  return check;
}

Status Criu::CpuinfoDump(const std::string& dir) {
  ProcessSpec spec;
  spec.argv = {path_, "cpuinfo", "dump", "-D", dir};
  spec.timeout = std::chrono::seconds(60);
  Result<ProcessResult> r = RunChecked(*runner_, spec);
  return r.status();
}

Result<CriuCheck> Criu::CpuinfoCheck(const std::string& dir) {
  ProcessSpec spec;
  spec.argv = {path_, "cpuinfo", "check", "-D", dir};
  spec.timeout = std::chrono::seconds(60);
  MIGRATE_ASSIGN_OR_RETURN(ProcessResult r, runner_->Run(spec));
  CriuCheck check;
  check.ok = r.Succeeded();
  check.output = Combined(r);
  if (!r.Succeeded()) check.output += (check.output.empty() ? "" : "\n") + r.Describe();
  return check;
}

Result<std::string> Criu::CpuinfoDumpBytes() {
  MIGRATE_ASSIGN_OR_RETURN(std::string dir, MakeTempDir());
  Status dumped = CpuinfoDump(dir);
  Result<std::string> bytes =
      dumped.ok() ? ReadFile(dir + "/cpuinfo.img") : Result<std::string>(dumped);
  (void)RemoveTree(dir);
  return bytes;
}

Result<CriuCheck> Criu::CpuinfoCheckBytes(const std::string& cpuinfo_img) {
  if (cpuinfo_img.empty()) return Status::InvalidArgument("empty cpuinfo image");
  MIGRATE_ASSIGN_OR_RETURN(std::string dir, MakeTempDir());
  Status written = WriteFileAtomic(dir + "/cpuinfo.img", cpuinfo_img, 0600);
  Result<CriuCheck> check = written.ok() ? CpuinfoCheck(dir) : Result<CriuCheck>(written);
  (void)RemoveTree(dir);
  return check;
}

}  // namespace migrate::runtime
