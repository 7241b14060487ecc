// ParseMetricTables (metric_config.h).
#include "common/metric_config.h"

#include <fmt/format.h>

namespace sluice {

namespace {

Status ReadStrings(const toml::table& t, const char* key, const std::string& where,
                   std::vector<std::string>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::OK();
  if (auto s = n->value<std::string>()) {
    out->push_back(*s);
    return Status::OK();
  }
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    return Status::InvalidArgument(fmt::format("{} {} must be an array of strings", where, key));
  }
  for (const auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s)
      return Status::InvalidArgument(fmt::format("{} {} must be an array of strings", where, key));
    out->push_back(*s);
  }
  return Status::OK();
}

}  // namespace

Status ParseMetricTables(const toml::node& metrics, const std::string& file,
                         std::vector<MetricSpec>* out) {
  const toml::array* a = metrics.as_array();
  if (a == nullptr) {
    return Status::InvalidArgument(file + ": metrics must be an array of tables ([[metrics]])");
  }
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string where = fmt::format("{}: [[metrics]] #{}", file, i + 1);
    const toml::table* t = (*a)[i].as_table();
    if (t == nullptr) return Status::InvalidArgument(where + " must be a table");
    MetricSpec spec;
    for (const auto& [key, value] : *t) {
      const std::string_view k = key.str();
      if (k != "name" && k != "aggregate" && k != "property" && k != "event_types" &&
          k != "dimensions") {
        return Status::InvalidArgument(fmt::format("{}: unknown key {}", where, k));
      }
    }
    auto name = t->get_as<std::string>("name");
    auto agg = t->get_as<std::string>("aggregate");
    if (name == nullptr || agg == nullptr) {
      return Status::InvalidArgument(where + " needs name and aggregate (strings)");
    }
    spec.name = name->get();
    auto parsed = ParseAggregate(agg->get());
    if (!parsed.ok()) return Status::InvalidArgument(where + ": " + parsed.status().message());
    spec.aggregate = *parsed;
    if (const toml::node* p = t->get("property")) {
      auto s = p->value<std::string>();
      if (!s) return Status::InvalidArgument(where + " property must be a string");
      spec.property = *s;
    }
    SLUICE_RETURN_IF_ERROR(ReadStrings(*t, "event_types", where, &spec.event_types));
    SLUICE_RETURN_IF_ERROR(ReadStrings(*t, "dimensions", where, &spec.dimensions));
    Status s = ValidateMetricSpec(spec);
    if (!s.ok()) return Status::InvalidArgument(where + ": " + s.message());
    for (const auto& m : *out) {
      if (m.name == spec.name) {
        return Status::InvalidArgument(where + ": metric '" + spec.name + "' is defined twice");
      }
    }
    for (const auto& m : BuiltinMetrics()) {
      if (m.name == spec.name) {
        return Status::InvalidArgument(where + ": '" + spec.name + "' is a built-in metric");
      }
    }
    out->push_back(std::move(spec));
  }
  return Status::OK();
}

}  // namespace sluice
