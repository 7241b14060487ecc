// RollupFixture (rollup_fixture.h).
#include "rollup_fixture.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "rollup/rollup_cells.h"
#include "rollup/rollup_table.h"
#include "store/events_view.h"

namespace sluice::test {

void RollupFixture::SetUp() {
  char tmpl[] = "/tmp/sluice-rollup-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  LogOptions lo;
  lo.dir = dir_ + "/log";
  lo.fsync = false;
  RecoveryReport report;
  auto l = Log::Open(lo, &report);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  log_ = std::move(*l);
  ingestor_ = std::make_unique<Ingestor>(log_.get(), 1 << 16, dir_ + "/dedupe.snapshot");
  uint64_t replayed = 0;
  ASSERT_TRUE(ingestor_->Recover(&replayed).ok());
  auto s = EventStore::Open(dir_ + "/sluice.duckdb");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(*s);
}

void RollupFixture::TearDown() {
  store_.reset();
  ingestor_.reset();
  log_.reset();
  std::filesystem::remove_all(dir_);
}

size_t RollupFixture::Ingest(std::vector<Event> events) {
  auto r = ingestor_->Submit(&events);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return 0;
  EXPECT_TRUE(log_->WaitDurable(r->wait_offset).ok());
  return r->accepted;
}

void RollupFixture::DrainStore() {
  StoreConsumerOptions so;
  so.batch_events = 5000;
  StoreConsumer c(log_.get(), store_.get(), so);
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
}

std::vector<MetricSpec> RollupFixture::ConfigMetrics() {
  MetricSpec revenue{"revenue", MetricAggregate::kSum, {"purchase"}, "amount", {"plan", "country"}};
  MetricSpec amounts{"amount_max", MetricAggregate::kMax, {}, "cart.total", {"plan"}};
  MetricSpec plans{"users_by_plan", MetricAggregate::kUnique, {}, "", {"plan", "type", "source"}};
  MetricSpec countries{
      "countries", MetricAggregate::kUnique, {"signup", "purchase"}, "country", {}};
  return {revenue, amounts, plans, countries};
}

RollupConsumerOptions RollupFixture::Options(std::vector<MetricSpec> extra) {
  RollupConsumerOptions o;
  o.batch_events = 700;  // many batches, so merging into stored windows is exercised
  o.batch_ms = 5;
  for (auto& m : extra) o.global_metrics.push_back(std::move(m));
  return o;
}

std::vector<Event> RollupFixture::RandomEvents(int n, double dup_ratio) {
  static const char* types[] = {"page_view", "click", "purchase", "signup", "logout"};
  static const char* plans[] = {"free", "pro", "team"};
  static const char* countries[] = {"de", "fr", "us", "jp", "br", "in"};
  std::vector<Event> out;
  auto pick = [&](int k) { return static_cast<int>(rng_() % k); };
  for (int i = 0; i < n; ++i) {
    if (!sent_.empty() && std::uniform_real_distribution<>(0, 1)(rng_) < dup_ratio) {
      Event d = sent_[rng_() % sent_.size()];
      if (pick(2) == 0) d.properties = R"({"plan":"pro","amount":1e6,"cart":{"total":1e6}})";
      out.push_back(std::move(d));
      continue;
    }
    Event e;
    e.tenant = pick(4) == 0 ? "acme" : "default";
    e.event_id = "e" + std::to_string(next_id_++);
    e.type = types[pick(5)];
    // Mostly the last 3 hours; 10% late by up to 10 days; a few a bit in the future.
    int64_t age = static_cast<int64_t>(rng_() % (3 * kHourUs));
    if (pick(10) == 0) age = static_cast<int64_t>(rng_() % (240 * kHourUs));
    if (pick(50) == 0) age = -static_cast<int64_t>(rng_() % kHourUs);
    e.ts_us = now_us_ - age;
    e.received_at_us = now_us_;
    const int u = pick(5);
    if (u < 3) e.user_id = "u" + std::to_string(rng_() % 3000);
    if (u == 3) e.anonymous_id = "a" + std::to_string(rng_() % 500);
    std::string p = "{";
    if (pick(5) != 0) p += std::string("\"plan\":\"") + plans[pick(3)] + "\",";
    if (pick(4) != 0) p += std::string("\"country\":\"") + countries[pick(6)] + "\",";
    switch (pick(5)) {
      case 0:
        p += "\"amount\":" + std::to_string(pick(1000)) + ",";
        break;
      case 1:
      case 2:
        p +=
            "\"amount\":" + std::to_string(std::uniform_real_distribution<>(-50, 5000)(rng_)) + ",";
        break;
      case 3:
        p += "\"amount\":\"12.5\",";  // a string is not a number
        break;
      default:
        break;
    }
    if (pick(3) != 0) {
      p += "\"cart\":{\"total\":" + std::to_string(std::uniform_real_distribution<>(0, 999)(rng_)) +
           "},";
    }
    if (p.back() == ',') p.pop_back();
    e.properties = p + "}";
    e.source = pick(3) == 0 ? "import" : "http";
    sent_.push_back(e);
    out.push_back(std::move(e));
  }
  return out;
}

Windows RollupFixture::StoredWindows(int64_t width_us) {
  Windows out;
  auto con = duck::Connection::Open(store_->db());
  EXPECT_TRUE(con.ok());
  auto r = con->Query(std::string("SELECT tenant, metric, epoch_us(bucket), g1, g2, g3, cnt, sum, "
                                  "min, max, hll FROM ") +
                      RollupTableName(width_us));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return out;
  while (true) {
    Status st;
    duck::DataChunk c = r->FetchChunk(&st);
    EXPECT_TRUE(st.ok());
    if (!c) break;
    for (idx_t i = 0; i < c.size(); ++i) {
      auto s = [&](idx_t col) { return std::string(duck::GetString(c.column(col), i)); };
      WindowKey k{s(0), s(1), static_cast<const int64_t*>(duckdb_vector_get_data(c.column(2)))[i],
                  s(3), s(4), s(5)};
      EXPECT_EQ(out.count(k), 0u) << "a window is stored twice";
      Aggregates a;
      a.count = static_cast<const uint64_t*>(duckdb_vector_get_data(c.column(6)))[i];
      a.sum = static_cast<const double*>(duckdb_vector_get_data(c.column(7)))[i];
      if (duck::IsValid(c.column(8), i)) {
        a.min = static_cast<const double*>(duckdb_vector_get_data(c.column(8)))[i];
        a.max = static_cast<const double*>(duckdb_vector_get_data(c.column(9)))[i];
      }
      if (duck::IsValid(c.column(10), i)) {
        auto h = HyperLogLog::Deserialize(duck::GetString(c.column(10), i));
        EXPECT_TRUE(h.ok());
        if (h.ok()) a.unique = h->Estimate();
      }
      out[k] = a;
    }
  }
  return out;
}

namespace {

// The SQL text of a dimension or key: envelope field or property path, "" when absent.
std::string FieldSql(const std::string& f) {
  if (f == "type") return "type";
  if (f == "source" || f == "user_id" || f == "anonymous_id") return "coalesce(" + f + ", '')";
  std::string path = f.starts_with("properties.") ? f.substr(11) : f;
  return "coalesce(json_extract_string(properties, " + SqlQuote("$." + path) + "), '')";
}

}  // namespace

Windows RollupFixture::ExactWindows(int64_t width_us, const std::vector<MetricDefinition>& defs) {
  Windows out;
  const std::string unit = width_us == kHourUs ? "'hour'" : "'minute'";
  for (const auto& d : defs) {
    const MetricSpec& m = d.metric.spec;
    std::string dims[3] = {"''", "''", "''"};
    for (size_t i = 0; i < m.dimensions.size(); ++i) dims[i] = FieldSql(m.dimensions[i]);
    std::string where = "true";
    if (!d.metric.tenant.empty()) where += " AND tenant = " + SqlQuote(d.metric.tenant);
    if (!m.event_types.empty()) {
      where += " AND type IN (";
      for (size_t i = 0; i < m.event_types.size(); ++i) {
        where += (i ? ", " : "") + SqlQuote(m.event_types[i]);
      }
      where += ")";
    }
    std::string value = "NULL::DOUBLE", key = "NULL";
    const std::string path = "'$." + m.property + "'";
    if (m.aggregate == MetricAggregate::kUnique) {
      key = m.property.empty() ? "coalesce(user_id, anonymous_id)"
                               : "nullif(" + FieldSql(m.property) + ", '')";
      where += " AND " + key + " IS NOT NULL";
    } else if (m.aggregate != MetricAggregate::kCount) {
      value = "json_extract(properties, " + path + ")::DOUBLE";
      where += " AND json_type(properties, " + path + ") IN ('BIGINT', 'UBIGINT', 'DOUBLE')";
    }
    const std::string sql = "SELECT tenant, epoch_us(date_trunc(" + unit + ", ts)) AS b, " +
                            dims[0] + " AS g1, " + dims[1] + " AS g2, " + dims[2] +
                            " AS g3, count(*)::UBIGINT, coalesce(sum(" + value +
                            "), 0)::DOUBLE, min(" + value + "), max(" + value +
                            "), count(DISTINCT " + key + ")::UBIGINT FROM (";
    Status s = store_->WithEventsView("", [&](duck::Connection& con, const std::string& view) {
      auto r = con.Query(sql + view + ") WHERE " + where + " GROUP BY ALL");
      if (!r.ok()) return r.status();
      while (true) {
        Status st;
        duck::DataChunk c = r->FetchChunk(&st);
        if (!st.ok()) return st;
        if (!c) break;
        for (idx_t i = 0; i < c.size(); ++i) {
          auto str = [&](idx_t col) { return std::string(duck::GetString(c.column(col), i)); };
          WindowKey k{
              str(0), m.name, static_cast<const int64_t*>(duckdb_vector_get_data(c.column(1)))[i],
              str(2), str(3), str(4)};
          Aggregates a;
          a.count = static_cast<const uint64_t*>(duckdb_vector_get_data(c.column(5)))[i];
          a.sum = static_cast<const double*>(duckdb_vector_get_data(c.column(6)))[i];
          if (duck::IsValid(c.column(7), i)) {
            a.min = static_cast<const double*>(duckdb_vector_get_data(c.column(7)))[i];
            a.max = static_cast<const double*>(duckdb_vector_get_data(c.column(8)))[i];
          }
          a.unique = static_cast<double>(
              static_cast<const uint64_t*>(duckdb_vector_get_data(c.column(9)))[i]);
          out[k] = a;
        }
      }
      return Status::OK();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

void RollupFixture::ExpectRollupsExact(const std::vector<MetricDefinition>& defs) {
  for (int64_t width : {kMinuteUs, kHourUs}) {
    Windows stored = StoredWindows(width);
    Windows exact = ExactWindows(width, defs);
    ASSERT_FALSE(exact.empty());
    EXPECT_EQ(stored.size(), exact.size()) << "width " << width;
    int bad = 0;
    for (const auto& [k, want] : exact) {
      auto it = stored.find(k);
      const std::string where = std::get<0>(k) + "/" + std::get<1>(k) + "@" +
                                std::to_string(std::get<2>(k)) + "/" + std::get<3>(k) + "/" +
                                std::get<4>(k) + "/" + std::get<5>(k);
      if (it == stored.end()) {
        ADD_FAILURE() << "missing window " << where;
        if (++bad > 10) return;
        continue;
      }
      const Aggregates& got = it->second;
      bool ok = got.count == want.count && got.min == want.min && got.max == want.max &&
                std::abs(got.sum - want.sum) <= 1e-9 * std::max(1.0, std::abs(want.sum));
      const bool unique = std::get<1>(k) == "unique_users" || std::get<1>(k) == "users_by_plan" ||
                          std::get<1>(k) == "countries";
      if (unique)
        ok = ok && std::abs(got.unique - want.unique) <= std::max(1.0, 0.02 * want.unique);
      if (!ok) {
        ADD_FAILURE() << where << ": count " << got.count << " vs " << want.count << ", sum "
                      << got.sum << " vs " << want.sum << ", min " << got.min << " vs " << want.min
                      << ", max " << got.max << " vs " << want.max << ", unique " << got.unique
                      << " vs " << want.unique;
        if (++bad > 10) return;
      }
    }
  }
}

}  // namespace sluice::test
