#include "agent/runtime/ids.h"

#include <string>

namespace migrate::runtime {
namespace {

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '+' || c == '-' || c == '.';
}

std::string Printable(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Status ValidateContainerId(std::string_view id) {
  auto refuse = [&](const char* why) {
    return Status::InvalidArgument("invalid container id '" + Printable(id) + "': " + why);
  };
  if (id.empty()) return refuse("empty");
  if (id.size() > kMaxContainerIdBytes) {
    return refuse("longer than 128 bytes");
  }
  if (id.front() == '-') return refuse("starts with '-' (runc would read it as an option)");
  for (char c : id) {
    if (!IdChar(c)) return refuse("only letters, digits, '_', '+', '-' and '.' are allowed");
  }
  if (id == "." || id == "..") return refuse("'.' and '..' name directories");
  return Status::Ok();
}

bool IsValidContainerId(std::string_view id) { return ValidateContainerId(id).ok(); }

}  // namespace migrate::runtime
