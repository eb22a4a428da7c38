#include "transfer/json/json.h"

#include <gtest/gtest.h>

namespace migrate::json {
namespace {

TEST(JsonTest, RoundTripKeepsOrderAndNumberText) {
  const std::string text =
      R"({"z":1,"a":[true,false,null],"big":9223372036854775807,"neg":-1.5e3,"s":"x\"y\\z\n\u00e9"})";
  Result<Value> v = Parse(text);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->members()[0].first, "z");
  EXPECT_EQ(v->Find("big")->number_text(), "9223372036854775807");
  EXPECT_EQ(v->Find("neg")->number_text(), "-1.5e3");
  EXPECT_EQ(v->Find("s")->string_value(), "x\"y\\z\n\xc3\xa9");
  EXPECT_EQ(Serialize(*v),
            R"({"z":1,"a":[true,false,null],"big":9223372036854775807,"neg":-1.5e3,"s":"x\"y\\z\n)"
            "\xc3\xa9\"}");
  // Pretty output parses back to the same document.
  Result<Value> again = Parse(Serialize(*v, 2));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Serialize(*again), Serialize(*v));
}

TEST(JsonTest, SurrogatePairsAndControlCharacters) {
  Result<Value> v = Parse(R"(["\ud83d\ude00", "\u0001"])");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->array()[0].string_value(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Serialize(v->array()[1]), "\"\\u0001\"");
}

TEST(JsonTest, RejectsBadInput) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"",
        "{\"a\":1}{", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "[\"\x01\"]", "nul"}) {
    EXPECT_FALSE(Parse(bad).ok()) << bad;
  }
  std::string deep(1000, '[');
  EXPECT_FALSE(Parse(deep).ok());
}

TEST(JsonTest, SetFindRemove) {
  Value o = Value::Object();
  o.Set("a", Value::Number("1"));
  o.Set("b", Value::String("x"));
  o.Set("a", Value::Number("2"));  // replaces in place
  EXPECT_EQ(Serialize(o), R"({"a":2,"b":"x"})");
  EXPECT_TRUE(o.Remove("a"));
  EXPECT_FALSE(o.Remove("a"));
  EXPECT_EQ(o.Find("a"), nullptr);
  EXPECT_EQ(Serialize(Value::Array()), "[]");
  EXPECT_EQ(Serialize(Value::Object(), 2), "{}");
}

}  // namespace
}  // namespace migrate::json
