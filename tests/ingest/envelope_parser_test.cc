#include "ingest/envelope_parser.h"
#include "ingest/json_schema.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "expect_event.h"

namespace sluice {
namespace {

constexpr int64_t kReceived = 1714566896000000;  // 2024-05-01T12:34:56Z

ParseContext Ctx() {
  ParseContext ctx;
  ctx.tenant = "acme";
  ctx.source = "http";
  ctx.received_at_us = kReceived;
  return ctx;
}

ParsedBody MustParse(std::string_view body, BodyFormat format = BodyFormat::kAuto,
                     const ParseContext& ctx = Ctx()) {
  ParsedBody out;
  Status st = ParseBody(body, format, ctx, &out);
  EXPECT_TRUE(st.ok()) << st.ToString() << " for " << body;
  EXPECT_EQ(out.events.size(), out.event_index.size());
  EXPECT_EQ(out.events.size() + out.errors.size(), out.total);
  return out;
}

// Parses one event that must be valid.
Event One(std::string_view body) {
  ParsedBody out = MustParse(body);
  EXPECT_EQ(out.total, 1u);
  for (const EventError& e : out.errors) ADD_FAILURE() << body << ": " << e.error;
  return out.events.empty() ? Event{} : out.events[0];
}

// Parses one event that must be invalid; returns its error.
std::string OneError(std::string_view body, const ParseContext& ctx = Ctx()) {
  ParsedBody out = MustParse(body, BodyFormat::kAuto, ctx);
  EXPECT_EQ(out.total, 1u);
  EXPECT_TRUE(out.events.empty()) << body;
  if (out.errors.size() != 1) return "<no error>";
  EXPECT_EQ(out.errors[0].index, 0u);
  return out.errors[0].error;
}

Status BodyStatus(std::string_view body, BodyFormat format = BodyFormat::kAuto,
                  const ParseContext& ctx = Ctx()) {
  ParsedBody out;
  Status st = ParseBody(body, format, ctx, &out);
  if (!st.ok()) {
    EXPECT_TRUE(out.events.empty());
    EXPECT_TRUE(out.errors.empty());
  }
  return st;
}

TEST(EnvelopeParser, FullEvent) {
  Event e = One(R"({"event_id":"e1","type":"signup","timestamp":"2024-05-01T12:34:56.5Z",
      "user_id":"u1","anonymous_id":"a1","properties":{ "plan" : "pro", "n": [1, 2.5, true, null] },
      "context":{"ip":"1.2.3.4"},"unknown":123})");
  EXPECT_EQ(e.tenant, "acme");
  EXPECT_EQ(e.source, "http");
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_FALSE(e.id_assigned);
  EXPECT_EQ(e.type, "signup");
  EXPECT_EQ(e.ts_us, kReceived + 500000);
  EXPECT_EQ(e.received_at_us, kReceived);
  EXPECT_EQ(e.user_id, "u1");
  EXPECT_EQ(e.anonymous_id, "a1");
  EXPECT_EQ(e.properties, R"({"plan":"pro","n":[1,2.5,true,null]})");
  EXPECT_EQ(e.context, R"({"ip":"1.2.3.4"})");
}

TEST(EnvelopeParser, Defaults) {
  Event e = One(R"({"type":"t"})");
  EXPECT_TRUE(e.id_assigned);
  EXPECT_EQ(e.event_id.size(), 36u);
  EXPECT_EQ(e.event_id[14], '7');  // UUIDv7
  EXPECT_EQ(e.ts_us, kReceived);
  EXPECT_EQ(e.user_id, "");
  EXPECT_EQ(e.anonymous_id, "");
  EXPECT_EQ(e.properties, "{}");
  EXPECT_EQ(e.context, "");
  // Server-assigned ids differ.
  ParsedBody two = MustParse("{\"type\":\"t\"}\n{\"type\":\"t\"}");
  ASSERT_EQ(two.events.size(), 2u);
  EXPECT_NE(two.events[0].event_id, two.events[1].event_id);
}

TEST(EnvelopeParser, NullIsAbsent) {
  Event e = One(R"({"type":"t","event_id":null,"id":"x","timestamp":null,"user_id":null,
      "properties":null,"context":null})");
  EXPECT_EQ(e.event_id, "x");
  EXPECT_EQ(e.ts_us, kReceived);
  EXPECT_EQ(e.properties, "{}");
  EXPECT_EQ(e.context, "");
  EXPECT_EQ(OneError(R"({"type":null})"), "\"type\" is required");
}

