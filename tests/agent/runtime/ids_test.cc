// Container ids: runc's alphabet, never an option, never a path.
#include "agent/runtime/ids.h"

#include <gtest/gtest.h>

#include <string>

namespace migrate::runtime {
namespace {

TEST(IdsTest, AcceptsRuncStyleIds) {
  for (const char* id : {"web-1", "a", "A_b.c+d-e", "0", "x.", "_", "+plus", ".hidden"}) {
    EXPECT_TRUE(IsValidContainerId(id)) << id;
  }
  EXPECT_TRUE(IsValidContainerId(std::string(kMaxContainerIdBytes, 'a')));
}

TEST(IdsTest, RefusesIdsStartingWithADash) {
  for (const char* id : {"-", "--", "-rf", "--root=/tmp", "-h"}) {
    Status st = ValidateContainerId(id);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << id;
    EXPECT_NE(st.message().find("starts with '-'"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(IsValidContainerId("a-"));  // a dash later on is fine
}

TEST(IdsTest, RefusesPathsAndOtherBytes) {
  for (std::string id :
       {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
        std::string("/abs"), std::string("a b"), std::string("a,b"), std::string("a\nb"),
        std::string("a\0b", 3), std::string("\xc3\xa9t\xc3\xa9"), std::string("$(x)")}) {
    EXPECT_FALSE(IsValidContainerId(id)) << id;
  }
}

TEST(IdsTest, RefusesLongIds) {
  Status st = ValidateContainerId(std::string(kMaxContainerIdBytes + 1, 'a'));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("longer than 128"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace migrate::runtime
