// A strict JSON (RFC 8259) syntax check that says where the first error is, as line:column.
// protobuf's JSON parser reports what went wrong but not where in the file; the inventory
// loader runs this first so that a user editing hosts.json is pointed at the right line.
#pragma once

#include <string_view>

#include "transfer/status.h"

namespace migrate::controller {

// OK when `text` is one well-formed JSON value (surrounded by optional whitespace).
// Else InvalidArgument "line L, column C: <what>" (1-based; columns count bytes).
Status CheckJsonSyntax(std::string_view text);

}  // namespace migrate::controller