TEST(EnvelopeParser, EveryAlias) {
  EXPECT_EQ(One(R"({"type":"t","id":"a"})").event_id, "a");
  EXPECT_EQ(One(R"({"type":"t","messageId":"b"})").event_id, "b");
  EXPECT_EQ(One(R"({"type":"t","uuid":"c"})").event_id, "c");
  EXPECT_EQ(One(R"({"event":"e"})").type, "e");
  EXPECT_EQ(One(R"({"name":"n"})").type, "n");
  EXPECT_EQ(One(R"({"type":"t","userId":"u"})").user_id, "u");
  EXPECT_EQ(One(R"({"type":"t","distinct_id":"d"})").user_id, "d");
  EXPECT_EQ(One(R"({"type":"t","anonymousId":"an"})").anonymous_id, "an");
  // Segment and PostHog shapes.
  Event seg = One(R"({"type":"track","event":"Order Completed","messageId":"m-1",
      "userId":"u-1","anonymousId":"a-1","timestamp":"2024-05-01T12:34:56Z",
      "properties":{"revenue":9.99},"context":{"library":{"name":"analytics.js"}}})");
  EXPECT_EQ(seg.type, "track");  // "type" outranks "event"
  EXPECT_EQ(seg.event_id, "m-1");
  EXPECT_EQ(seg.user_id, "u-1");
  EXPECT_EQ(seg.anonymous_id, "a-1");
  Event ph = One(R"({"event":"$pageview","distinct_id":"d-1","uuid":"0190-x",
      "properties":{"$current_url":"https://x"},"timestamp":1714566896})");
  EXPECT_EQ(ph.type, "$pageview");
  EXPECT_EQ(ph.user_id, "d-1");
  EXPECT_EQ(ph.event_id, "0190-x");
  EXPECT_EQ(ph.ts_us, kReceived);
}

TEST(EnvelopeParser, FirstAliasWinsWhateverTheOrder) {
  EXPECT_EQ(One(R"({"type":"t","uuid":"4","messageId":"3","id":"2","event_id":"1"})").event_id,
            "1");
  EXPECT_EQ(One(R"({"type":"t","uuid":"4","messageId":"3","id":"2"})").event_id, "2");
  EXPECT_EQ(One(R"({"type":"t","uuid":"4","messageId":"3"})").event_id, "3");
  EXPECT_EQ(One(R"({"name":"3","event":"2","type":"1"})").type, "1");
  EXPECT_EQ(One(R"({"name":"3","event":"2"})").type, "2");
  EXPECT_EQ(One(R"({"type":"t","distinct_id":"3","userId":"2","user_id":"1"})").user_id, "1");
  EXPECT_EQ(One(R"({"type":"t","distinct_id":"3","userId":"2"})").user_id, "2");
  EXPECT_EQ(One(R"({"type":"t","anonymousId":"2","anonymous_id":"1"})").anonymous_id, "1");
  // A repeated key: its first occurrence.
  EXPECT_EQ(One(R"({"type":"first","type":"second"})").type, "first");
  // The winning alias decides validity even if a lower one would be fine.
  EXPECT_EQ(OneError(R"({"type":"t","event_id":{},"id":"ok"})"), "\"event_id\" must be a string");
}

