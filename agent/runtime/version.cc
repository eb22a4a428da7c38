#include "agent/runtime/version.h"

#include <cctype>
#include <charconv>

namespace migrate::runtime {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The rest of the line after `prefix` on the first line that starts with it.
std::string_view AfterPrefixOnLine(std::string_view text, std::string_view prefix) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(pos, end - pos));
    if (line.substr(0, prefix.size()) == prefix) return Trim(line.substr(prefix.size()));
    pos = end + 1;
  }
  return {};
}

}  // namespace

bool Version::AtLeast(int maj, int min, int pat) const {
  return *this >= Version{maj, min, pat, ""};
}

std::string Version::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Result<Version> ParseVersion(std::string_view text) {
  std::string_view token = Trim(text);
  size_t token_end = 0;
  while (token_end < token.size() && !std::isspace(static_cast<unsigned char>(token[token_end]))) {
    ++token_end;
  }
  token = token.substr(0, token_end);
  Version v;
  v.text = std::string(token);
  std::string_view s = token;
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
  int* parts[3] = {&v.major, &v.minor, &v.patch};
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 3; ++i) {
    if (p >= end || !std::isdigit(static_cast<unsigned char>(*p))) {
      if (i == 0) {
        return Status::InvalidArgument("not a version number: \"" + std::string(text) + "\"");
      }
      break;
    }
    auto [next, ec] = std::from_chars(p, end, *parts[i]);
    if (ec != std::errc()) {
      return Status::InvalidArgument("version number out of range: \"" + std::string(text) + "\"");
    }
    p = next;
    if (p < end && *p == '.' && i < 2) {
      ++p;
    } else {
      break;
    }
  }
  return v;
}

Result<Version> ParseRuncVersionOutput(std::string_view output) {
  std::string_view rest = AfterPrefixOnLine(output, "runc version");
  if (rest.empty()) {
    return Status::InvalidArgument("no \"runc version\" line in: " + std::string(Trim(output)));
  }
  return ParseVersion(rest);
}

Result<Version> ParseCrunVersionOutput(std::string_view output) {
  std::string_view rest = AfterPrefixOnLine(output, "crun version");
  if (rest.empty()) {
    return Status::InvalidArgument("no \"crun version\" line in: " + std::string(Trim(output)));
  }
  return ParseVersion(rest);
}

Result<Version> ParseCriuVersionOutput(std::string_view output) {
  std::string_view rest = AfterPrefixOnLine(output, "Version:");
  if (rest.empty()) {
    return Status::InvalidArgument("no \"Version:\" line in: " + std::string(Trim(output)));
  }
  return ParseVersion(rest);
}

Result<Version> ParseKernelRelease(std::string_view release) { return ParseVersion(release); }

}  // namespace migrate::runtime
