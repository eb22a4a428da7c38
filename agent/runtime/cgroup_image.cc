#include "agent/runtime/cgroup_image.h"

#include <google/protobuf/unknown_field_set.h>

#include <cstdint>
#include <cstring>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// criu/include/magic.h
constexpr uint32_t kImgCommonMagic = 0x54564319;
constexpr uint32_t kCgroupMagic = 0x59383330;

uint32_t ReadLe32(std::string_view bytes, size_t pos) {
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + pos, 4);  // CRIU writes host order; x86-64 and arm64 are LE
  return v;
}

// Counts dirs recursively in a cgroup_dir_entry (field 1 dir_name, field 2 children).
int CountDirs(const UnknownFieldSet& dir) {
  int n = 1;
  for (int i = 0; i < dir.field_count(); ++i) {
    const UnknownField& f = dir.field(i);
    if (f.number() == 2 && f.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      UnknownFieldSet child;
      if (child.ParseFromString(f.length_delimited())) n += CountDirs(child);
    }
  }
  return n;
}

std::string DirName(const UnknownFieldSet& dir) {
  for (int i = 0; i < dir.field_count(); ++i) {
    const UnknownField& f = dir.field(i);
    if (f.number() == 1 && f.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      return f.length_delimited();
    }
  }
  return {};
}

}  // namespace

Result<CgroupImageSummary> ParseCgroupImage(std::string_view bytes) {
  if (bytes.size() < 8 || ReadLe32(bytes, 0) != kImgCommonMagic ||
      ReadLe32(bytes, 4) != kCgroupMagic) {
    return Status::InvalidArgument("not a CRIU cgroup image (bad magic)");
  }
  CgroupImageSummary summary;
  size_t pos = 8;
  while (pos < bytes.size()) {
    if (pos + 4 > bytes.size()) return Status::InvalidArgument("cgroup image: truncated size");
    uint32_t size = ReadLe32(bytes, pos);
    pos += 4;
    if (size > bytes.size() - pos) return Status::InvalidArgument("cgroup image: truncated entry");
    UnknownFieldSet entry;  // cgroup_entry: 1 = sets, 2 = controllers
    if (!entry.ParseFromArray(bytes.data() + pos, static_cast<int>(size))) {
      return Status::InvalidArgument("cgroup image: malformed cgroup_entry");
    }
    pos += size;
    for (int i = 0; i < entry.field_count(); ++i) {
      const UnknownField& f = entry.field(i);
      if (f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (f.number() == 1) {
        ++summary.sets;
      } else if (f.number() == 2) {
        UnknownFieldSet ctl;  // cg_controller_entry: 1 = cnames, 2 = dirs
        if (!ctl.ParseFromString(f.length_delimited())) {
          return Status::InvalidArgument("cgroup image: malformed cg_controller_entry");
        }
        CgroupImageController controller;
        for (int j = 0; j < ctl.field_count(); ++j) {
          const UnknownField& cf = ctl.field(j);
          if (cf.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
          if (cf.number() == 1) controller.names.push_back(cf.length_delimited());
          if (cf.number() == 2) {
            UnknownFieldSet dir;
            if (!dir.ParseFromString(cf.length_delimited())) {
              return Status::InvalidArgument("cgroup image: malformed cgroup_dir_entry");
            }
            controller.dir_names.push_back(DirName(dir));
            summary.total_dirs += CountDirs(dir);
          }
        }
        summary.controllers.push_back(std::move(controller));
      }
    }
  }
  return summary;
}

Result<CgroupImageSummary> ReadCgroupImage(const std::string& path) {
  Result<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  Result<CgroupImageSummary> summary = ParseCgroupImage(*bytes);
  if (!summary.ok()) return summary.status().WithContext(path);
  return summary;
}

}  // namespace migrate::runtime