TEST(EnvelopeParser, BodyForms) {
  const char* kA = R"({"type":"a"})";
  const char* kB = R"({"type":"b"})";
  // Single object, with surrounding whitespace and a BOM.
  EXPECT_EQ(MustParse(std::string("\xEF\xBB\xBF \n") + kA + "\n\n").events.size(), 1u);
  // Array, pretty-printed.
  ParsedBody arr = MustParse(std::string("[\n  ") + kA + ",\n  " + kB + "\n]\n");
  ASSERT_EQ(arr.events.size(), 2u);
  EXPECT_EQ(arr.events[1].type, "b");
  EXPECT_EQ(arr.event_index, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(MustParse("[]").total, 0u);
  // Pretty-printed single object (kAuto must not take it for NDJSON).
  Event pretty =
      MustParse("{\n  \"type\": \"p\",\n  \"properties\": {\n    \"k\": 1\n  }\n}\n").events.at(0);
  EXPECT_EQ(pretty.properties, R"({"k":1})");
  // NDJSON, LF and CRLF, blank lines (including whitespace-only) ignored.
  for (const std::string& body :
       {std::string(kA) + "\n" + kB + "\n", std::string(kA) + "\r\n" + kB + "\r\n",
        "\n\n" + std::string(kA) + "\r\n  \t\r\n\r\n" + kB, std::string(kA) + "\n\n" + kB}) {
    for (BodyFormat f : {BodyFormat::kAuto, BodyFormat::kNdjson}) {
      ParsedBody nd = MustParse(body, f);
      ASSERT_EQ(nd.events.size(), 2u) << body;
      EXPECT_EQ(nd.events[0].type, "a");
      EXPECT_EQ(nd.events[1].type, "b");
      EXPECT_EQ(nd.event_index, (std::vector<size_t>{0, 1}));
    }
  }
  // Explicit formats.
  EXPECT_EQ(MustParse(kA, BodyFormat::kNdjson).events.size(), 1u);
  EXPECT_EQ(MustParse(std::string("[") + kA + "]", BodyFormat::kJson).events.size(), 1u);
  EXPECT_FALSE(BodyStatus(std::string(kA) + "\n" + kB, BodyFormat::kJson).ok());
  // An array as an NDJSON line is a per-element error, not a body error.
  ParsedBody line_arr = MustParse(std::string("[") + kA + "]\n" + kB, BodyFormat::kNdjson);
  ASSERT_EQ(line_arr.errors.size(), 1u);
  EXPECT_EQ(line_arr.errors[0].error, "event must be a JSON object");
}

TEST(EnvelopeParser, PerElementErrorsKeepIndices) {
  const std::string ndjson =
      "{\"type\":\"ok0\"}\n"
      "not json\n"
      "\n"  // blank: not an element
      "{\"type\":\"ok2\"}\n"
      "{\"type\":\n"
      "42\n"
      "{\"event_id\":\"x\"}\n"
      "{\"type\":\"ok6\"}";
  ParsedBody out = MustParse(ndjson);
  EXPECT_EQ(out.total, 7u);
  ASSERT_EQ(out.events.size(), 3u);
  EXPECT_EQ(out.events[2].type, "ok6");
  EXPECT_EQ(out.event_index, (std::vector<size_t>{0, 2, 6}));
  ASSERT_EQ(out.errors.size(), 4u);
  EXPECT_EQ(out.errors[0].index, 1u);
  EXPECT_EQ(out.errors[0].error.rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(out.errors[1].index, 3u);
  EXPECT_EQ(out.errors[1].error.rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(out.errors[2].index, 4u);
  EXPECT_EQ(out.errors[2].error, "event must be a JSON object");
  EXPECT_EQ(out.errors[3].index, 5u);
  EXPECT_EQ(out.errors[3].error, "\"type\" is required");

  ParsedBody arr = MustParse(R"([{"type":"a"}, 1, "s", [], null, {"name":""}, {"event":"z"}])");
  EXPECT_EQ(arr.total, 7u);
  EXPECT_EQ(arr.event_index, (std::vector<size_t>{0, 6}));
  ASSERT_EQ(arr.errors.size(), 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(arr.errors[i].index, i + 1);
    EXPECT_EQ(arr.errors[i].error, "event must be a JSON object");
  }
  EXPECT_EQ(arr.errors[4].index, 5u);
  EXPECT_EQ(arr.errors[4].error, "\"name\" is empty");
}

TEST(EnvelopeParser, BodyErrors) {
  EXPECT_EQ(BodyStatus("").message(), "empty body");
  EXPECT_EQ(BodyStatus(" \r\n\t\n").message(), "empty body");
  EXPECT_EQ(BodyStatus("", BodyFormat::kNdjson).message(), "empty body");
  EXPECT_EQ(BodyStatus("\xEF\xBB\xBF").message(), "empty body");
  for (const char* bad : {"{", "[", "[{\"type\":\"a\"}", "{\"type\":\"a\",}", "[{\"type\":tru}]",
                          "{\"type\":\"a\"} x", "[1,]", "{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}"}) {
    Status st = BodyStatus(bad);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_EQ(st.message().rfind("invalid JSON: ", 0), 0u) << bad << ": " << st.message();
  }
  EXPECT_EQ(BodyStatus("{\"a\":\"\xff\"}").message(), "invalid JSON: invalid UTF-8");
  // Pretty-printed object with an error: one body error, not per-line garbage.
  EXPECT_FALSE(BodyStatus("{\n \"type\": \"a\",\n}").ok());
  for (const char* scalar : {"42", "\"str\"", "true", "null", "-1.5"}) {
    Status st = BodyStatus(scalar);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << scalar;
    EXPECT_EQ(st.message(), "body must be a JSON object, an array of objects or NDJSON");
  }
}

TEST(EnvelopeParser, TooManyEvents) {
  ParseContext ctx = Ctx();
  ctx.limits.max_events_per_request = 3;
  std::string arr = "[", nd;
  for (int i = 0; i < 4; ++i) {
    arr += std::string(i ? "," : "") + "{\"type\":\"t\"}";
    nd += "{\"type\":\"t\"}\n";
  }
  arr += "]";
  EXPECT_EQ(BodyStatus(arr, BodyFormat::kAuto, ctx).code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(BodyStatus(nd, BodyFormat::kAuto, ctx).message(), "body has 4 events, limit is 3");
  ctx.limits.max_events_per_request = 4;
  EXPECT_EQ(MustParse(arr, BodyFormat::kAuto, ctx).events.size(), 4u);
  EXPECT_EQ(MustParse(nd, BodyFormat::kAuto, ctx).events.size(), 4u);
}

TEST(EnvelopeParser, EventSizeLimit) {
  ParseContext ctx = Ctx();
  ctx.limits.max_event_bytes = 100;
  auto event_of = [](size_t n) {  // an event whose JSON text is exactly n bytes
    std::string e = R"({"type":"t","properties":{"p":""}})";
    e.insert(e.size() - 3, std::string(n - e.size(), 'x'));
    return e;
  };
  ASSERT_EQ(event_of(100).size(), 100u);
  EXPECT_EQ(MustParse(event_of(100), BodyFormat::kAuto, ctx).events.size(), 1u);
  EXPECT_EQ(OneError(event_of(101), ctx), "event is 101 bytes, limit is 100");
  // NDJSON: each line on its own; surrounding whitespace does not count.
  ParsedBody nd = MustParse("  " + event_of(100) + " \r\n" + event_of(101) + "\n" + event_of(50),
                            BodyFormat::kNdjson, ctx);
  EXPECT_EQ(nd.event_index, (std::vector<size_t>{0, 2}));
  ASSERT_EQ(nd.errors.size(), 1u);
  EXPECT_EQ(nd.errors[0].index, 1u);
  EXPECT_EQ(nd.errors[0].error, "event is 101 bytes, limit is 100");
  // Array: each element's own text, including its inner whitespace.
  ParsedBody arr = MustParse("[ " + event_of(100) + " ,\n" + event_of(101) + ",  " + event_of(99) +
                                 "  ,{ \"type\" : \"" + std::string(86, 'y') + "\" }]",
                             BodyFormat::kAuto, ctx);
  EXPECT_EQ(arr.event_index, (std::vector<size_t>{0, 2}));
  ASSERT_EQ(arr.errors.size(), 2u);
  EXPECT_EQ(arr.errors[0].index, 1u);
  EXPECT_EQ(arr.errors[0].error, "event is 101 bytes, limit is 100");
  EXPECT_EQ(arr.errors[1].index, 3u);
  EXPECT_EQ(arr.errors[1].error, "event is 101 bytes, limit is 100");
  // The default limit is 32 KiB.
  std::string big = R"({"type":"t","properties":{"p":")" + std::string(40000, 'x') + "\"}}";
  EXPECT_EQ(OneError(big), "event is " + std::to_string(big.size()) + " bytes, limit is 32768");
}

TEST(EnvelopeParser, EventIdRules) {
  EXPECT_EQ(One(R"({"type":"t","event_id":12345})").event_id, "12345");
  EXPECT_EQ(One(R"({"type":"t","id":-7})").event_id, "-7");
  EXPECT_EQ(One(R"({"type":"t","id":18446744073709551615})").event_id, "18446744073709551615");
  EXPECT_FALSE(One(R"({"type":"t","id":1})").id_assigned);
  EXPECT_EQ(OneError(R"({"type":"t","event_id":1.5})"), "\"event_id\" must be a string");
  EXPECT_EQ(OneError(R"({"type":"t","messageId":true})"), "\"messageId\" must be a string");
  EXPECT_EQ(OneError(R"({"type":"t","uuid":["a"]})"), "\"uuid\" must be a string");
  EXPECT_EQ(OneError(R"({"type":"t","event_id":""})"), "\"event_id\" is empty");
  const std::string id128(128, 'i');
  EXPECT_EQ(One(R"({"type":"t","event_id":")" + id128 + "\"}").event_id, id128);
  EXPECT_EQ(OneError(R"({"type":"t","event_id":")" + id128 + "i\"}"),
            "\"event_id\" is 129 bytes, limit is 128");
  // The limit is in bytes of the unescaped string: é is 2 bytes.
  std::string id_e;
  for (int i = 0; i < 64; ++i) id_e += "\\u00e9";
  EXPECT_EQ(One(R"({"type":"t","event_id":")" + id_e + "\"}").event_id.size(), 128u);
  EXPECT_EQ(OneError(R"({"type":"t","event_id":")" + id_e + "x\"}"),
            "\"event_id\" is 129 bytes, limit is 128");
}

