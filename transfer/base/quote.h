// Bytes from a peer, quoted for an error message: control bytes escaped as \xNN.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace migrate::transfer {

inline std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

}  // namespace migrate::transfer
