// Container ids as the agent accepts them from the network. They become runc arguments and
// file names (`<state>/containers/<id>`, `<criu>/<id>.conf`), so they must be neither an
// option nor a path.
#pragma once

#include <cstddef>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::runtime {

inline constexpr size_t kMaxContainerIdBytes = 128;

// OK when `id` is 1..kMaxContainerIdBytes bytes of [A-Za-z0-9_+.-] (runc's own
// `^[\w+-\.]+$`, without the ',' that its range `+-\.` also lets through), does not start
// with '-' (runc would read it as an option) and is not "." or "..". Otherwise
// kInvalidArgument saying which rule failed.
Status ValidateContainerId(std::string_view id);

// ValidateContainerId(id).ok().
bool IsValidContainerId(std::string_view id);

}  // namespace migrate::runtime
