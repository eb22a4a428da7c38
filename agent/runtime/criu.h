// CRIU itself (not through the runtime): version, `criu check`, CPU compatibility.
#pragma once

#include <string>

#include "agent/runtime/process_runner.h"
#include "agent/runtime/version.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

struct CriuCheck {
  bool ok = false;
  std::string output;  // stdout + stderr, e.g. "Looks good."
};

class Criu {
 public:
  explicit Criu(ProcessRunner* runner, std::string criu_path = "criu")
      : runner_(runner), path_(std::move(criu_path)) {}

  // `criu --version`.
  Result<Version> GetVersion();
  // `criu check`: a failing check is a result (ok=false), not an error; an error means
  // CRIU could not be run at all.
  Result<CriuCheck> Check();
  // `criu cpuinfo dump -D dir`: writes dir/cpuinfo.img.
  Status CpuinfoDump(const std::string& dir);
  // `criu cpuinfo check -D dir` against dir/cpuinfo.img (from another node).
  Result<CriuCheck> CpuinfoCheck(const std::string& dir);

  // Convenience: dump into a temp dir and return the bytes of cpuinfo.img.
  Result<std::string> CpuinfoDumpBytes();
  // Convenience: check bytes of another node's cpuinfo.img.
  Result<CriuCheck> CpuinfoCheckBytes(const std::string& cpuinfo_img);

 private:
  ProcessRunner* runner_;
  std::string path_;
};

}  // namespace migrate::runtime
