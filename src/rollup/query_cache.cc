// MetricQueryCache (query_cache.h): an LRU map from query to result, checked by generation.
#include "rollup/query_cache.h"

namespace sluice {

std::shared_ptr<const MetricResult> MetricQueryCache::Get(const std::string& key,
                                                          uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.generation != generation) {
    ++misses_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++hits_;
  return it->second.result;
}

void MetricQueryCache::Put(const std::string& key, uint64_t generation,
                           std::shared_ptr<const MetricResult> result) {
  if (max_entries_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  while (entries_.size() >= max_entries_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_[key] = Entry{generation, std::move(result), lru_.begin()};
}

}  // namespace sluice
