// StorageMeter: how many bytes each tenant stores, for stored-bytes quotas (SPEC §7).
//
// The truth is measured from the store every few seconds (EventStore::
// StoredBytesByTenant: hot rows plus evicted hours' Parquet files); between two
// measurements, what ingest accepts is added on top, so a tenant cannot outrun its quota
// by sending fast. Retention lowers the figure at the next measurement.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

class StorageMeter {
 public:
  // A fresh measurement replaces everything counted so far.
  void Replace(const std::vector<std::pair<std::string, uint64_t>>& measured);
  // Bytes accepted since the last measurement.
  void Add(const std::string& tenant, uint64_t bytes);
  uint64_t Get(const std::string& tenant) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> bytes_;
};

}  // namespace sluice
