// JsonSchema: the subset of SPEC §7 validates what it says and refuses what it does not
// support; the compatibility rule lets additive changes through and names narrowing ones.
#include "ingest/json_schema.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace sluice {
namespace {

const char* kPurchase = R"({
  "type": "object",
  "required": ["sku", "price"],
  "properties": {
    "sku": {"type": "string", "minLength": 1, "maxLength": 8},
    "price": {"type": "number", "minimum": 0, "maximum": 1000},
    "qty": {"type": "integer"},
    "currency": {"enum": ["USD", "EUR"]},
    "tags": {"type": "array"},
    "meta": {"type": "object", "properties": {"src": {"type": "string"}},
             "additionalProperties": false}
  },
  "additionalProperties": true
})";

std::string Check(const JsonSchema& s, const std::string& json) {
  simdjson::dom::parser p;
  return s.Validate(p.parse(json).value());
}

JsonSchema Parse(const std::string& text) {
  auto s = JsonSchema::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : JsonSchema();
}

TEST(JsonSchemaTest, AcceptsConformingProperties) {
  JsonSchema s = Parse(kPurchase);
  EXPECT_EQ(Check(s, R"({"sku":"A1","price":9.5})"), "");
  EXPECT_EQ(Check(s, R"({"sku":"A1","price":0,"qty":3,"currency":"EUR","extra":{"x":1}})"), "");
  EXPECT_EQ(Check(s, R"({"sku":"A1","price":1000,"qty":3.0,"tags":[1,"a"]})"), "");
  EXPECT_EQ(Check(s, R"({"sku":"ñññ","price":1})"), "");  // 3 code points, 6 bytes
}

TEST(JsonSchemaTest, NamesTheFirstProblemWithItsPath) {
  JsonSchema s = Parse(kPurchase);
  EXPECT_EQ(Check(s, R"({"price":1})"), "properties: \"sku\" is required");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":-1})"), "properties.price: -1 is below the minimum 0");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":1001})"),
            "properties.price: 1001 is above the maximum 1000");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":"1"})"),
            "properties.price: \"1\" is not of type integer or number");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":1,"qty":1.5})"),
            "properties.qty: 1.5 is not of type integer");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":1,"currency":"GBP"})"),
            "properties.currency: \"GBP\" is not one of the allowed values");
  EXPECT_EQ(Check(s, R"({"sku":"","price":1})"),
            "properties.sku: is 0 characters, shorter than minLength 1");
  EXPECT_EQ(Check(s, R"({"sku":"123456789","price":1})"),
            "properties.sku: is 9 characters, longer than maxLength 8");
  EXPECT_EQ(Check(s, R"({"sku":"A","price":1,"meta":{"src":"x","other":1}})"),
            "properties.meta: \"other\" is not allowed");
  EXPECT_EQ(Check(s, R"([1])"), "properties: [1] is not of type object");
}

TEST(JsonSchemaTest, LengthsCountCodePointsAtEveryByteWidth) {
  // The validator decides most strings by byte length (b bytes hold b/4..b code points)
  // and counts only in between: each width must land on the right side of both bounds.
  JsonSchema s = Parse(R"({"properties":{"s":{"type":"string","minLength":2,"maxLength":3}}})");
  auto with = [&](const std::string& v) { return Check(s, "{\"s\":\"" + v + "\"}"); };
  const std::string widths[] = {"a", "\xc3\xb1", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};  // 1-4 B
  for (const std::string& c : widths) {
    EXPECT_EQ(with(c), "properties.s: is 1 characters, shorter than minLength 2") << c.size();
    EXPECT_EQ(with(c + c), "") << c.size();
    EXPECT_EQ(with(c + c + c), "") << c.size();
    EXPECT_EQ(with(c + c + c + c), "properties.s: is 4 characters, longer than maxLength 3")
        << c.size();
  }
  EXPECT_EQ(with("a\xf0\x9f\x98\x80"), "");  // 5 bytes, 2 code points
  JsonSchema min_only = Parse(R"({"properties":{"s":{"minLength":3}}})");
  EXPECT_EQ(Check(min_only, "{\"s\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}"),
            "properties.s: is 2 characters, shorter than minLength 3");  // 8 bytes
  EXPECT_EQ(Check(min_only, "{\"s\":\"abcdefghijkl\"}"), "");
}