TEST(EnvelopeParser, TypeRules) {
  EXPECT_EQ(OneError(R"({"event_id":"x"})"), "\"type\" is required");
  EXPECT_EQ(OneError(R"({})"), "\"type\" is required");
  EXPECT_EQ(OneError(R"({"type":""})"), "\"type\" is empty");
  EXPECT_EQ(OneError(R"({"event":5})"), "\"event\" must be a string");
  EXPECT_EQ(OneError(R"({"type":{"a":1}})"), "\"type\" must be a string");
  const std::string t256(256, 't');
  EXPECT_EQ(One(R"({"type":")" + t256 + "\"}").type, t256);
  EXPECT_EQ(OneError(R"({"type":")" + t256 + "t\"}"), "\"type\" is 257 bytes, limit is 256");
}

TEST(EnvelopeParser, TimestampRules) {
  EXPECT_EQ(One(R"({"type":"t","timestamp":"2024-05-01T18:04:56+05:30"})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":1714566896})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":1714566896000})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":1714566896000000})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":1714566896000000000})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":1714566896.25})").ts_us, kReceived + 250000);
  EXPECT_EQ(One(R"({"type":"t","timestamp":"1714566896"})").ts_us, kReceived);
  EXPECT_EQ(One(R"({"type":"t","timestamp":-86400})").ts_us, -86400000000);
  EXPECT_EQ(OneError(R"({"type":"t","timestamp":"2024-13-01T00:00:00Z"})"),
            "\"timestamp\": month 13 out of range in \"2024-13-01T00:00:00Z\"");
  EXPECT_EQ(OneError(R"({"type":"t","timestamp":"yesterday"})").rfind("\"timestamp\": ", 0), 0u);
  EXPECT_EQ(OneError(R"({"type":"t","timestamp":true})"),
            "\"timestamp\" must be a string or number");
  EXPECT_EQ(OneError(R"({"type":"t","timestamp":{}})"), "\"timestamp\" must be a string or number");
  // Above INT64_MAX is nanoseconds (in 2262..2554), kept exact.
  EXPECT_EQ(One(R"({"type":"t","timestamp":18446744073709551615})").ts_us, 18446744073709551);
  EXPECT_EQ(OneError(R"({"type":"t","timestamp":1e300})"),
            "\"timestamp\": 1e+300 is outside years 0001-9999");
}

