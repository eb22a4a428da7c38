#include "controller/version_compare.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace migrate::controller {
namespace {

Result<std::vector<uint64_t>> Components(std::string_view text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) {
    return Status::InvalidArgument("not a version number: \"" + std::string(text) + "\"");
  }
  std::vector<uint64_t> parts;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (value > (UINT64_MAX - 9) / 10) {
        return Status::InvalidArgument("version component too large: \"" + std::string(text) +
                                       "\"");
      }
      value = value * 10 + static_cast<uint64_t>(text[i] - '0');
      ++i;
    }
    parts.push_back(value);
    if (i + 1 < text.size() && text[i] == '.' &&
        std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
      ++i;
    } else {
      break;
    }
  }
  return parts;
}

}  // namespace

Result<int> CompareVersions(std::string_view a, std::string_view b) {
  MIGRATE_ASSIGN_OR_RETURN(std::vector<uint64_t> pa, Components(a));
  MIGRATE_ASSIGN_OR_RETURN(std::vector<uint64_t> pb, Components(b));
  const size_t n = std::max(pa.size(), pb.size());
  for (size_t i = 0; i < n; ++i) {
    const uint64_t x = i < pa.size() ? pa[i] : 0;
    const uint64_t y = i < pb.size() ? pb[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace migrate::controller
