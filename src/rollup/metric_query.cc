// Metric queries (metric_query.h): request parsing, rollup reads, zero-filled series.
#include "rollup/metric_query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "ingest/timestamp.h"
#include "query/column_reader.h"
#include "rollup/rollup_table.h"

namespace sluice {

namespace {

constexpr int64_t kDayUs = 24 * kHourUs;

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t c = s.find(',');
    std::string_view piece = s.substr(0, c);
    if (!piece.empty()) out.emplace_back(piece);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

// "UTC", "Z", "+05:30", "-08:00", "+05", "-0800".
Result<int64_t> ParseTzOffset(std::string_view tz) {
  if (tz.empty() || tz == "UTC" || tz == "utc" || tz == "Z" || tz == "z") return int64_t{0};
  auto bad = [&] {
    return Status::InvalidArgument(
        "tz must be UTC or a fixed offset such as +05:30 or -08:00, got '" + std::string(tz) + "'");
  };
  if (tz[0] != '+' && tz[0] != '-') return bad();
  std::string digits;
  for (char c : tz.substr(1)) {
    if (c == ':') continue;
    if (c < '0' || c > '9') return bad();
    digits.push_back(c);
  }
  if (digits.size() != 2 && digits.size() != 4) return bad();
  const int hours = std::stoi(digits.substr(0, 2));
  const int minutes = digits.size() == 4 ? std::stoi(digits.substr(2)) : 0;
  if (hours > 14 || minutes > 59) return bad();
  const int64_t off = (int64_t{hours} * 60 + minutes) * kMinuteUs;
  return tz[0] == '-' ? -off : off;
}

std::string FormatOffset(int64_t off_us) {
  const int64_t minutes = std::abs(off_us) / kMinuteUs;
  return fmt::format("{}{:02}:{:02}", off_us < 0 ? '-' : '+', minutes / 60, minutes % 60);
}

// The value of a point; nullopt where the aggregate has none (avg/min/max of nothing).
std::optional<double> PointValue(MetricAggregate a, const RollupCell& c) {
  switch (a) {
    case MetricAggregate::kCount:
      return static_cast<double>(c.count);
    case MetricAggregate::kSum:
      return c.sum;
    case MetricAggregate::kAvg:
      if (c.count == 0) return std::nullopt;
      return c.sum / static_cast<double>(c.count);
    case MetricAggregate::kMin:
      if (c.count == 0) return std::nullopt;
      return c.min;
    case MetricAggregate::kMax:
      if (c.count == 0) return std::nullopt;
      return c.max;
    case MetricAggregate::kUnique:
      return c.count == 0 ? 0.0 : std::round(c.hll.Estimate());
  }
  return std::nullopt;
}

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::abs(v) < 9e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

}  // namespace

int64_t BucketStart(int64_t ts_us, int64_t width_us, int64_t tz_offset_us) {
  // Only days move with the zone; minutes and hours stay UTC (a half-hour zone's "hour"
  // buckets would otherwise not line up with anyone's clock either).
  if (width_us != kDayUs) return FloorTo(ts_us, width_us);
  return FloorTo(ts_us + tz_offset_us, width_us) - tz_offset_us;
}

std::string FormatUtc(int64_t us) {
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  const int64_t days = FloorTo(us, kDayUs) / kDayUs;
  const int64_t in_day = us - days * kDayUs;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  const int64_t secs = in_day / 1000000, frac = in_day % 1000000;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, secs / 3600,
                                secs / 60 % 60, secs % 60);
  if (frac != 0) out += fmt::format(".{:06}", frac);
  return out + "Z";
}

std::string MetricQuery::CacheKey() const {
  std::string k = tenant + '\0' + spec.name + '\0' + std::to_string(width_us) + '\0' +
                  std::to_string(from_us) + '\0' + std::to_string(to_us) + '\0' +
                  std::to_string(tz_offset_us) + '\0';
  for (const auto& g : group_by) k += g + '\x01';
  k += '\0';
  for (const auto& [d, v] : filters) k += d + '\x01' + v + '\x02';
  return k;
}

