#include "tenancy/storage_meter.h"

namespace sluice {

uint64_t StoredBytesOf(const Event& e) {
  return e.event_id.size() + e.type.size() + 16 + e.user_id.size() + e.anonymous_id.size() +
         e.properties.size() + e.context.size();
}

uint64_t StoredBytesOf(const RejectedEvent& r) { return StoredBytesOf(r.event) + r.error.size(); }

void StorageMeter::Replace(const std::vector<std::pair<std::string, uint64_t>>& measured,
                           uint64_t store_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (store_offset < store_offset_) return;  // the additions it would need are gone
  store_offset_ = store_offset;
  for (auto it = usage_.begin(); it != usage_.end();) {
    Usage& u = it->second;
    u.measured = 0;
    auto covered_end = u.pending.upper_bound(store_offset);
    for (auto p = u.pending.begin(); p != covered_end; ++p) u.pending_bytes -= p->second;
    u.pending.erase(u.pending.begin(), covered_end);
    it = u.pending.empty() ? usage_.erase(it) : std::next(it);
  }
  for (const auto& [tenant, bytes] : measured) usage_[tenant].measured += bytes;
}

void StorageMeter::Add(const std::string& tenant, uint64_t bytes, uint64_t log_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_offset <= store_offset_) return;  // the last measurement counted it
  Usage& u = usage_[tenant];
  u.pending[log_offset] += bytes;
  u.pending_bytes += bytes;
}

uint64_t StorageMeter::Get(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = usage_.find(tenant);
  return it == usage_.end() ? 0 : it->second.measured + it->second.pending_bytes;
}

}  // namespace sluice
