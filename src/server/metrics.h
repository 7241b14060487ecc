// Counters and histograms served at GET /metrics in the Prometheus text format.
//
// Hot-path counters are relaxed atomics; only the per-(route, status) request counts take
// a mutex, which is cheap at request (not event) granularity.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace sluice {

class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(double seconds);
  // Appends `name_bucket{le=..}`, `name_sum`, `name_count` lines.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

struct ServerMetrics {
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_duplicate{0};
  std::atomic<uint64_t> events_rejected{0};
  std::atomic<uint64_t> ingest_bytes{0};       // request bodies after decompression
  std::atomic<uint64_t> ingest_wire_bytes{0};  // as received
  std::atomic<uint64_t> backpressure_503{0};
  std::atomic<uint64_t> rate_limited{0};          // 429s (any tenant; no tenant labels)
  std::atomic<uint64_t> events_dead_lettered{0};  // refused by a schema, kept for replay
  LatencyHistogram ack_latency;                   // request read -> 2xx sent (covers the fsync)

  void CountRequest(const std::string& route, unsigned status);
  void RenderRequests(std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;
};

// Appends one sample with HELP/TYPE lines.
void RenderMetric(std::string* out, const char* name, const char* type, const char* help,
                  double value);

}  // namespace sluice
