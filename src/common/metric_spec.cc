// MetricSpec validation and the built-in metrics (metric_spec.h).
#include "common/metric_spec.h"

#include <set>

namespace sluice {

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

Status CheckField(const std::string& metric, const char* what, const std::string& field) {
  if (field.empty() || field.size() > 128 || field.front() == '.' || field.back() == '.' ||
      field.find("..") != std::string::npos) {
    return Status::InvalidArgument("metric '" + metric + "': " + what + " '" + field +
                                   "' must be a field or property path of 1-128 characters");
  }
  for (char c : field) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument("metric '" + metric + "': " + what + " '" + field +
                                     "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::OK();
}

}  // namespace

const char* AggregateName(MetricAggregate a) {
  switch (a) {
    case MetricAggregate::kCount:
      return "count";
    case MetricAggregate::kSum:
      return "sum";
    case MetricAggregate::kAvg:
      return "avg";
    case MetricAggregate::kMin:
      return "min";
    case MetricAggregate::kMax:
      return "max";
    case MetricAggregate::kUnique:
      return "unique";
  }
  return "?";
}

Result<MetricAggregate> ParseAggregate(std::string_view name) {
  for (auto a : {MetricAggregate::kCount, MetricAggregate::kSum, MetricAggregate::kAvg,
                 MetricAggregate::kMin, MetricAggregate::kMax, MetricAggregate::kUnique}) {
    if (name == AggregateName(a)) return a;
  }
  return Status::InvalidArgument("aggregate must be count, sum, avg, min, max or unique, got '" +
                                 std::string(name) + "'");
}

Status ValidateMetricSpec(const MetricSpec& spec) {
  if (spec.name.empty() || spec.name.size() > 64 || spec.name.find('.') != std::string::npos) {
    return Status::InvalidArgument("metric name '" + spec.name +
                                   "' must be 1-64 letters, digits, '_' or '-'");
  }
  for (char c : spec.name) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument("metric name '" + spec.name +
                                     "' must be 1-64 letters, digits, '_' or '-'");
    }
  }
  const bool numeric =
      spec.aggregate == MetricAggregate::kSum || spec.aggregate == MetricAggregate::kAvg ||
      spec.aggregate == MetricAggregate::kMin || spec.aggregate == MetricAggregate::kMax;
  if (numeric && spec.property.empty()) {
    return Status::InvalidArgument("metric '" + spec.name + "': aggregate " +
                                   AggregateName(spec.aggregate) + " needs a numeric property");
  }
  if (spec.aggregate == MetricAggregate::kCount && !spec.property.empty()) {
    return Status::InvalidArgument("metric '" + spec.name + "': aggregate count takes no property");
  }
  if (!spec.property.empty())
    SLUICE_RETURN_IF_ERROR(CheckField(spec.name, "property", spec.property));
  if (spec.dimensions.size() > kMaxDimensions) {
    return Status::InvalidArgument("metric '" + spec.name + "': at most 3 dimensions, got " +
                                   std::to_string(spec.dimensions.size()));
  }
  std::set<std::string> seen;
  for (const auto& d : spec.dimensions) {
    SLUICE_RETURN_IF_ERROR(CheckField(spec.name, "dimension", d));
    if (!seen.insert(d).second) {
      return Status::InvalidArgument("metric '" + spec.name + "': dimension '" + d +
                                     "' is listed twice");
    }
  }
  for (const auto& t : spec.event_types) {
    if (t.empty() || t.size() > 256) {
      return Status::InvalidArgument("metric '" + spec.name + "': event types must be 1-256 bytes");
    }
  }
  return Status::OK();
}

std::vector<MetricSpec> BuiltinMetrics() {
  MetricSpec events;
  events.name = "events";
  events.aggregate = MetricAggregate::kCount;
  events.dimensions = {"type"};
  MetricSpec users;
  users.name = "unique_users";
  users.aggregate = MetricAggregate::kUnique;
  return {events, users};
}

}  // namespace sluice
