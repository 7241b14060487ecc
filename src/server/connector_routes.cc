// /v1/admin/connectors routes (connector_routes.h).
#include "server/connector_routes.h"

#include <simdjson.h>

#include "query/query_string.h"
#include "sources/entity_state.h"

namespace sluice {

HttpResponse HandleConnectorAdmin(ConnectorRunner* runner, const HttpRequest& req,
                                  const std::string& tenant) {
  const unsigned v = req.version();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view kPrefix = "/v1/admin/connectors";
  std::string_view rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (rest.empty()) {
    if (req.method() != http::verb::get) {
      return JsonError(http::status::method_not_allowed, "use GET", v);
    }
    return JsonResponse(http::status::ok,
                        runner ? runner->StatusJson(tenant) : "{\"connectors\":[]}", v);
  }
  std::string name(rest.substr(0, rest.find('/')));
  std::string_view sub = rest.size() > name.size() ? rest.substr(name.size() + 1) : "";
  PullConnector* c = runner ? runner->Find(tenant, name) : nullptr;
  if (c == nullptr) return JsonError(http::status::not_found, "no connector " + name, v);
  if (sub.empty()) {
    if (req.method() != http::verb::get) {
      return JsonError(http::status::method_not_allowed, "use GET", v);
    }
    return JsonResponse(http::status::ok, ConnectorStatusJson(c), v);
  }
  if (sub == "entities") {
    if (c->config().kind != ConnectorKind::kSnapshot) {
      return JsonError(http::status::bad_request, name + " is not a snapshot connector", v);
    }
    auto params = ParseQueryString(target);
    std::string state = "current";
    if (params.ok()) {
      for (const auto& [k, val] : *params) {
        if (k == "state") state = val;
      }
    }
    if (state != "current" && state != "all") {
      return JsonError(http::status::bad_request, "state must be current or all", v);
    }
    EntityTable table;
    Status s = DecodeEntityTable(c->checkpoint(), &table);
    if (!s.ok()) return JsonError(http::status::internal_server_error, s.message(), v);
    return JsonResponse(http::status::ok,
                        "{\"connector\":\"" + JsonEscape(name) + "\",\"state\":\"" + state +
                            "\",\"entities\":" + EntitiesJson(table, state == "current") + "}",
                        v);
  }
  if (sub == "checkpoint") {
    if (req.method() != http::verb::post) {
      return JsonError(http::status::method_not_allowed, "use POST", v);
    }
    simdjson::dom::parser parser;
    std::string_view value;
    if (parser.parse(req.body())["checkpoint"].get_string().get(value)) {
      return JsonError(http::status::bad_request, "body must be {\"checkpoint\":\"...\"}", v);
    }
    if (Status s = c->RequestCheckpoint(std::string(value)); !s.ok()) {
      return JsonError(http::status::bad_request, s.message(), v);
    }
    return JsonResponse(http::status::accepted,
                        "{\"connector\":\"" + JsonEscape(name) + "\",\"checkpoint\":\"" +
                            JsonEscape(value) + "\",\"status\":\"requested\"}",
                        v);
  }
  return JsonError(http::status::not_found, "no route for " + std::string(path), v);
}

}  // namespace sluice
