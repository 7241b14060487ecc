#include "tenancy/storage_meter.h"

namespace sluice {

void StorageMeter::Replace(const std::vector<std::pair<std::string, uint64_t>>& measured) {
  std::unordered_map<std::string, uint64_t> next(measured.begin(), measured.end());
  std::lock_guard<std::mutex> lock(mu_);
  bytes_.swap(next);
}

void StorageMeter::Add(const std::string& tenant, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  bytes_[tenant] += bytes;
}

uint64_t StorageMeter::Get(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bytes_.find(tenant);
  return it == bytes_.end() ? 0 : it->second;
}

}  // namespace sluice