Result<MetricQuery> ParseMetricQuery(const std::string& tenant, const MetricSpec& spec,
                                     const QueryParams& params, int64_t now_us, size_t max_points) {
  MetricQuery q;
  q.tenant = tenant;
  q.spec = spec;
  std::string from, to, tz;
  for (const auto& [k, v] : params) {
    if (k == "from") {
      from = v;
    } else if (k == "to") {
      to = v;
    } else if (k == "granularity") {
      q.granularity = v;
    } else if (k == "tz") {
      tz = v;
    } else if (k == "group_by") {
      for (auto& g : SplitComma(v)) q.group_by.push_back(std::move(g));
    } else if (k == "filter") {
      for (const auto& f : SplitComma(v)) {
        const size_t colon = f.find(':');
        if (colon == std::string::npos || colon == 0) {
          return Status::InvalidArgument("filter must be dimension:value, got '" + f + "'");
        }
        q.filters.emplace_back(f.substr(0, colon), f.substr(colon + 1));
      }
    } else {
      return Status::InvalidArgument("unknown parameter '" + k +
                                     "' (from, to, granularity, group_by, filter, tz)");
    }
  }
  if (q.granularity == "1m") {
    q.width_us = kMinuteUs;
  } else if (q.granularity == "5m") {
    q.width_us = 5 * kMinuteUs;
  } else if (q.granularity == "1h") {
    q.width_us = kHourUs;
  } else if (q.granularity == "1d") {
    q.width_us = kDayUs;
  } else {
    return Status::InvalidArgument("granularity must be 1m, 5m, 1h or 1d, got '" + q.granularity +
                                   "'");
  }
  auto off = ParseTzOffset(tz);
  if (!off.ok()) return off.status();
  q.tz_offset_us = *off;
  int64_t to_us = now_us, from_us = 0;
  if (!to.empty()) {
    auto t = ParseTimestampString(to);
    if (!t.ok()) return Status::InvalidArgument("to: " + t.status().message());
    to_us = *t;
  }
  if (!from.empty()) {
    auto f = ParseTimestampString(from);
    if (!f.ok()) return Status::InvalidArgument("from: " + f.status().message());
    from_us = *f;
  } else {
    from_us = to_us - kDayUs;
  }
  if (from_us >= to_us) {
    return Status::InvalidArgument("from must be before to (got from=" + FormatUtc(from_us) +
                                   ", to=" + FormatUtc(to_us) + ")");
  }
  q.from_us = BucketStart(from_us, q.width_us, q.tz_offset_us);
  q.to_us = BucketStart(to_us - 1, q.width_us, q.tz_offset_us) + q.width_us;
  // Checked before anything is allocated: the range may be absurd (year 1 to 9999).
  const uint64_t points = static_cast<uint64_t>((q.to_us - q.from_us) / q.width_us);
  if (points > max_points) {
    return Status::InvalidArgument(fmt::format(
        "{} points of {} exceed the limit of {}: shorten the range or use a coarser granularity",
        points, q.granularity, max_points));
  }
  auto known = [&](const std::string& d) {
    return std::find(spec.dimensions.begin(), spec.dimensions.end(), d) != spec.dimensions.end();
  };
  std::string dims;
  for (const auto& d : spec.dimensions) dims += (dims.empty() ? "" : ", ") + d;
  if (dims.empty()) dims = "none";
  for (const auto& g : q.group_by) {
    if (!known(g)) {
      return Status::InvalidArgument("metric '" + spec.name + "' cannot be grouped by '" + g +
                                     "' (its dimensions: " + dims + ")");
    }
    if (std::count(q.group_by.begin(), q.group_by.end(), g) > 1) {
      return Status::InvalidArgument("group_by names '" + g + "' twice");
    }
  }
  for (const auto& [d, v] : q.filters) {
    if (!known(d)) {
      return Status::InvalidArgument("metric '" + spec.name + "' cannot be filtered by '" + d +
                                     "' (its dimensions: " + dims + ")");
    }
  }
  return q;
}

