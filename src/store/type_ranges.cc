#include "store/type_ranges.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "store/event_store.h"
#include "store/events_view.h"

namespace sluice {
namespace {

constexpr const char* kDdl =
    "CREATE TABLE IF NOT EXISTS sluice_type_ranges (tenant VARCHAR NOT NULL,"
    " type VARCHAR NOT NULL, min_ts TIMESTAMP NOT NULL, max_ts TIMESTAMP NOT NULL,"
    " PRIMARY KEY (tenant, type));"
    "CREATE TABLE IF NOT EXISTS sluice_type_ranges_through (consumer VARCHAR PRIMARY KEY,"
    " log_offset UBIGINT NOT NULL, rows_applied UBIGINT NOT NULL);";

struct TypeKey {
  std::string_view tenant;
  std::string_view type;
  bool operator==(const TypeKey&) const = default;
};

struct TypeKeyHash {
  size_t operator()(const TypeKey& k) const {
    const size_t h = std::hash<std::string_view>()(k.tenant);
    return h ^
           (std::hash<std::string_view>()(k.type) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

// One statement upserts this many keys: a batch usually holds a handful of types, and a
// bound keeps a batch of many distinct ones from building one enormous statement.
constexpr size_t kRowsPerStatement = 256;

// Upserts keys[begin, end), each widened by what the table already holds for it.
// Everything is bound, nothing spliced: a type may hold any character, NUL included.
Status Upsert(duck::Connection& con, const std::vector<std::pair<TypeKey, TypeRange>>& keys,
              size_t begin, size_t end) {
  std::string sql =
      "INSERT OR REPLACE INTO sluice_type_ranges SELECT b.tenant, b.type,"
      " least(b.lo, coalesce(t.min_ts, b.lo)), greatest(b.hi, coalesce(t.max_ts, b.hi))"
      " FROM (VALUES ";
  for (size_t i = 0; i < end - begin; ++i) {
    if (i > 0) sql += ", ";
    sql += "($" + std::to_string(4 * i + 1) + "::VARCHAR, $" + std::to_string(4 * i + 2) +
           "::VARCHAR, $" + std::to_string(4 * i + 3) + "::TIMESTAMP, $" +
           std::to_string(4 * i + 4) + "::TIMESTAMP)";
  }
  sql +=
      ") AS b(tenant, type, lo, hi) LEFT JOIN sluice_type_ranges t"
      " ON t.tenant = b.tenant AND t.type = b.type";
  auto stmt = con.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  for (size_t i = 0; i < end - begin; ++i) {
    const auto& [key, range] = keys[begin + i];
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(4 * i + 1, key.tenant));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(4 * i + 2, key.type));
    SLUICE_RETURN_IF_ERROR(stmt->BindTimestampMicros(4 * i + 3, range.min_us));
    SLUICE_RETURN_IF_ERROR(stmt->BindTimestampMicros(4 * i + 4, range.max_us));
  }
  auto r = stmt->Execute();
  return r.ok() ? Status::OK() : r.status();
}

Result<uint64_t> CountOf(duck::Connection& con, const std::string& sql) {
  auto r = con.Query(sql);
  if (!r.ok()) return r.status();
  auto v = r->FirstUInt64();
  if (!v.ok()) return v.status();
  return v->value_or(0);
}

// Ranges no other binary has appended past: every recorded position is the consumer's
// committed one (a consumer with no committed row is at 0).
Result<bool> Current(duck::Connection& con) {
  auto recorded = CountOf(con, "SELECT count(*)::UBIGINT FROM sluice_type_ranges_through");
  if (!recorded.ok()) return recorded.status();
  if (*recorded == 0) return false;  // never built
  auto moved = CountOf(
      con,
      "SELECT count(*)::UBIGINT FROM sluice_type_ranges_through t LEFT JOIN consumer_offsets o"
      " ON o.name = t.consumer WHERE coalesce(o.log_offset, 0) <> t.log_offset"
      " OR coalesce(o.rows_applied, 0) <> t.rows_applied");
  if (!moved.ok()) return moved.status();
  return *moved == 0;
}

// Runs `fill` in one transaction that first empties both tables and last records the store
// consumer's position; on any error none of it is visible.
Status Rebuild(duck::Connection& con, const std::function<Status()>& fill) {
  SLUICE_RETURN_IF_ERROR(con.Exec("BEGIN TRANSACTION"));
  Status s = con.Exec("DELETE FROM sluice_type_ranges; DELETE FROM sluice_type_ranges_through");
  if (s.ok()) s = fill();
  if (s.ok()) {
    s = con.Exec(
        "INSERT INTO sluice_type_ranges_through SELECT 'store', coalesce(max(log_offset), 0),"
        " coalesce(max(rows_applied), 0) FROM consumer_offsets WHERE name = 'store'");
  }
  if (s.ok()) s = con.Exec("COMMIT");
  if (!s.ok()) (void)con.Exec("ROLLBACK");
  return s;
}

Status FillFrom(duck::Connection& con, const std::string& view_sql) {
  return con.Exec("INSERT INTO sluice_type_ranges SELECT tenant, type, min(ts), max(ts) FROM (" +
                  view_sql + ") GROUP BY tenant, type");
}

}  // namespace

Status WidenTypeRanges(duck::Connection& con, const std::vector<StoreRow>& rows,
                       const std::string& consumer, uint64_t log_offset, uint64_t rows_applied) {
  std::unordered_map<TypeKey, TypeRange, TypeKeyHash> batch;
  // Runs of one type are common (a connector's page, a client's batch): they skip the hash.
  TypeKey last_key;
  TypeRange* last = nullptr;
  for (const StoreRow& r : rows) {
    const TypeKey key{r.event.tenant, r.event.type};
    const int64_t ts = r.event.ts_us;
    if (last == nullptr || !(key == last_key)) {
      auto [it, fresh] = batch.try_emplace(key, TypeRange{ts, ts});
      last_key = key;
      last = &it->second;
      if (fresh) continue;
    }
    last->min_us = std::min(last->min_us, ts);
    last->max_us = std::max(last->max_us, ts);
  }
  const std::vector<std::pair<TypeKey, TypeRange>> keys(batch.begin(), batch.end());
  for (size_t begin = 0; begin < keys.size(); begin += kRowsPerStatement) {
    SLUICE_RETURN_IF_ERROR(
        Upsert(con, keys, begin, std::min(keys.size(), begin + kRowsPerStatement)));
  }
  auto stmt = con.Prepare("INSERT OR REPLACE INTO sluice_type_ranges_through VALUES ($1, $2, $3)");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, consumer));
  SLUICE_RETURN_IF_ERROR(stmt->BindUInt64(2, log_offset));
  SLUICE_RETURN_IF_ERROR(stmt->BindUInt64(3, rows_applied));
  auto r = stmt->Execute();
  return r.ok() ? Status::OK() : r.status();
}

