// A minimal JSON document model, enough to edit an OCI config.json without losing anything
// and to point a user at the first error in a file they wrote (line and column):
// object member order is kept and numbers keep their original text (no float rounding of
// 64-bit limits). Not a general-purpose library: no comments, strict RFC 8259 input.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::json {

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, Value>;

  Value() = default;  // null
  static Value Bool(bool b);
  static Value Number(std::string text);  // text must be a valid JSON number
  static Value String(std::string s);
  static Value Array();
  static Value Object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_string() const { return type_ == Type::kString; }

  bool bool_value() const { return bool_; }
  const std::string& number_text() const { return scalar_; }
  const std::string& string_value() const { return scalar_; }
  const std::vector<Value>& array() const { return array_; }
  std::vector<Value>& array() { return array_; }
  const std::vector<Member>& members() const { return members_; }

  // Object access. Find returns nullptr when absent (or when this is not an object).
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);
  // Sets key (replacing in place, or appending). Precondition: is_object().
  Value& Set(std::string key, Value value);
  // Removes key; true when it was there.
  bool Remove(std::string_view key);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string scalar_;  // number text or string value
  std::vector<Value> array_;
  std::vector<Member> members_;
};

// Parses one JSON document. InvalidArgument "JSON: <what> at line L, column C" on bad input
// (1-based; columns count bytes).
Result<Value> Parse(std::string_view text);
// Serializes; indent > 0 pretty-prints with that many spaces.
std::string Serialize(const Value& value, int indent = 0);

}  // namespace migrate::json
