#include "transfer/json/json.h"

#include <cstddef>
#include <iterator>
#include <set>
#include <stdexcept>
#include <vector>

namespace migrate::json {
namespace {

// Hands the text to nlohmann's parser byte by byte and remembers the last byte it read, so
// that a refusal from the parser callback (which is told no position) can say where.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* at, const char** last_read) : at_(at), last_read_(last_read) {}
  const char& operator*() const {
    *last_read_ = at_;
    return *at_;
  }
  TrackingIterator& operator++() {
    ++at_;
    return *this;
  }
  bool operator==(const TrackingIterator& other) const { return at_ == other.at_; }

 private:
  const char* at_;
  const char** last_read_;
};

// What the parser callback refuses: a duplicate member name, nesting deeper than kMaxDepth.
class Refusal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The parser callback: the member names seen so far in each object still open.
class DocumentRules {
 public:
  bool operator()(int depth, nlohmann::ordered_json::parse_event_t event, Value& parsed) {
    using Event = nlohmann::ordered_json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxDepth) {
      throw Refusal("nesting deeper than " + std::to_string(kMaxDepth));
    }
    if (event == Event::object_start) open_objects_.emplace_back();
    if (event == Event::object_end) open_objects_.pop_back();
    if (event == Event::key && !open_objects_.back().insert(parsed.get<std::string>()).second) {
      throw Refusal("duplicate member " + Serialize(parsed));  // quoted and escaped
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> open_objects_;
};

// nlohmann's message without its prefix, its position and the input it echoes (which may be
// anything, invalid UTF-8 included): "[json.exception.parse_error.101] parse error at line 1,
// column 4: syntax error while parsing value - invalid literal; last read: 'tru'" ->
// "syntax error while parsing value - invalid literal".
std::string WhatOf(const nlohmann::ordered_json::exception& e) {
  std::string message = e.what();
  if (size_t id_end = message.find("] "); id_end != std::string::npos) message.erase(0, id_end + 2);
  if (message.rfind("parse error", 0) == 0) {
    if (size_t colon = message.find(": "); colon != std::string::npos) message.erase(0, colon + 2);
  }
  if (size_t echo = message.find("; last read: '"); echo != std::string::npos) {
    size_t expected = message.rfind("; expected ");
    message.erase(echo, expected != std::string::npos && expected > echo ? expected - echo
                                                                         : std::string::npos);
  }
  return message;
}

// "JSON: <what> at line L, column C" for the byte at `offset` (0-based) of `text`.
Status ErrorAt(std::string_view text, size_t offset, const std::string& what) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return Status::InvalidArgument("JSON: " + what + " at line " + std::to_string(line) +
                                 ", column " + std::to_string(column));
}

}  // namespace

Result<Value> Parse(std::string_view text) {
  // nlohmann skips one; runc (Go) and RFC 8259 parsers refuse it.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return ErrorAt(text, 0, "byte order mark");
  const char* last_read = text.data();
  TrackingIterator begin(text.data(), &last_read), end(text.data() + text.size(), &last_read);
  const auto offset_read = [&] { return static_cast<size_t>(last_read - text.data()); };
  try {
    return Value::parse(begin, end, DocumentRules());
  } catch (const nlohmann::ordered_json::parse_error& e) {
    // e.byte counts the bytes read, the offending one included.
    return ErrorAt(text, e.byte == 0 ? 0 : e.byte - 1, WhatOf(e));
  } catch (const nlohmann::ordered_json::exception& e) {  // e.g. a number beyond a double
    return ErrorAt(text, offset_read(), WhatOf(e));
  } catch (const Refusal& e) {
    return ErrorAt(text, offset_read(), e.what());
  }
}

std::string Serialize(const Value& value, int indent) {
  return value.dump(indent > 0 ? indent : -1, ' ', false, Value::error_handler_t::replace);
}

const Value* Find(const Value& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Value* Find(Value& object, std::string_view key) {
  return const_cast<Value*>(Find(static_cast<const Value&>(object), key));
}

}  // namespace migrate::json
