// JSON documents are nlohmann's ordered_json (Debian's nlohmann-json3-dev): object members
// keep their document order, integers are exact in the int64 and uint64 ranges (other numbers
// are doubles, written back in their shortest exact form). Parse adds to nlohmann's strict
// RFC 8259 parser (no comments, nothing after the document, valid UTF-8 only) what a file a
// user wrote, or a config.json a peer sent, needs: an error that says where, and refusals of
// a byte order mark (nlohmann skips it), of duplicate member names (nlohmann and Go's
// encoding/json, which runc reads config.json with, would each keep one silently) and of
// nesting beyond a bound (copying and writing a document recurse).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::json {

using Value = nlohmann::ordered_json;

// Deeper arrays and objects are refused.
inline constexpr int kMaxDepth = 256;

// One JSON document. InvalidArgument "JSON: <what> at line L, column C" on bad input (1-based;
// columns count bytes; a duplicate member is pointed at by the end of its second name).
Result<Value> Parse(std::string_view text);

// Compact when indent <= 0, else pretty-printed with that many spaces. Never throws: invalid
// UTF-8 in a string the caller set (a parsed document has none) is written as U+FFFD.
std::string Serialize(const Value& value, int indent = 0);

// The member `key` of `object`; nullptr when absent or when `object` is not an object.
const Value* Find(const Value& object, std::string_view key);
Value* Find(Value& object, std::string_view key);

}  // namespace migrate::json
