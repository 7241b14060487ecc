// The small shared pieces of pull connectors: retry backoff, record extraction (JSON
// pointer, XML element path, Link header), connector TOML errors, the kConnectorBatch
// codec and the snapshot entity table.
#include <gtest/gtest.h>

#include "ingest/connector_batch.h"
#include "sources/connector_config.h"
#include "sources/entity_state.h"
#include "sources/record_extractor.h"
#include "sources/retry_policy.h"

namespace sluice {
namespace {

TEST(RetryPolicyTest, ExponentialWithJitterAndCap) {
  RetryPolicy r(100, 1000, 0, 42);
  std::chrono::milliseconds d;
  int64_t expected_max[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t m : expected_max) {
    ASSERT_TRUE(r.Next(&d));
    EXPECT_GE(d.count(), m / 2);
    EXPECT_LE(d.count(), m);
  }
  r.Reset();
  ASSERT_TRUE(r.Next(&d));
  EXPECT_LE(d.count(), 100);
  RetryPolicy limited(1, 10, 3, 1);
  EXPECT_TRUE(limited.Next(&d));
  EXPECT_TRUE(limited.Next(&d));
  EXPECT_FALSE(limited.Next(&d));  // three attempts in all
}

ConnectorConfig Json(std::string records, std::string id, std::string ts) {
  ConnectorConfig c;
  c.name = "t";
  c.records_path = std::move(records);
  c.id_path = std::move(id);
  c.timestamp_path = std::move(ts);
  return c;
}

TEST(RecordExtractorTest, JsonPointersIdsTimestampsAndCursor) {
  ExtractedPage page;
  auto c = Json("/data/items", "/meta/id", "/at");
  ASSERT_TRUE(ExtractRecords(R"({"data":{"items":[{"meta":{"id":"a"},"at":"2024-01-01T00:00:00Z"},
      {"meta":{"id":17},"at":1704067200000},{"no":"id"}]},"next_cursor":"c2"})",
                             c, &page)
                  .ok());
  ASSERT_EQ(page.records.size(), 2u);
  EXPECT_EQ(page.records[0].id, "a");
  EXPECT_EQ(page.records[0].timestamp_json, "\"2024-01-01T00:00:00Z\"");
  EXPECT_EQ(page.records[1].id, "17");
  EXPECT_EQ(page.records[1].timestamp_json, "1704067200000");
  EXPECT_EQ(page.next_cursor, "c2");
  ASSERT_EQ(page.errors.size(), 1u);
  EXPECT_NE(page.errors[0].find("record 2"), std::string::npos);
}

TEST(RecordExtractorTest, TruncatedOrWrongBodiesAreErrors) {
  ExtractedPage page;
  auto c = Json("/data", "/id", "");
  EXPECT_FALSE(ExtractRecords(R"({"data":[{"id":"a"},{"id":)", c, &page).ok());
  EXPECT_FALSE(ExtractRecords(R"({"other":[]})", c, &page).ok());
  EXPECT_FALSE(ExtractRecords(R"({"data":{"id":"a"}})", c, &page).ok());
}

TEST(RecordExtractorTest, XmlElementPath) {
  ConnectorConfig c;
  c.format = "xml";
  c.records_path = "feed/item";
  c.id_path = "@id";
  c.timestamp_path = "updated";
  ExtractedPage page;
  ASSERT_TRUE(
      ExtractRecords(
          R"(<feed><item id="x1"><name>A &amp; B</name><updated>2024-01-01T00:00:00Z</updated></item>
      <item><name>no id</name></item></feed>)",
          c, &page)
          .ok());
  ASSERT_EQ(page.records.size(), 1u);
  EXPECT_EQ(page.records[0].id, "x1");
  EXPECT_EQ(page.records[0].json, R"({"id":"x1","name":"A & B","updated":"2024-01-01T00:00:00Z"})");
  EXPECT_EQ(page.records[0].timestamp_json, "\"2024-01-01T00:00:00Z\"");
  EXPECT_EQ(page.errors.size(), 1u);
}

// A valid XML document without the feed's parent element is an error (like a JSON body
// without the records path); the parent with no items is an empty feed.
TEST(RecordExtractorTest, XmlOfAnotherShapeIsAnErrorAnEmptyFeedIsNot) {
  ConnectorConfig c;
  c.format = "xml";
  c.records_path = "feed/item";
  c.id_path = "@id";
  ExtractedPage page;
  Status s = ExtractRecords("<?xml version=\"1.0\"?><error>maintenance</error>", c, &page);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("body has no /feed"), std::string::npos) << s.message();
  ASSERT_TRUE(ExtractRecords("<feed></feed>", c, &page).ok());
  EXPECT_TRUE(page.records.empty());
  c.records_path = "//item";  // no parent to check
  EXPECT_TRUE(ExtractRecords("<error/>", c, &page).ok());
}

TEST(RecordExtractorTest, LinkHeaderNext) {
  EXPECT_EQ(NextFromLinkHeader(R"(<https://a/x?c=1>; rel="prev", <https://a/x?c=3>; rel="next")"),
            "https://a/x?c=3");
  EXPECT_EQ(NextFromLinkHeader(R"(<https://a/x?c=1>; rel="prev")"), "");
}