// The HTTP handler reuses one ParsedBody per thread and ParseBody recycles its events:
// every field of a recycled event must start from its default again, and nothing of the
// previous body (errors, schema refusals) may survive into the next.
TEST(EnvelopeParser, ReusedParsedBodyEqualsAFreshOne) {
  auto schema = JsonSchema::Parse(R"({"properties":{"n":{"type":"integer"}}})");
  ASSERT_TRUE(schema.ok());
  SchemaMap schemas;
  schemas.emplace("checked", TypeSchema{1, *schema});
  ParseContext ctx = Ctx();
  ctx.schemas = &schemas;
  const std::string full =
      R"({"event_id":"a-very-long-event-id-0123456789","type":"signup","user_id":"user-0123456789",)"
      R"("anonymous_id":"anon-0123456789abcdef","properties":{"plan":"pro","pad":"xxxxxxxxxxxxxxxx"},)"
      R"("context":{"ip":"10.0.0.1"},"timestamp":"2024-05-01T00:00:00Z"})";
  const std::string bodies[] = {
      full + "\n" + full + "\n" + R"({"type":"checked","properties":{"n":"x"}})" + "\nnot json\n",
      R"({"type":"bare"})"
      "\n"
      R"({"type":"bare","properties":{}})",
      full,
      R"([{"type":"bare"},{"type":"checked","properties":{"n":1}}])",
      // Events too large to pool (over 2 KiB of strings), then small ones again.
      R"({"type":"big","properties":{"pad":")" + std::string(5000, 'x') +
          R"("}})"
          "\n" +
          full,
      full + "\n" + full,
  };
  ParsedBody reused;
  for (const std::string& body : bodies) {
    ParsedBody fresh;
    ASSERT_TRUE(ParseBody(body, BodyFormat::kAuto, ctx, &fresh).ok());
    ASSERT_TRUE(ParseBody(body, BodyFormat::kAuto, ctx, &reused).ok());
    ASSERT_EQ(reused.total, fresh.total);
    ASSERT_EQ(reused.errors.size(), fresh.errors.size());
    ASSERT_EQ(reused.rejected.size(), fresh.rejected.size());
    ASSERT_EQ(reused.event_index, fresh.event_index);
    ASSERT_EQ(reused.events.size(), fresh.events.size());
    for (size_t i = 0; i < fresh.events.size(); ++i) {
      Event a = reused.events[i];
      const Event& b = fresh.events[i];
      if (b.id_assigned && a.id_assigned) a.event_id = b.event_id;  // fresh UUIDs differ
      ExpectSameEvent(a, b);
      EXPECT_EQ(a.log_offset, b.log_offset);
    }
  }
}

