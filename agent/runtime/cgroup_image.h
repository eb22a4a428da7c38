// Reads CRIU's cgroup.img without CRIU's Python tools: the image is a magic header followed
// by length-prefixed protobuf messages (cgroup_entry in criu/images/cgroup.proto), decoded
// here with protobuf's schema-less UnknownFieldSet.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::runtime {

struct CgroupImageController {
  std::vector<std::string> names;      // e.g. {"cpu", "cpuacct"} or {"name=systemd"}
  std::vector<std::string> dir_names;  // top-level dirs dumped for it (empty in ignore)
};

struct CgroupImageSummary {
  int sets = 0;
  std::vector<CgroupImageController> controllers;
  int total_dirs = 0;  // all dirs, nested ones included
};

// Parses the bytes of cgroup.img. InvalidArgument on a bad magic or malformed message.
Result<CgroupImageSummary> ParseCgroupImage(std::string_view bytes);
Result<CgroupImageSummary> ReadCgroupImage(const std::string& path);

}  // namespace migrate::runtime
