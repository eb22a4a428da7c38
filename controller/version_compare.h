// Dotted version numbers ("4.1.1", "3.17", "1.1.5-rc1") compared numerically.
#pragma once

#include <string_view>

#include "transfer/base/status.h"

namespace migrate::controller {

// -1, 0 or 1 as a < b, a == b, a > b, comparing the dot-separated numeric components in order
// (missing components count as 0, so "4.1" == "4.1.0"). Anything after the numeric part (a
// "-rc1" or "+git" suffix) is ignored. InvalidArgument when either does not start with a digit.
Result<int> CompareVersions(std::string_view a, std::string_view b);

}  // namespace migrate::controller
