#include "transfer/json/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace migrate::json {
namespace {

using ::testing::HasSubstr;

// The message of Parse's refusal of `text`.
std::string ParseError(std::string_view text) {
  Result<Value> v = Parse(text);
  EXPECT_FALSE(v.ok()) << text;
  if (v.ok()) return "";
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  return v.status().message();
}

TEST(JsonTest, RoundTripKeepsOrderAndExactIntegers) {
  const std::string text = R"({"z":1,"a":[true,false,null],"int64_max":9223372036854775807,)"
                           R"("int64_min":-9223372036854775808,"uint64_max":18446744073709551615,)"
                           R"("neg":-1.5e3,"s":"x\"y\\z\n\u00e9"})";
  Result<Value> v = Parse(text);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->begin().key(), "z");
  EXPECT_EQ((*v)["int64_max"].get<int64_t>(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ((*v)["int64_min"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ((*v)["uint64_max"].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ((*v)["neg"].get<double>(), -1500.0);
  EXPECT_EQ((*v)["s"].get<std::string>(), "x\"y\\z\n\xc3\xa9");
  // Integers keep their digits; other numbers their value.
  EXPECT_EQ(Serialize(*v), R"({"z":1,"a":[true,false,null],"int64_max":9223372036854775807,)"
                           R"("int64_min":-9223372036854775808,"uint64_max":18446744073709551615,)"
                           R"("neg":-1500.0,"s":"x\"y\\z\n)"
                           "\xc3\xa9\"}");
  // Pretty output parses back to the same document.
  Result<Value> again = Parse(Serialize(*v, 2));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Serialize(*again), Serialize(*v));
}

TEST(JsonTest, SurrogatePairsAndControlCharacters) {
  Result<Value> v = Parse(R"(["\ud83d\ude00", "\u0001"])");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].get<std::string>(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Serialize((*v)[1]), "\"\\u0001\"");
}

TEST(JsonTest, RejectsBadInput) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"",
        "{\"a\":1}{", "\"\\ud800\"", "[\"\x01\"]", "nul", "1e400"}) {
    EXPECT_FALSE(Parse(bad).ok()) << bad;
  }
}

TEST(JsonTest, TrailingCharactersAndCommentsAreRefused) {
  EXPECT_THAT(ParseError("{\"a\": 1} x"), HasSubstr("at line 1, column 10"));
  EXPECT_THAT(ParseError("{\"a\": 1} // note"), HasSubstr("at line 1, column 10"));
  EXPECT_THAT(ParseError("{\"a\": /* note */ 1}"), HasSubstr("at line 1, column 7"));
  EXPECT_TRUE(Parse(" \t\r\n{\"a\": 1}\n").ok()) << "white space around the document is fine";
  EXPECT_THAT(ParseError("\xEF\xBB\xBF{}"), HasSubstr("byte order mark at line 1, column 1"));
}

// A string that runc (Go) would read with U+FFFD in place of the bad bytes is refused, so that
// what is judged is what runc reads.
TEST(JsonTest, InvalidUtf8IsRefused) {
  const std::string message = ParseError("{\"hoo\xffks\": 1}");
  EXPECT_THAT(message, HasSubstr("UTF-8"));
  EXPECT_THAT(message, HasSubstr("at line 1, column 6"));
  EXPECT_EQ(message.find('\xff'), std::string::npos) << "the bad bytes are not echoed";
  EXPECT_THAT(ParseError("[\"\xc3\"]"), HasSubstr("UTF-8"));          // truncated sequence
  EXPECT_THAT(ParseError("[\"\xc0\xaf\"]"), HasSubstr("UTF-8"));      // overlong '/'
  EXPECT_THAT(ParseError("[\"\xed\xa0\x80\"]"), HasSubstr("UTF-8"));  // a surrogate
  EXPECT_TRUE(Parse("[\"\xc3\xa9\xe2\x84\xaa\"]").ok());
}

// Go's encoding/json (runc) takes the last of two equal member names, nlohmann one of them:
// a document with two is refused, naming the member and where the second one is.
TEST(JsonTest, DuplicateMembersAreRefused) {
  const std::string message = ParseError("{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2}}");
  EXPECT_THAT(message, HasSubstr("duplicate member \"c\""));
  EXPECT_THAT(message, HasSubstr("at line 2, column 18"));
  EXPECT_THAT(ParseError(R"({"hooks": {}, "hooks": {"prestart": []}})"),
              HasSubstr("duplicate member \"hooks\" at line 1, column 21"));
  EXPECT_THAT(ParseError(R"({"a": 1, "\u0061": 2})"), HasSubstr("duplicate member \"a\""))
      << "names are compared decoded";
  EXPECT_THAT(ParseError(R"({"a\u0001": 1, "a\u0001": 2})"),
              HasSubstr(R"(duplicate member "a\u0001")"));
  // The same name in different objects, and after a nested object closed, is fine.
  EXPECT_TRUE(Parse(R"({"a": {"x": 1}, "b": {"x": 2}, "x": [{"x": 3}]})").ok());
  EXPECT_TRUE(Parse(R"({"Hooks": 1, "hooks": 2})").ok()) << "case is the policy's business";
}

TEST(JsonTest, NestingIsBounded) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(Parse(nested(kMaxDepth)).ok());
  EXPECT_THAT(ParseError(nested(kMaxDepth + 1)),
              HasSubstr("nesting deeper than 256 at line 1, column 257"));
  EXPECT_THAT(ParseError(std::string(1'000'000, '[')), HasSubstr("nesting deeper than 256"));
  std::string objects;
  for (int i = 0; i <= kMaxDepth; ++i) objects += "{\"a\":";
  EXPECT_THAT(ParseError(objects), HasSubstr("nesting deeper than 256"));
}

TEST(JsonTest, ErrorsSayLineAndColumn) {
  EXPECT_THAT(ParseError(""), HasSubstr("JSON: "));
  EXPECT_THAT(ParseError(""), HasSubstr("at line 1, column 1"));
  EXPECT_THAT(ParseError("{\n  \"a\": 1,\n  \"b\" 2\n}"), HasSubstr("at line 3, column 7"));
  EXPECT_THAT(ParseError("[1,\n2,\n]"), HasSubstr("at line 3, column 1"));
  EXPECT_THAT(ParseError("{\"a\": \"x\ny\"}"), HasSubstr("at line 1, column 9"));
  EXPECT_THAT(ParseError("{\"a\": 1"), HasSubstr("at line 1, column 8"));  // end of input
}

TEST(JsonTest, SetFindRemove) {
  Value o = Value::object();
  o["a"] = 1;
  o["b"] = "x";
  o["a"] = 2;  // replaces in place
  EXPECT_EQ(Serialize(o), R"({"a":2,"b":"x"})");
  ASSERT_NE(Find(o, "b"), nullptr);
  EXPECT_EQ(*Find(o, "b"), "x");
  EXPECT_EQ(o.erase("a"), 1u);
  EXPECT_EQ(o.erase("a"), 0u);
  EXPECT_EQ(Find(o, "a"), nullptr);
  EXPECT_EQ(Find(Value::array({1}), "a"), nullptr) << "not an object";
  EXPECT_EQ(Find(Value(), "a"), nullptr) << "null";
  EXPECT_EQ(Serialize(Value::array()), "[]");
  EXPECT_EQ(Serialize(Value::object(), 2), "{}");
}

TEST(JsonTest, SerializeNeverThrows) { EXPECT_EQ(Serialize(Value("a\xff")), "\"a\xef\xbf\xbd\""); }

}  // namespace
}  // namespace migrate::json
