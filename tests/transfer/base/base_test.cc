// The base library's small pieces: status code names both ways, hex.
#include <gtest/gtest.h>

#include <array>

#include "transfer/base/hex.h"
#include "transfer/base/status.h"

namespace migrate {
namespace {

TEST(StatusCodeNamesTest, RoundTripEveryCode) {
  for (int i = static_cast<int>(StatusCode::kOk); i <= static_cast<int>(StatusCode::kInternal);
       ++i) {
    const auto code = static_cast<StatusCode>(i);
    EXPECT_EQ(StatusCodeFromName(StatusCodeName(code)), code) << StatusCodeName(code);
  }
}

TEST(StatusCodeNamesTest, AnUnknownNameIsInternalNeverRetryable) {
  for (const char* name : {"NoSuchCode", "", "unavailable", "Unavailable "}) {
    EXPECT_EQ(StatusCodeFromName(name), StatusCode::kInternal) << '"' << name << '"';
  }
}

TEST(HexTest, TwoLowercaseDigitsPerByte) {
  const std::array<unsigned char, 4> bytes = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(HexLower(bytes), "000fa0ff");
  EXPECT_EQ(HexLower({}), "");
}

}  // namespace
}  // namespace migrate