Result<MetricResult> RunMetricQuery(duck::Connection& con, const MetricQuery& q) {
  // Days in a zone that is not a whole number of hours from UTC start mid-hour: only
  // minutes line up with them.
  const bool hourly =
      q.width_us == kHourUs || (q.width_us == kDayUs && q.tz_offset_us % kHourUs == 0);
  const char* table = RollupTableName(hourly ? kHourUs : kMinuteUs);
  auto dim_index = [&](const std::string& d) {
    return static_cast<size_t>(std::find(q.spec.dimensions.begin(), q.spec.dimensions.end(), d) -
                               q.spec.dimensions.begin());
  };
  std::string sql =
      std::string("SELECT epoch_us(bucket), g1, g2, g3, cnt, sum, min, max, hll FROM ") + table +
      " WHERE tenant = $1 AND metric = $2 AND bucket >= make_timestamp(" +
      std::to_string(q.from_us) + ") AND bucket < make_timestamp(" + std::to_string(q.to_us) + ")";
  for (size_t i = 0; i < q.filters.size(); ++i) {
    sql += " AND g" + std::to_string(dim_index(q.filters[i].first) + 1) + " = $" +
           std::to_string(i + 3);
  }
  auto stmt = con.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, q.tenant));
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(2, q.spec.name));
  for (size_t i = 0; i < q.filters.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(i + 3, q.filters[i].second));
  }
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();

  std::vector<size_t> group_cols;
  for (const auto& g : q.group_by) group_cols.push_back(dim_index(g));
  std::map<std::vector<std::string>, std::vector<RollupCell>> series;
  const size_t points = q.points();
  while (true) {
    Status st;
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) break;
    auto* buckets = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
    for (idx_t row = 0; row < chunk.size(); ++row) {
      std::vector<std::string> group;
      group.reserve(group_cols.size());
      for (size_t c : group_cols) group.emplace_back(duck::GetString(chunk.column(1 + c), row));
      RollupCell cell;
      SLUICE_RETURN_IF_ERROR(ReadCell(chunk, row, 4, &cell));
      auto& cells = series[std::move(group)];
      if (cells.empty()) cells.resize(points);
      const size_t i = static_cast<size_t>(
          (BucketStart(buckets[row], q.width_us, q.tz_offset_us) - q.from_us) / q.width_us);
      cells[i].Merge(cell);
    }
  }
  MetricResult out;
  out.query = q;
  // Without group_by there is always exactly one series, zero-filled even when empty.
  if (q.group_by.empty() && series.empty()) series[{}].resize(points);
  for (auto& [group, cells] : series) out.series.push_back({group, std::move(cells)});
  return out;
}

std::string MetricResult::ToJson() const {
  const MetricQuery& q = query;
  std::string out = "{\"metric\":";
  AppendJsonString(&out, q.spec.name);
  out += fmt::format(
      ",\"aggregate\":\"{}\",\"granularity\":\"{}\",\"from\":\"{}\",\"to\":\"{}\","
      "\"tz\":\"{}\",\"group_by\":[",
      AggregateName(q.spec.aggregate), q.granularity, FormatUtc(q.from_us), FormatUtc(q.to_us),
      FormatOffset(q.tz_offset_us));
  for (size_t i = 0; i < q.group_by.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(&out, q.group_by[i]);
  }
  out += std::string("],\"complete\":") + (complete ? "true" : "false") + ",\"series\":[";
  for (size_t s = 0; s < series.size(); ++s) {
    if (s > 0) out += ',';
    out += "{\"group\":{";
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(&out, q.group_by[i]);
      out += ':';
      AppendJsonString(&out, series[s].group[i]);
    }
    out += "},\"points\":[";
    for (size_t p = 0; p < series[s].cells.size(); ++p) {
      if (p > 0) out += ',';
      out += "{\"t\":\"" + FormatUtc(q.from_us + static_cast<int64_t>(p) * q.width_us) +
             "\",\"value\":";
      auto v = PointValue(q.spec.aggregate, series[s].cells[p]);
      out += v ? FormatNumber(*v) : "null";
      out += '}';
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

SqlResult MetricResult::ToTable() const {
  SqlResult r;
  r.columns.push_back({"t", "TIMESTAMP"});
  for (const auto& g : query.group_by) r.columns.push_back({g, "VARCHAR"});
  r.columns.push_back({AggregateName(query.spec.aggregate), "DOUBLE"});
  for (const auto& s : series) {
    for (size_t p = 0; p < s.cells.size(); ++p) {
      std::vector<Cell> row;
      row.push_back({Cell::Kind::kString,
                     FormatUtc(query.from_us + static_cast<int64_t>(p) * query.width_us)});
      for (const auto& g : s.group) row.push_back({Cell::Kind::kString, g});
      auto v = PointValue(query.spec.aggregate, s.cells[p]);
      row.push_back(v ? Cell{Cell::Kind::kJson, FormatNumber(*v)} : Cell{});
      r.rows.push_back(std::move(row));
    }
  }
  return r;
}

}  // namespace sluice
