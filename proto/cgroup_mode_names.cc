#include "proto/cgroup_mode_names.h"

#include <boost/algorithm/string/case_conv.hpp>
#include <utility>

namespace migrate::proto {
namespace {

constexpr std::string_view kPrefix = "CGROUP_MODE_";

struct Names {
  std::vector<CgroupMode> modes;
  std::vector<std::string> names;
};

// Built once from the enum's descriptor: every value but UNSPECIFIED, its name without the
// prefix, lowercased.
const Names& Table() {
  static const Names table = [] {
    Names t;
    const google::protobuf::EnumDescriptor* d = CgroupMode_descriptor();
    for (int i = 0; i < d->value_count(); ++i) {
      const google::protobuf::EnumValueDescriptor* v = d->value(i);
      if (v->number() == CGROUP_MODE_UNSPECIFIED) continue;
      std::string name = boost::algorithm::to_lower_copy(v->name().substr(kPrefix.size()));
      t.modes.push_back(static_cast<CgroupMode>(v->number()));
      t.names.push_back(std::move(name));
    }
    return t;
  }();
  return table;
}

}  // namespace

std::string CgroupModeName(CgroupMode mode) {
  const Names& t = Table();
  for (size_t i = 0; i < t.modes.size(); ++i) {
    if (t.modes[i] == mode) return t.names[i];
  }
  return "";
}

std::optional<CgroupMode> CgroupModeFromName(std::string_view name) {
  const Names& t = Table();
  for (size_t i = 0; i < t.names.size(); ++i) {
    if (t.names[i] == name) return t.modes[i];
  }
  return std::nullopt;
}

const std::vector<std::string>& CgroupModeNames() { return Table().names; }

std::string JoinedCgroupModeNames(std::string_view separator) {
  std::string out;
  for (const std::string& name : CgroupModeNames()) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

}  // namespace migrate::proto
