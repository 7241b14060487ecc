// The metrics routes of the server (SPEC §3.2): GET /v1/metrics/{name} answers from the
// rollups (rollup/metric_reader.h) and /v1/admin/metrics lists, defines and drops metric
// definitions (rollup/rollup_consumer.h). Kept apart from server.cc so that file only
// dispatches here. Work that touches DuckDB or waits for the rollup thread runs on
// query_pool_, never on an io thread.
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "query/query_string.h"
#include "query/sql_result.h"
#include "rollup/metric_definition.h"
#include "server/server.h"

namespace sluice {

void Server::HandleMetricQuery(HttpRequest req, Reply reply, const std::string& tenant) {
  const unsigned v = req.version();
  const std::string route = "/v1/metrics";
  auto answer = [this, reply, route](HttpResponse res) {
    metrics_.CountRequest(route, res.result_int());
    reply(std::move(res));
  };
  if (req.method() != http::verb::get) {
    return answer(JsonError(http::status::method_not_allowed, "use GET /v1/metrics/{name}", v));
  }
  if (metric_reader_ == nullptr) {
    return answer(JsonError(http::status::conflict,
                            "metrics are disabled ([store] enabled or [rollup] enabled)", v));
  }
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  auto name = PercentDecode(path.substr(std::string_view("/v1/metrics/").size()));
  auto params = ParseQueryString(target);
  if (!name.ok() || !params.ok()) {
    return answer(JsonError(http::status::bad_request,
                            (name.ok() ? params.status() : name.status()).message(), v));
  }
  if (name->empty()) return answer(JsonError(http::status::bad_request, "name a metric", v));
  // format= picks the body (json, csv, table); everything else belongs to the query.
  std::string format_name = "json";
  QueryParams query;
  for (auto& [k, val] : *params) {
    if (k == "format") {
      format_name = val;
    } else {
      query.emplace_back(std::move(k), std::move(val));
    }
  }
  auto format = ParseSqlFormat(format_name);
  if (!format.ok())
    return answer(JsonError(http::status::bad_request, format.status().message(), v));
  const bool queued = query_pool_->TrySubmit([this, answer, v, tenant, name = std::move(*name),
                                              query = std::move(query), format = *format] {
    auto result = metric_reader_->Query(tenant, name, query);
    if (!result.ok()) {
      const Status& st = result.status();
      if (st.code() != Status::Code::kInvalidArgument) {
        spdlog::error("metric query failed: {}", st.ToString());
        return answer(JsonError(http::status::internal_server_error, "the metric query failed", v));
      }
      return answer(JsonError(http::status::bad_request, st.message(), v));
    }
    HttpResponse res{http::status::ok, v};
    if (format == SqlFormat::kJson) {
      res.set(http::field::content_type, "application/json");
      res.body() = result->result->ToJson();
    } else {
      res.set(http::field::content_type,
              format == SqlFormat::kCsv ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8");
      res.body() = FormatSqlResult(result->result->ToTable(), format);
    }
    res.set("X-Sluice-Cache", result->from_cache ? "hit" : "miss");
    res.prepare_payload();
    answer(std::move(res));
  });
  if (!queued) {
    HttpResponse res = JsonError(http::status::service_unavailable,
                                 "too many queries are waiting; retry shortly", v);
    res.set(http::field::retry_after, "1");
    answer(std::move(res));
  }
}

void Server::HandleMetricAdmin(HttpRequest req, Reply reply, const std::string& tenant) {
  const unsigned v = req.version();
  const std::string route = "/v1/admin/metrics";
  auto answer = [this, reply, route](HttpResponse res) {
    metrics_.CountRequest(route, res.result_int());
    reply(std::move(res));
  };
  RollupConsumer* rollups = engine_->rollups();
  if (rollups == nullptr) {
    return answer(JsonError(http::status::conflict,
                            "metrics are disabled ([store] enabled or [rollup] enabled)", v));
  }
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  std::string name;
  if (path.size() > std::string_view("/v1/admin/metrics/").size()) {
    auto n = PercentDecode(path.substr(std::string_view("/v1/admin/metrics/").size()));
    if (!n.ok()) return answer(JsonError(http::status::bad_request, n.status().message(), v));
    name = std::move(*n);
  }
  const http::verb method = req.method();
  if (method == http::verb::get) {
    std::string body = name.empty() ? "{\"metrics\":[" : "";
    bool first = true, found = false;
    for (const auto& d : rollups->Definitions(tenant)) {
      if (!name.empty()) {
        if (d.metric.spec.name != name) continue;
        body = MetricDefinitionToJson(d);
        found = true;
        break;
      }
      if (!first) body += ',';
      first = false;
      body += MetricDefinitionToJson(d);
    }
    if (!name.empty() && !found) {
      return answer(JsonError(http::status::not_found, "no metric named '" + name + "'", v));
    }
    if (name.empty()) body += "]}";
    return answer(JsonResponse(http::status::ok, std::move(body), v));
  }
  if (method == http::verb::post && name.empty()) {
    auto spec = MetricSpecFromJson(req.body());
    if (!spec.ok()) return answer(JsonError(http::status::bad_request, spec.status().message(), v));
    const bool queued = query_pool_->TrySubmit([answer, rollups, tenant, spec = *spec, v] {
      auto d = rollups->Define(tenant, spec);
      if (!d.ok()) return answer(JsonError(HttpStatusFor(d.status()), d.status().message(), v));
      answer(JsonResponse(http::status::created, MetricDefinitionToJson(*d), v));
    });
    if (!queued) answer(JsonError(http::status::service_unavailable, "busy; retry shortly", v));
    return;
  }
  if (method == http::verb::delete_ && !name.empty()) {
    const bool queued = query_pool_->TrySubmit([answer, rollups, tenant, name, v] {
      Status s = rollups->Drop(tenant, name);
      if (!s.ok()) return answer(JsonError(HttpStatusFor(s), s.message(), v));
      answer(JsonResponse(http::status::ok, "{\"dropped\":true}", v));
    });
    if (!queued) answer(JsonError(http::status::service_unavailable, "busy; retry shortly", v));
    return;
  }
  answer(JsonError(http::status::method_not_allowed,
                   "use GET or POST /v1/admin/metrics, GET or DELETE /v1/admin/metrics/{name}", v));
}

void Server::RenderRollupMetrics(std::string* out) {
  RollupConsumer* rollups = engine_ ? engine_->rollups() : nullptr;
  if (rollups == nullptr) return;
  RenderMetric(out, "sluice_rollup_events_total", "counter", "Events folded into rollups.",
               static_cast<double>(rollups->events_applied()));
  RenderMetric(out, "sluice_rollup_lag_bytes", "gauge", "Log bytes not yet in the rollups.",
               static_cast<double>(log_->durable_offset() -
                                   std::min(log_->durable_offset(), rollups->applied_offset())));
  if (metric_reader_) {
    RenderMetric(out, "sluice_metric_cache_hits_total", "counter",
                 "Metric queries answered from the cache of closed windows.",
                 static_cast<double>(metric_reader_->cache().hits()));
    RenderMetric(out, "sluice_metric_cache_misses_total", "counter",
                 "Metric queries over closed windows that had to read the rollups.",
                 static_cast<double>(metric_reader_->cache().misses()));
  }
}

}  // namespace sluice
