#include "store/type_ranges.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "store/event_store.h"

namespace sluice {
namespace {

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

// Upserts keys[begin, end), each widened by what type_ranges already holds for it.
// Everything is bound, nothing spliced: a type may hold any character, NUL included.
Status Upsert(duck::Connection& con, const std::vector<std::pair<TypeKey, TypeRange>>& keys,
              size_t begin, size_t end) {
  std::string sql =
      "INSERT OR REPLACE INTO type_ranges SELECT b.tenant, b.type,"
      " least(b.lo, coalesce(t.min_ts, b.lo)), greatest(b.hi, coalesce(t.max_ts, b.hi))"
      " FROM (VALUES ";
  for (size_t i = 0; i < end - begin; ++i) {
    if (i > 0) sql += ", ";
    sql += "($" + std::to_string(4 * i + 1) + "::VARCHAR, $" + std::to_string(4 * i + 2) +
           "::VARCHAR, $" + std::to_string(4 * i + 3) + "::TIMESTAMP, $" +
           std::to_string(4 * i + 4) + "::TIMESTAMP)";
  }
  sql +=
      ") AS b(tenant, type, lo, hi) LEFT JOIN type_ranges t"
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

}  // namespace

Status WidenTypeRanges(duck::Connection& con, const std::vector<StoreRow>& rows) {
  if (rows.empty()) return Status::OK();
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
  return Status::OK();
}

Result<std::optional<TypeRange>> TypeRangeOn(duck::Connection& con, const std::string& tenant,
                                             const std::string& type) {
  auto stmt = con.Prepare(
      "SELECT epoch_us(min_ts), epoch_us(max_ts) FROM type_ranges WHERE tenant = $1 AND type = "
      "$2");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, tenant));
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(2, type));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  Status st;
  duck::DataChunk chunk = r->FetchChunk(&st);
  if (!st.ok()) return st;
  if (!chunk || chunk.size() == 0) return std::optional<TypeRange>();
  const auto* lo = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
  const auto* hi = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(1)));
  return std::optional<TypeRange>(TypeRange{lo[0], hi[0]});
}

Status FillTypeRanges(duck::Connection& con, const std::string& view_sql) {
  return con.Exec("INSERT INTO type_ranges SELECT tenant, type, min(ts), max(ts) FROM (" +
                  view_sql + ") GROUP BY tenant, type");
}

}  // namespace sluice
