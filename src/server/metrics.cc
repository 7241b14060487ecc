#include "server/metrics.h"

#include <fmt/format.h>

namespace sluice {

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string* out) const {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cum = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cum += buckets_[i].load(std::memory_order_relaxed);
    fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cum);
  }
  cum += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n",
                 name, cum, name, sum_us_.load() / 1e6, name, count_.load());
}

void ServerMetrics::CountRequest(const std::string& route, unsigned status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void ServerMetrics::RenderRequests(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  *out += "# HELP sluice_http_requests_total HTTP requests answered, by route and status.\n";
  *out += "# TYPE sluice_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    fmt::format_to(std::back_inserter(*out),
                   "sluice_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", k.first, k.second,
                   v);
  }
}

void RenderMetric(std::string* out, const char* name, const char* type, const char* help,
                  double value) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name,
                 type, name, value);
}

}  // namespace sluice
