// MetricSpec: what one metric of SPEC §6 counts — a plain value shared by the config file
// ([[metrics]]), the admin API and the rollup module, so all three validate the same way.
//
// A metric aggregates events of some types (all when `event_types` is empty) into tumbling
// windows, grouped by up to three dimensions. Dimensions and the property name either an
// envelope field (`type`, `source`, `user_id`, `anonymous_id`) or a property path
// (`plan`, `cart.total`; a leading `properties.` is allowed and reaches a property that
// shares a name with an envelope field).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

enum class MetricAggregate { kCount, kSum, kAvg, kMin, kMax, kUnique };

struct MetricSpec {
  std::string name;
  MetricAggregate aggregate = MetricAggregate::kCount;
  std::vector<std::string> event_types;  // empty = every type
  // sum/avg/min/max: the numeric property (events where it is not a number are left out).
  // unique: what is counted; empty = the user (user_id, else anonymous_id).
  std::string property;
  std::vector<std::string> dimensions;  // at most kMaxDimensions

  bool operator==(const MetricSpec&) const = default;
};

inline constexpr size_t kMaxDimensions = 3;

const char* AggregateName(MetricAggregate a);
Result<MetricAggregate> ParseAggregate(std::string_view name);

// Checks names, the aggregate/property pairing and the dimension count; the message says
// which metric and what is wrong.
Status ValidateMetricSpec(const MetricSpec& spec);

// `events` (count by type) and `unique_users` (users by HyperLogLog), always defined.
std::vector<MetricSpec> BuiltinMetrics();

}  // namespace sluice
