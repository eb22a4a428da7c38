// Bytes as lowercase hexadecimal, the one spelling of digests, tokens and ids.
#pragma once

#include <span>
#include <string>

namespace migrate {

// Two digits per byte, most significant first: {0x00, 0xff} -> "00ff".
std::string HexLower(std::span<const unsigned char> bytes);

}  // namespace migrate