TEST(JsonSchemaTest, EnumComparesNumbersByValue) {
  JsonSchema s = Parse(R"({"properties":{"n":{"enum":[1, 2.5, null, true, {"a":1}]}}})");
  EXPECT_EQ(Check(s, R"({"n":1.0})"), "");
  EXPECT_EQ(Check(s, R"({"n":2.5})"), "");
  EXPECT_EQ(Check(s, R"({"n":null})"), "");
  EXPECT_EQ(Check(s, R"({"n":true})"), "");
  EXPECT_EQ(Check(s, R"({"n":{"a":1}})"), "");
  EXPECT_NE(Check(s, R"({"n":"1"})"), "");
  EXPECT_NE(Check(s, R"({"n":false})"), "");
}

TEST(JsonSchemaTest, RefusesWhatItCannotEnforce) {
  for (const char* bad :
       {R"({"pattern":"^a"})", R"({"type":"date"})", R"({"required":"a"})",
        R"({"additionalProperties":{"type":"string"}})", R"({"minimum":"1"})",
        R"({"minLength":-1})", R"([])", R"({"properties":{"a":{"items":{}}}})", "not json"}) {
    auto s = JsonSchema::Parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument) << bad;
    }
  }
  auto s = JsonSchema::Parse(R"({"properties":{"a":{"pattern":"x"}}})");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("properties.a"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("\"pattern\""), std::string::npos);
  // Annotations are fine.
  EXPECT_TRUE(JsonSchema::Parse(R"({"$schema":"x","title":"t","description":"d"})").ok());
}

std::string Why(const std::string& from, const std::string& to) {
  return Parse(from).IncompatibilityWith(Parse(to));
}

TEST(JsonSchemaTest, AdditiveChangesAreCompatible) {
  EXPECT_EQ(Why(kPurchase, kPurchase), "");
  // New optional property, a dropped requirement, wider ranges, lengths, enum and types.
  EXPECT_EQ(Why(R"({"required":["a","b"],"properties":{"a":{"type":"integer","minimum":0}}})",
                R"({"required":["a"],"properties":{"a":{"type":"number"},"c":{"type":"string"}}})"),
            "");
  EXPECT_EQ(Why(R"({"properties":{"e":{"enum":["x"]},"s":{"maxLength":3}}})",
                R"({"properties":{"e":{"enum":["x","y"]},"s":{"maxLength":5}}})"),
            "");
  EXPECT_EQ(Why(R"({"additionalProperties":false})", R"({"additionalProperties":true})"), "");
  EXPECT_EQ(Why(R"({"properties":{"a":{"type":"string"}}})", R"({})"), "");
}

TEST(JsonSchemaTest, NarrowingChangesAreRefusedWithTheReason) {
  EXPECT_EQ(Why(R"({})", R"({"required":["qty"]})"), "properties: makes \"qty\" required");
  EXPECT_EQ(Why(R"({"properties":{"a":{"type":"number"}}})",
                R"({"properties":{"a":{"type":"integer"}}})"),
            "properties.a: type narrows from integer or number to integer");
  EXPECT_EQ(Why(R"({"properties":{"a":{"minimum":0}}})", R"({"properties":{"a":{"minimum":1}}})"),
            "properties.a: raises the minimum to 1");
  EXPECT_EQ(Why(R"({"properties":{"a":{}}})", R"({"properties":{"a":{"maximum":9}}})"),
            "properties.a: lowers the maximum to 9");
  EXPECT_EQ(
      Why(R"({"properties":{"e":{"enum":["x","y"]}}})", R"({"properties":{"e":{"enum":["x"]}}})"),
      "properties.e: enum drops an allowed value");
  EXPECT_EQ(Why(R"({})", R"({"additionalProperties":false})"),
            "properties: forbids additional properties");
  EXPECT_EQ(Why(R"({"properties":{"a":{}},"additionalProperties":false})",
                R"({"additionalProperties":false})"),
            "properties: removes \"a\" while additionalProperties is false");
  EXPECT_EQ(
      Why(R"({"properties":{"s":{"minLength":1}}})", R"({"properties":{"s":{"minLength":2}}})"),
      "properties.s: raises minLength to 2");
  EXPECT_EQ(Why(R"({"properties":{"a":{}}})", R"({"properties":{"a":{"type":"string"}}})"),
            "properties.a: adds a type constraint (string)");
}

}  // namespace
}  // namespace sluice
