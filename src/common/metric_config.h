// [[metrics]] tables of the configuration file (SPEC §3.3, §6): each is one MetricSpec.
//
//   [[metrics]]
//   name = "revenue"
//   aggregate = "sum"            # count | sum | avg | min | max | unique
//   property = "amount"          # numeric property (sum/avg/min/max), counted key (unique)
//   event_types = ["purchase"]   # optional; default every type
//   dimensions = ["plan", "country"]   # optional, at most 3
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "common/metric_spec.h"
#include "common/status.h"

namespace sluice {

// Parses the `metrics` array of `file`; errors name the file, the entry and the key.
Status ParseMetricTables(const toml::node& metrics, const std::string& file,
                         std::vector<MetricSpec>* out);

}  // namespace sluice
