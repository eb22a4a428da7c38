#include "transfer/base/unix_time.h"

namespace migrate {

uint64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

uint64_t MillisSince(std::chrono::system_clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() - t);
  return d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0;
}

}  // namespace migrate
