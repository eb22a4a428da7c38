// Version numbers of runc, crun, CRIU and the kernel, parsed from their own output.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::runtime {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string text;  // as printed by the tool, e.g. "1.1.5+ds1", "6.18.44-fc-v657"

  bool AtLeast(int maj, int min, int pat = 0) const;
  std::string ToString() const;  // "1.1.5"
  friend std::strong_ordering operator<=>(const Version& a, const Version& b) {
    if (auto c = a.major <=> b.major; c != 0) return c;
    if (auto c = a.minor <=> b.minor; c != 0) return c;
    return a.patch <=> b.patch;
  }
  friend bool operator==(const Version& a, const Version& b) {
    return (a <=> b) == std::strong_ordering::equal;
  }
};

// "1.1.5", "1.1.5+ds1", "4.1", "1.2.0-rc.1", "6.18.44-fc-v657" -> numbers (missing parts 0).
// InvalidArgument when it does not start with a number.
Result<Version> ParseVersion(std::string_view text);

// `runc --version`: "runc version 1.1.5+ds1\ncommit: ...".
Result<Version> ParseRuncVersionOutput(std::string_view output);
// `crun --version`: "crun version 1.8.1\ncommit: ...".
Result<Version> ParseCrunVersionOutput(std::string_view output);
// `criu --version`: "Version: 4.1.1\n" (optionally followed by "GitID: ...").
Result<Version> ParseCriuVersionOutput(std::string_view output);
// uname -r: "6.18.44-fc-v657".
Result<Version> ParseKernelRelease(std::string_view release);

}  // namespace migrate::runtime