// A body with kBodyPadding readable bytes after it is parsed where it lies. Whatever those
// bytes hold (here: characters that would change a JSON text if they were taken as part of
// it), the result is the same as parsing a copy.
TEST(EnvelopeParser, BodyWithReadablePaddingParsesInPlaceLikeACopy) {
  const ParseContext ctx = Ctx();
  const std::string event =
      R"({"event_id":"e-1","type":"signup","user_id":"u","properties":{"n":12,"s":"x"},)"
      R"("timestamp":"2024-05-01T00:00:00Z"})";
  const std::string bodies[] = {
      event + "\n" + event + "\nnot json\n" + R"({"type":"t","properties":{"v":1e5}})",
      "\xEF\xBB\xBF" + event + "\n  \n",
      "[" + event + "," + R"({"type":"t"})" + "]",
      event,
      R"({"type":"t","n":12)",   // truncated: the padding must not complete it
      R"({"type":"t","v":123)",  // a number running into the padding
      "[1",
      "  \n\t ",
  };
  const std::string paddings[] = {std::string(kBodyPadding, '"'), std::string(kBodyPadding, '}'),
                                  std::string(kBodyPadding, '7'), std::string(kBodyPadding, '\0')};
  for (const std::string& body : bodies) {
    for (const std::string& padding : paddings) {
      SCOPED_TRACE(body + " | padding " + padding.substr(0, 1));
      ParsedBody copied, in_place;
      const Status a = ParseBody(body, BodyFormat::kAuto, ctx, &copied);
      const std::string buffer = body + padding;
      const Status b = ParseBody(std::string_view(buffer.data(), body.size()), BodyFormat::kAuto,
                                 ctx, &in_place, padding.size());
      ASSERT_EQ(a.ToString(), b.ToString());
      ASSERT_EQ(in_place.total, copied.total);
      ASSERT_EQ(in_place.event_index, copied.event_index);
      ASSERT_EQ(in_place.errors.size(), copied.errors.size());
      for (size_t i = 0; i < copied.errors.size(); ++i) {
        EXPECT_EQ(in_place.errors[i].index, copied.errors[i].index);
        EXPECT_EQ(in_place.errors[i].error, copied.errors[i].error);
      }
      ASSERT_EQ(in_place.events.size(), copied.events.size());
      for (size_t i = 0; i < copied.events.size(); ++i) {
        Event x = in_place.events[i];
        if (x.id_assigned) x.event_id = copied.events[i].event_id;  // fresh UUIDs differ
        ExpectSameEvent(x, copied.events[i]);
      }
      EXPECT_EQ(buffer, body + padding);  // nothing written, padding included
    }
  }
}

