// Metric queries: request parsing and its 400 messages, bucket boundaries with zone
// offsets, and series read through MetricReader equal to SQL over the stored events at
// every granularity (1d in a half-hour zone reads rollup_1m, in a whole-hour zone
// rollup_1h), zero-filled, with the cache serving only closed, unchanged ranges.
#include "rollup/metric_query.h"

#include <gtest/gtest.h>

#include "rollup/metric_reader.h"
#include "rollup_fixture.h"
#include "store/events_view.h"

namespace sluice::test {
namespace {

const MetricSpec kEvents = BuiltinMetrics()[0];

Result<MetricQuery> Parse(const QueryParams& p, size_t max_points = 1000) {
  return ParseMetricQuery("default", kEvents, p, 1764000000000000, max_points);
}

TEST(MetricQueryParseTest, DefaultsAndAlignment) {
  auto q = Parse({});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->granularity, "1h");
  EXPECT_EQ(q->points(), 24u);  // the last 24 hours
  q = Parse(
      {{"from", "2026-01-01T10:17:00Z"}, {"to", "2026-01-01T12:00:01Z"}, {"granularity", "5m"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(FormatUtc(q->from_us), "2026-01-01T10:15:00Z");
  EXPECT_EQ(FormatUtc(q->to_us), "2026-01-01T12:05:00Z");
  q = Parse(
      {{"from", "2026-01-01"}, {"to", "2026-01-03"}, {"granularity", "1d"}, {"tz", "+05:30"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(FormatUtc(q->from_us), "2025-12-31T18:30:00Z");  // local midnight Jan 1
  EXPECT_EQ(q->points(), 3u);
  EXPECT_EQ(FormatUtc(BucketStart(0, 86400000000LL, -8 * 3600000000LL)), "1969-12-31T08:00:00Z");
  EXPECT_EQ(FormatUtc(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(MetricQueryParseTest, ClearErrors) {
  struct Case {
    QueryParams p;
    std::string message;
  } cases[] = {
      {{{"granularity", "1w"}}, "granularity must be 1m, 5m, 1h or 1d"},
      {{{"from", "2026-01-02"}, {"to", "2026-01-01"}}, "from must be before to"},
      {{{"from", "2026-01-01"}, {"to", "2026-01-01"}}, "from must be before to"},
      {{{"from", "soon"}}, "from: "},
      {{{"from", "0001-01-01"}, {"to", "9999-01-01"}, {"granularity", "1m"}},
       "exceed the limit of 1000"},
      {{{"group_by", "plan"}}, "cannot be grouped by 'plan' (its dimensions: type)"},
      {{{"group_by", "type,type"}}, "names 'type' twice"},
      {{{"filter", "plan:pro"}}, "cannot be filtered by 'plan'"},
      {{{"filter", ":x"}}, "dimension:value"},
      {{{"tz", "+25:00"}}, "tz must be UTC or a fixed offset"},
      {{{"tenant", "acme"}}, "unknown parameter 'tenant'"},
  };
  for (const auto& c : cases) {
    auto q = Parse(c.p);
    ASSERT_FALSE(q.ok()) << c.message;
    EXPECT_EQ(q.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(q.status().message().find(c.message), std::string::npos) << q.status().message();
  }
}

class MetricReaderTest : public RollupFixture {};

TEST_F(MetricReaderTest, SeriesEqualSqlAtEveryGranularityAndZone) {
  for (int i = 0; i < 10; ++i) Ingest(RandomEvents(500, 0.05));
  DrainStore();
  RollupConsumer rollups(log_.get(), store_.get(), Options());
  ASSERT_TRUE(rollups.RunUntilCaughtUp().ok());
  MetricReader reader(store_.get(), &rollups, 100000, 64);
  const std::string from = std::to_string(now_us_ / 1000000 - 12 * 86400);
  const std::string to = std::to_string(now_us_ / 1000000 + 3600);
  struct Case {
    std::string granularity, tz;
    int64_t width_s, offset_s;
  } cases[] = {{"1m", "", 60, 0},
               {"5m", "", 300, 0},
               {"1h", "", 3600, 0},
               {"1d", "", 86400, 0},
               {"1d", "-08:00", 86400, -8 * 3600},
               {"1d", "+05:30", 86400, 5 * 3600 + 1800}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.granularity + " " + c.tz);
    QueryParams p = {{"from", from},
                     {"to", to},
                     {"granularity", c.granularity},
                     {"group_by", "plan"},
                     {"filter", "country:de"}};
    if (!c.tz.empty()) p.emplace_back("tz", c.tz);
    auto a = reader.Query("default", "revenue", p);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    const MetricResult& r = *a->result;
    std::map<std::pair<std::string, int64_t>, double> got;
    for (const auto& s : r.series) {
      ASSERT_EQ(s.cells.size(), r.query.points()) << "zero-filled";
      for (size_t i = 0; i < s.cells.size(); ++i) {
        if (s.cells[i].count > 0)
          got[{s.group[0], r.query.from_us + int64_t(i) * r.query.width_us}] = s.cells[i].sum;
      }
    }
    std::map<std::pair<std::string, int64_t>, double> want;
    const std::string bucket = "((epoch_us(ts) + " + std::to_string(c.offset_s) + "000000) // " +
                               std::to_string(c.width_s) + "000000) * " +
                               std::to_string(c.width_s) + "000000 - " +
                               std::to_string(c.offset_s) + "000000";
    Status sql_status =
        (store_->WithEventsView("default", [&](duck::Connection& con, const std::string& view) {
          auto q = con.Query("SELECT coalesce(properties->>'plan', ''), " + bucket +
                             ", sum((properties->>'amount')::DOUBLE) FROM (" + view +
                             ") WHERE type = 'purchase' AND (properties->>'country') = 'de' AND "
                             "json_type(properties, '$.amount') IN "
                             "('BIGINT', 'UBIGINT', 'DOUBLE') AND ts >= make_timestamp(" +
                             std::to_string(r.query.from_us) + ") AND ts < make_timestamp(" +
                             std::to_string(r.query.to_us) + ") GROUP BY ALL");
          if (!q.ok()) return q.status();
          Status st;
          while (auto chunk = q->FetchChunk(&st)) {
            for (idx_t i = 0; i < chunk.size(); ++i) {
              want[{std::string(duck::GetString(chunk.column(0), i)),
                    static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(1)))[i]}] =
                  static_cast<const double*>(duckdb_vector_get_data(chunk.column(2)))[i];
            }
          }
          return st;
        }));
    ASSERT_TRUE(sql_status.ok()) << sql_status.ToString();
    ASSERT_FALSE(want.empty());
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [k, v] : want) EXPECT_NEAR(got[k], v, 1e-9 * std::max(1.0, std::abs(v)));
  }
  // Ranges that ended before this minute are cached; the second answer is the same object.
  QueryParams closed = {{"from", from}, {"to", std::to_string(now_us_ / 1000000 - 86400)}};
  auto first = reader.Query("default", "events", closed);
  auto second = reader.Query("default", "events", closed);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first->from_cache);
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(first->result.get(), second->result.get());
  // Another tenant's metric does not exist for this one.
  EXPECT_FALSE(reader.Query("other", "nope", {}).ok());
}

}  // namespace
}  // namespace sluice::test