// A tenant's "unknown" mark is a range row of the empty type, which ingest refuses, so no
// event has it (a row of it from elsewhere would only make the tenant unknown: safe).
Result<TypeRangeLookup> TypeRangeOn(duck::Connection& con, const std::string& tenant,
                                    const std::string& type) {
  auto stmt = con.Prepare(
      "SELECT (type = '')::UBIGINT, epoch_us(min_ts), epoch_us(max_ts) FROM sluice_type_ranges"
      " WHERE tenant = $1 AND (type = $2 OR type = '')");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, tenant));
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(2, type));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  TypeRangeLookup out;
  Status st;
  while (duck::DataChunk chunk = r->FetchChunk(&st)) {
    if (chunk.size() == 0) break;
    const auto* unknown = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(0)));
    const auto* lo = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(1)));
    const auto* hi = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(2)));
    for (idx_t i = 0; i < chunk.size(); ++i) {
      if (unknown[i] != 0) {
        out.known = false;
      } else {
        out.range = TypeRange{lo[i], hi[i]};
      }
    }
  }
  if (!st.ok()) return st;
  if (!out.known) out.range.reset();
  return out;
}

Status RefreshTypeRangesIfStale(duck::Connection& con, const std::string& archive_root,
                                bool* rebuilt) {
  *rebuilt = false;
  SLUICE_RETURN_IF_ERROR(con.Exec(kDdl));
  auto current = Current(con);
  if (!current.ok()) return current.status();
  if (*current) return Status::OK();
  *rebuilt = true;
  spdlog::info(
      "type ranges: building them from every stored event (first start, or rows were "
      "written by another sluice binary)");
  // One pass over every tier.
  Status s = Rebuild(con, [&]() -> Status {
    auto view = EventsViewSql(con, archive_root, "", {}, /*every_archived_file=*/true);
    return view.ok() ? FillFrom(con, *view) : view.status();
  });
  if (s.ok()) return s;
  // Some tenant's archive cannot be read (a recorded file is missing or damaged): tenant by
  // tenant, marking the ones that fail as unknown, each failure costing one more pass.
  spdlog::warn(
      "type ranges: not every archived event could be read ({}); building them "
      "tenant by tenant",
      s.ToString());
  std::vector<std::string> tenants;
  {
    auto r = con.Query(
        "SELECT DISTINCT tenant FROM (SELECT tenant FROM events_hot UNION ALL SELECT tenant FROM "
        "archive_files) ORDER BY tenant");
    if (!r.ok()) return r.status();
    Status st;
    while (duck::DataChunk chunk = r->FetchChunk(&st)) {
      if (chunk.size() == 0) break;
      for (idx_t i = 0; i < chunk.size(); ++i) {
        tenants.emplace_back(duck::GetString(chunk.column(0), i));
      }
    }
    if (!st.ok()) return st;
  }
  std::set<std::string> unknown;
  for (size_t pass = 0; pass <= tenants.size(); ++pass) {
    std::string failed;
    s = Rebuild(con, [&]() -> Status {
      for (const std::string& t : tenants) {
        if (unknown.count(t) > 0) {
          auto mark = con.Prepare(
              "INSERT INTO sluice_type_ranges VALUES ($1, '', make_timestamp(0::BIGINT), "
              "make_timestamp(0::BIGINT))");
          if (!mark.ok()) return mark.status();
          SLUICE_RETURN_IF_ERROR(mark->BindVarchar(1, t));
          auto r = mark->Execute();
          if (!r.ok()) return r.status();
          continue;
        }
        auto view = EventsViewSql(con, archive_root, t, {}, /*every_archived_file=*/true);
        Status one = view.ok() ? FillFrom(con, *view) : view.status();
        if (!one.ok()) {
          failed = t;
          return one;
        }
      }
      return Status::OK();
    });
    if (s.ok()) return s;
    if (failed.empty()) return s;  // not a tenant's archive: give up, the store cannot open
    spdlog::error(
        "type ranges: tenant '{}' keeps none ({}); its type searches read its whole "
        "history",
        failed, s.ToString());
    unknown.insert(failed);
  }
  return s;
}

}  // namespace sluice