TEST(EnvelopeParser, UserIds) {
  Event e = One(R"({"type":"t","user_id":42,"anonymous_id":-3})");
  EXPECT_EQ(e.user_id, "42");
  EXPECT_EQ(e.anonymous_id, "-3");
  EXPECT_EQ(One(R"({"type":"t","distinct_id":2.5})").user_id, "2.5");
  EXPECT_EQ(One(R"({"type":"t","user_id":""})").user_id, "");
  EXPECT_EQ(OneError(R"({"type":"t","userId":{}})"), "\"userId\" must be a string");
  EXPECT_EQ(OneError(R"({"type":"t","anonymousId":false})"), "\"anonymousId\" must be a string");
}

TEST(EnvelopeParser, PropertiesAndContext) {
  EXPECT_EQ(OneError(R"({"type":"t","properties":[1]})"), "\"properties\" must be an object");
  EXPECT_EQ(OneError(R"({"type":"t","properties":"x"})"), "\"properties\" must be an object");
  EXPECT_EQ(OneError(R"({"type":"t","context":1})"), "\"context\" must be an object");
  EXPECT_EQ(One(R"({"type":"t","properties":{}})").properties, "{}");
  EXPECT_EQ(One(R"({"type":"t","context":{}})").context, "{}");
  // Escapes are decoded, UTF-8 kept as is, and what must be escaped is re-escaped.
  Event e =
      One(R"({"type":"t","properties":{"name":"\u00e9t\u00e9","emoji":"\ud83d\ude00","raw":"😀é",)"
          R"("q":"say \"hi\"\\","ctl":"a\nb\tc\u0001\u001f","slash":"\/","k\u00e9y":1}})");
  EXPECT_EQ(e.properties,
            "{\"name\":\"\xC3\xA9t\xC3\xA9\",\"emoji\":\"\xF0\x9F\x98\x80\",\"raw\":\"😀é\","
            "\"q\":\"say \\\"hi\\\"\\\\\",\"ctl\":\"a\\nb\\tc\\u0001\\u001f\",\"slash\":\"/\","
            "\"k\xC3\xA9y\":1}");
  // The stored text parses back to the same thing.
  ParsedBody again = MustParse(R"({"type":"t","properties":)" + e.properties + "}");
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_EQ(again.events[0].properties, e.properties);
  // Numbers.
  EXPECT_EQ(One(R"({"type":"t","properties":{"a":-0,"b":1.50,"c":1e2,"d":-9223372036854775808,)"
                R"("e":18446744073709551615,"f":0.1}})")
                .properties,
            R"({"a":0,"b":1.5,"c":100,"d":-9223372036854775808,"e":18446744073709551615,"f":0.1})");
}

// The minified writer (envelope_parser.cc) checks its buffer once per value: empty and
// nested containers must close right, and a property set far past the buffer's first
// size (4 KiB) must grow it mid-object without losing a byte.
TEST(EnvelopeParser, PropertiesWriterNestsAndGrows) {
  EXPECT_EQ(
      One(R"({"type":"t","properties":{"a":[],"b":{},"c":[{}],"d":[[],[1,[]]],"e":{"f":{}}}})")
          .properties,
      R"({"a":[],"b":{},"c":[{}],"d":[[],[1,[]]],"e":{"f":{}}})");
  std::string many = "{";
  for (int i = 0; i < 1000; ++i) {  // ~15 KiB: past the writer's buffer, under the event limit
    if (i) many += ",";
    many += "\"k" + std::to_string(i) + "\":";
    many += i % 3 == 0 ? "[" + std::to_string(i) + ",true,null]" : i % 3 == 1 ? "\"\\n\"" : "{}";
  }
  many += "}";
  EXPECT_EQ(One(R"({"type":"t","properties":)" + many + "}").properties, many);
  // One string longer than the buffer, all of it escaped (6 bytes out per byte in).
  std::string want = "{\"s\":\"";
  for (int i = 0; i < 3000; ++i) want += "\\u0001";
  want += "\"}";
  std::string in = "{\"s\":\"";
  for (int i = 0; i < 3000; ++i) in += "\\u0001";
  in += "\"}";
  EXPECT_EQ(One(R"({"type":"t","properties":)" + in + "}").properties, want);
}

