// MetricQueryCache: results of metric queries over closed windows, kept in memory
// (issue 5: "repeated identical queries over closed windows come from memory; anything
// touching an open window is always fresh").
//
// A result is cached only when its range ends at or before the start of the current
// minute, i.e. every window in it had closed when it was read. Closed windows still change
// when late events or a backfill land in them, so each entry carries the generation of its
// (tenant, metric) read BEFORE the query ran (RollupConsumer::Generation); the consumer
// bumps it after every commit that touches a closed window, and an entry whose generation
// differs is never served. Reading the generation first means a commit racing the query
// can only make the entry stale, never wrong.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "rollup/metric_query.h"

namespace sluice {

class MetricQueryCache {
 public:
  explicit MetricQueryCache(size_t max_entries) : max_entries_(max_entries) {}

  // True when a query may be cached at all.
  static bool Cacheable(const MetricQuery& q, int64_t now_us) {
    return q.to_us <= FloorTo(now_us, kMinuteUs);
  }
  // The cached result of `key` if it was stored at `generation`.
  std::shared_ptr<const MetricResult> Get(const std::string& key, uint64_t generation);
  void Put(const std::string& key, uint64_t generation, std::shared_ptr<const MetricResult> r);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    uint64_t generation;
    std::shared_ptr<const MetricResult> result;
    std::list<std::string>::iterator lru;
  };
  const size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace sluice
