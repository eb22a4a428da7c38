// Secrets and ids drawn from OpenSSL's random generator.
#pragma once

#include <cstddef>
#include <string>

#include "transfer/base/status.h"

namespace migrate::tls {

// `bytes` random bytes as lowercase hex (2 * bytes characters): one-time stream tokens,
// migration ids. Internal when the generator fails (it is never silently weaker).
Result<std::string> RandomHex(std::size_t bytes);

}  // namespace migrate::tls