// Past 1 MiB the writer lets its buffer go after the copy (a raised event limit); the
// objects written before, after and again must come out whole.
TEST(EnvelopeParser, PropertiesWriterAfterAHugeObject) {
  ParseContext ctx = Ctx();
  ctx.limits.max_event_bytes = 8 << 20;
  const std::string huge = R"({"s":")" + std::string(3 << 20, 'h') + "\"}";
  for (int round = 0; round < 2; ++round) {
    ParsedBody out;
    ASSERT_TRUE(
        ParseBody(R"({"type":"t","properties":)" + huge + "}", BodyFormat::kAuto, ctx, &out).ok());
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].properties, huge);
    ASSERT_TRUE(
        ParseBody(R"({"type":"t","properties":{"small":[1,2]}})", BodyFormat::kAuto, ctx, &out)
            .ok());
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(out.events[0].properties, R"({"small":[1,2]})");
  }
}

TEST(EnvelopeParser, DeepNestingKept) {
  std::string deep, want;
  for (int i = 0; i < 500; ++i) deep += "{\"a\":[";
  deep += "1";
  for (int i = 0; i < 500; ++i) deep += "]}";
  Event e = One(R"({"type":"t","properties":)" + deep + "}");
  EXPECT_EQ(e.properties, deep);
  // Beyond simdjson's depth limit (1024) the body is rejected, not crashed on.
  std::string too_deep(5000, '[');
  EXPECT_FALSE(BodyStatus(R"({"type":"t","properties":{"a":)" + too_deep + "}}").ok());
  ParsedBody nd = MustParse("{\"type\":\"a\"}\n{\"p\":" + too_deep + "}");
  EXPECT_EQ(nd.errors.size(), 1u);
}

TEST(EnvelopeParser, ContextFieldsComeFromTheServer) {
  ParseContext ctx = Ctx();
  ctx.tenant = "t2";
  ctx.source = "import";
  ctx.received_at_us = 5;
  ParsedBody out = MustParse(R"({"type":"t","tenant":"evil","source":"x","received_at":1})",
                             BodyFormat::kAuto, ctx);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].tenant, "t2");
  EXPECT_EQ(out.events[0].source, "import");
  EXPECT_EQ(out.events[0].received_at_us, 5);
}

TEST(EnvelopeParser, OutputIsReset) {
  ParsedBody out = MustParse("{\"type\":\"a\"}\nbad");
  ASSERT_TRUE(ParseBody(R"({"type":"b"})", BodyFormat::kAuto, Ctx(), &out).ok());
  EXPECT_EQ(out.total, 1u);
  EXPECT_EQ(out.events.size(), 1u);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_FALSE(ParseBody("", BodyFormat::kAuto, Ctx(), &out).ok());
  EXPECT_EQ(out.total, 0u);
  EXPECT_TRUE(out.events.empty());
}

TEST(EnvelopeParser, LargeBatch) {
  std::string arr = "[", nd;
  for (int i = 0; i < 5000; ++i) {
    const std::string ev = R"({"id":"e)" + std::to_string(i) +
                           R"(","type":"t","properties":{"i":)" + std::to_string(i) + "}}";
    arr += (i ? "," : "") + ev;
    nd += ev + "\n";
  }
  arr += "]";
  ParseContext ctx = Ctx();
  ctx.limits.max_event_bytes = 1000;  // forces the per-element sizing pass
  for (const std::string* body : {&arr, &nd}) {
    ParsedBody out = MustParse(*body, BodyFormat::kAuto, ctx);
    ASSERT_EQ(out.events.size(), 5000u);
    EXPECT_EQ(out.events[4321].event_id, "e4321");
    EXPECT_EQ(out.events[4321].properties, R"({"i":4321})");
    EXPECT_EQ(out.event_index[4321], 4321u);
  }
}

}  // namespace
}  // namespace sluice
