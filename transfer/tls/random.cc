#include "transfer/tls/random.h"

#include <openssl/rand.h>

#include <vector>

#include "transfer/base/hex.h"
#include "transfer/tls/tls.h"

namespace migrate::tls {

Result<std::string> RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    return Status::Internal(OpenSslErrorText("random bytes"));
  }
  return HexLower(buffer);
}

}  // namespace migrate::tls
