// One exchange with a server on 127.0.0.1 over a plain TCP connection: the bytes written,
// then everything read until the server closes (or 5 s of silence).
#pragma once

#include <cstdint>
#include <string>

namespace migrate::testing {

// "" when the connection cannot be made.
std::string LoopbackExchange(uint16_t port, const std::string& request);

}  // namespace migrate::testing
