#include "transfer/base/hex.h"

#include <boost/algorithm/hex.hpp>
#include <iterator>

namespace migrate {

std::string HexLower(std::span<const unsigned char> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
  return out;
}

}  // namespace migrate
