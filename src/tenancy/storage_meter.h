// StorageMeter: how many bytes each tenant stores, for stored-bytes quotas (SPEC §7).
//
// The truth is measured from the store every few seconds (EventStore::
// StoredBytesByTenant: hot rows plus evicted hours' Parquet files plus pending dead
// letters); what ingest accepts is added on top, so a tenant cannot outrun its quota by
// sending fast. Retention lowers the figure at the next measurement.
//
// Accepted bytes reach the store only when the store consumer takes their log record,
// which under load can lag the acknowledgement by 500 ms or more. So each addition is
// tagged with the log offset just past the record that holds it (Log::Append's result),
// and a measurement comes with the store consumer's committed offset read in the same
// DuckDB snapshot as the sums: it covers exactly the records below that offset. Replace
// keeps the additions past it, which the store has not taken yet, and drops the others,
// which the measurement counts. Neither forgotten nor counted twice: between
// measurements the figure is what the tenant has logged, not what the store has caught up
// with. (An addition may overcount — an event Submit found to be a duplicate — but only
// until the store passes its record and the next measurement replaces it.)
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ingest/envelope_parser.h"  // RejectedEvent
#include "ingest/event.h"

namespace sluice {

// One event's bytes as EventStore::StoredBytesByTenant counts them.
uint64_t StoredBytesOf(const Event& e);
// One dead letter's: its event and its error text.
uint64_t StoredBytesOf(const RejectedEvent& r);

class StorageMeter {
 public:
  // A measurement `measured` of the store, taken in one snapshot with the store
  // consumer's committed offset `store_offset`: it holds every record below that offset.
  // Replaces the measured figures and the additions it covers; keeps those past it. A
  // measurement older than the last one (a smaller offset) is ignored.
  void Replace(const std::vector<std::pair<std::string, uint64_t>>& measured,
               uint64_t store_offset);
  // `bytes` of `tenant` logged in the record that ends at `log_offset`. Ignored when the
  // last measurement already covers that record.
  void Add(const std::string& tenant, uint64_t bytes, uint64_t log_offset);
  uint64_t Get(const std::string& tenant) const;

 private:
  struct Usage {
    uint64_t measured = 0;
    std::map<uint64_t, uint64_t> pending;  // log offset -> bytes the store may not hold yet
    uint64_t pending_bytes = 0;            // their sum
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Usage> usage_;
  uint64_t store_offset_ = 0;  // of the last measurement
};

}  // namespace sluice
