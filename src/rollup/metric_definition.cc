// MetricDefinition (metric_definition.h): JSON form and the rollup_metrics rows.
#include "rollup/metric_definition.h"

#include <simdjson.h>

#include "query/column_reader.h"
#include "rollup/metric_query.h"
#include "store/events_view.h"

namespace sluice {

namespace {

void AppendStringArray(std::string* out, const std::vector<std::string>& v) {
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, v[i]);
  }
  out->push_back(']');
}

Status ReadStringArray(simdjson::dom::element doc, const char* key, std::vector<std::string>* out) {
  auto field = doc[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return Status::OK();
  simdjson::dom::array arr;
  std::string_view one;
  if (field.get(one) == simdjson::SUCCESS) {  // a single string is a list of one
    out->emplace_back(one);
    return Status::OK();
  }
  if (field.get(arr) != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("\"") + key + "\" must be an array of strings");
  }
  for (auto e : arr) {
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS) {
      return Status::InvalidArgument(std::string("\"") + key + "\" must be an array of strings");
    }
    out->emplace_back(s);
  }
  return Status::OK();
}

std::string Micros(int64_t us) {
  return us == INT64_MIN ? "NULL" : "make_timestamp(" + std::to_string(us) + ")";
}

}  // namespace

std::string MetricSpecToJson(const MetricSpec& spec) {
  std::string out = "{\"name\":";
  AppendJsonString(&out, spec.name);
  out += ",\"aggregate\":\"";
  out += AggregateName(spec.aggregate);
  out += "\",\"event_types\":";
  AppendStringArray(&out, spec.event_types);
  out += ",\"property\":";
  AppendJsonString(&out, spec.property);
  out += ",\"dimensions\":";
  AppendStringArray(&out, spec.dimensions);
  out += "}";
  return out;
}

Result<MetricSpec> MetricSpecFromJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Status::InvalidArgument("a metric definition must be a JSON object");
  }
  MetricSpec spec;
  std::string_view s;
  if (doc["name"].get(s) != simdjson::SUCCESS) {
    return Status::InvalidArgument("\"name\" (a string) is required");
  }
  spec.name = std::string(s);
  if (doc["aggregate"].get(s) != simdjson::SUCCESS) {
    return Status::InvalidArgument("\"aggregate\" (count|sum|avg|min|max|unique) is required");
  }
  auto agg = ParseAggregate(s);
  if (!agg.ok()) return agg.status();
  spec.aggregate = *agg;
  if (auto p = doc["property"]; p.error() != simdjson::NO_SUCH_FIELD) {
    if (p.get(s) != simdjson::SUCCESS)
      return Status::InvalidArgument("\"property\" must be a string");
    spec.property = std::string(s);
  }
  SLUICE_RETURN_IF_ERROR(ReadStringArray(doc, "event_types", &spec.event_types));
  SLUICE_RETURN_IF_ERROR(ReadStringArray(doc, "event_type", &spec.event_types));
  SLUICE_RETURN_IF_ERROR(ReadStringArray(doc, "dimensions", &spec.dimensions));
  for (auto [key, value] : simdjson::dom::object(doc)) {
    if (key != "name" && key != "aggregate" && key != "property" && key != "event_types" &&
        key != "event_type" && key != "dimensions") {
      return Status::InvalidArgument("unknown field \"" + std::string(key) + "\"");
    }
  }
  SLUICE_RETURN_IF_ERROR(ValidateMetricSpec(spec));
  return spec;
}

std::string MetricDefinitionToJson(const MetricDefinition& d) {
  std::string out = MetricSpecToJson(d.metric.spec);
  out.pop_back();
  out += ",\"scope\":";
  AppendJsonString(&out, d.metric.tenant.empty() ? "all tenants" : "tenant");
  out += ",\"backfill\":{\"done\":";
  out += d.backfill_done ? "true" : "false";
  out += ",\"events\":" + std::to_string(d.backfill_events);
  if (!d.backfill_done && d.backfill_end_us != INT64_MIN && d.backfill_cursor_us != INT64_MIN) {
    // Event time covered so far, of the stored history the backfill found at its start.
    out += ",\"covered_until\":\"" + FormatUtc(d.backfill_cursor_us) + "\"";
    out += ",\"history_until\":\"" + FormatUtc(d.backfill_end_us) + "\"";
  }
  out += "}}";
  return out;
}

Result<std::vector<MetricDefinition>> LoadMetricDefinitions(duck::Connection& con) {
  auto r = con.Query(
      "SELECT tenant, spec, start_offset, backfill_done, coalesce(epoch_us(backfill_cursor), "
      "-9223372036854775808), coalesce(epoch_us(backfill_end), -9223372036854775808), "
      "backfill_events FROM rollups.rollup_metrics ORDER BY tenant, name");
  if (!r.ok()) return r.status();
  std::vector<MetricDefinition> out;
  while (true) {
    Status st;
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) break;
    for (idx_t row = 0; row < chunk.size(); ++row) {
      MetricDefinition d;
      std::string tenant(duck::GetString(chunk.column(0), row));
      d.metric.tenant = tenant == kAllTenants ? "" : tenant;
      auto spec = MetricSpecFromJson(duck::GetString(chunk.column(1), row));
      if (!spec.ok()) {
        return Status::Corruption("rollup_metrics: stored definition: " + spec.status().message());
      }
      d.metric.spec = std::move(*spec);
      d.start_offset = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(2)))[row];
      d.backfill_done = static_cast<const bool*>(duckdb_vector_get_data(chunk.column(3)))[row];
      d.backfill_cursor_us =
          static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(4)))[row];
      d.backfill_end_us = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(5)))[row];
      d.backfill_events =
          static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(6)))[row];
      out.push_back(std::move(d));
    }
  }
  return out;
}

Status SaveMetricDefinition(duck::Connection& con, const MetricDefinition& d) {
  const std::string tenant = d.metric.tenant.empty() ? kAllTenants : d.metric.tenant;
  return con.Exec("INSERT OR REPLACE INTO rollups.rollup_metrics VALUES (" + SqlQuote(tenant) +
                  ", " + SqlQuote(d.metric.spec.name) + ", " +
                  SqlQuote(MetricSpecToJson(d.metric.spec)) + ", " +
                  std::to_string(d.start_offset) + ", " + (d.backfill_done ? "true" : "false") +
                  ", " + Micros(d.backfill_cursor_us) + ", " + Micros(d.backfill_end_us) + ", " +
                  std::to_string(d.backfill_events) + ")");
}

Status DropMetric(duck::Connection& con, const MetricDefinition& d) {
  const std::string tenant = d.metric.tenant.empty() ? kAllTenants : d.metric.tenant;
  const std::string name = SqlQuote(d.metric.spec.name);
  // A metric of every tenant has rows under each tenant; a tenant's metric only its own.
  const std::string rows = " WHERE metric = " + name +
                           (d.metric.tenant.empty() ? "" : " AND tenant = " + SqlQuote(tenant));
  SLUICE_RETURN_IF_ERROR(
      con.Exec("DELETE FROM rollups.rollup_1m" + rows + "; DELETE FROM rollups.rollup_1h" + rows));
  return con.Exec("DELETE FROM rollups.rollup_metrics WHERE tenant = " + SqlQuote(tenant) +
                  " AND name = " + name);
}

}  // namespace sluice
