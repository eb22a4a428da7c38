// Time stamps as the wire and the journal carry them: milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace migrate {

uint64_t UnixMillis(std::chrono::system_clock::time_point t);
// Milliseconds from t until now; 0 when t is in the future (a clock stepped back).
uint64_t MillisSince(std::chrono::system_clock::time_point t);

}  // namespace migrate