TEST(ConnectorConfigTest, ErrorsNameFileKeyAndProblem) {
  auto bad = [](const std::string& toml) {
    auto r = ParseConnectorToml(toml, "c.toml");
    EXPECT_FALSE(r.ok()) << toml;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(bad("url = \"http://x\""), "c.toml: name is required");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"ftp://x\""),
            "c.toml: url must start with http:// or https://");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\nkind = \"stream\""),
            "c.toml: kind must be cursor, time_window or snapshot, got 'stream'");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\npage_size = \"ten\""),
            "c.toml: page_size must be an integer >= 1");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\nrecords_path = \"data\""),
            "c.toml: records_path must be a JSON pointer starting with '/', got 'data'");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\nauth_header = \"Bearer ${SLUICE_NO_SUCH_VAR}\""),
            "c.toml: auth_header must look like \"Name: value\"");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\nauth_header = \"Authorization: "
                "${SLUICE_NO_SUCH_VAR}\""),
            "c.toml: auth_header names environment variable SLUICE_NO_SUCH_VAR, which is not set");
  EXPECT_EQ(bad("name = \"a\"\nurl = \"http://x\"\nsafety_lag = 5"),
            "c.toml: safety_lag is not a known key");
  auto ok = ParseConnectorToml(
      "name = \"orders\"\nkind = \"time_window\"\nurl = \"https://api/x\"\n"
      "safety_lag_seconds = 30\n[params]\nstatus = \"all\"\n",
      "c.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->kind, ConnectorKind::kTimeWindow);
  EXPECT_EQ(ok->safety_lag_seconds, 30);
  EXPECT_EQ(ok->type, "orders.record");
  ASSERT_EQ(ok->params.size(), 1u);
}

// Unset, recheck follows the safety lag, at least a poll interval, at most 5 minutes; set,
// it is what it says (0 = off).
TEST(ConnectorConfigTest, RecheckDefaultsToTheLagBounded) {
  const std::string base = "name = \"w\"\nkind = \"time_window\"\nurl = \"http://x\"\n";
  auto c = ParseConnectorToml(base, "w.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->recheck_seconds, 60);
  c = ParseConnectorToml(base + "safety_lag_seconds = 0\npoll_interval_seconds = 7\n", "w.toml");
  EXPECT_EQ(c->recheck_seconds, 7);
  c = ParseConnectorToml(base + "safety_lag_seconds = 3600\n", "w.toml");
  EXPECT_EQ(c->recheck_seconds, 300);
  c = ParseConnectorToml(base + "recheck_seconds = 0\n", "w.toml");
  EXPECT_EQ(c->recheck_seconds, 0);
  c = ParseConnectorToml(base + "allow_empty_feed = \"yes\"\n", "w.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "w.toml: allow_empty_feed must be true or false");
}

TEST(ConnectorBatchTest, RoundTripAndTruncation) {
  ConnectorCheckpoint in{"t1", "orders", "cursor-42"};
  std::string payload = EncodeConnectorBatch(in, "EVENTS");
  ConnectorCheckpoint out;
  std::string_view events;
  ASSERT_TRUE(DecodeConnectorBatch(payload, &out, &events).ok());
  EXPECT_EQ(out.tenant, "t1");
  EXPECT_EQ(out.connector, "orders");
  EXPECT_EQ(out.checkpoint, "cursor-42");
  EXPECT_EQ(events, "EVENTS");
  EXPECT_FALSE(DecodeConnectorBatch(payload.substr(0, 10), &out, &events).ok());
}

TEST(EntityStateTest, RoundTripAndCurrentView) {
  EntityTable t;
  t["a"] = {"h1", 1, 2, false};
  t["b\"q"] = {"h2", 3, 4, true};
  EntityTable back;
  ASSERT_TRUE(DecodeEntityTable(EncodeEntityTable(t), &back).ok());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back["b\"q"].version, "h2");
  EXPECT_TRUE(back["b\"q"].stale);
  std::string current = EntitiesJson(back, true);
  EXPECT_NE(current.find("\"a\""), std::string::npos);
  EXPECT_EQ(current.find("b\\\"q"), std::string::npos);
  EXPECT_NE(EntitiesJson(back, false).find("b\\\"q"), std::string::npos);
}

// The version count travels in the table; tables written before it (four elements per
// entry) still decode, counting from 0.
TEST(EntityStateTest, VersionCountRoundTripsAndOldTablesDecode) {
  EntityTable t;
  t["a"] = {"h1", 1, 2, false, 3};
  EntityTable back;
  ASSERT_TRUE(DecodeEntityTable(EncodeEntityTable(t), &back).ok());
  EXPECT_EQ(back["a"].versions, 3u);
  EXPECT_NE(EntitiesJson(back, true).find("\"versions\":3"), std::string::npos);
  ASSERT_TRUE(DecodeEntityTable(R"({"e":{"old":["h9",5,6,1]}})", &back).ok());
  EXPECT_EQ(back["old"].version, "h9");
  EXPECT_TRUE(back["old"].stale);
  EXPECT_EQ(back["old"].versions, 0u);
  EXPECT_FALSE(DecodeEntityTable(R"({"e":{"x":["h",1,2,0,1,9]}})", &back).ok());
}

}  // namespace
}  // namespace sluice
