// See tail_cache.h.
#include "log/tail_cache.h"

#include <algorithm>
#include <iterator>

namespace sluice {

std::string TailCache::Publish(uint64_t base, std::string&& bytes) {
  // A round larger than the whole cache (a burst) is not kept: readers read it from disk.
  if (bytes.empty() || bytes.capacity() > capacity_) {
    bytes.clear();
    return std::move(bytes);
  }
  auto chunk = std::make_shared<TailChunk>();
  chunk->base = base;
  chunk->bytes = std::move(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  held_ += chunk->bytes.capacity();
  chunks_.push_back(std::move(chunk));
  while (held_ > capacity_ && chunks_.size() > 1) {
    std::shared_ptr<TailChunk>& old = chunks_.front();
    held_ -= old->bytes.capacity();
    // use_count() is exact here: readers copy chunks only under mu_, so one no reader
    // holds now can never be taken again.
    if (old.use_count() == 1 && old->bytes.capacity() > spare_.capacity() &&
        old->bytes.capacity() <= kMaxRecycled) {
      spare_ = std::move(old->bytes);
      spare_.clear();
    }
    chunks_.pop_front();
  }
  std::string next;
  next.swap(spare_);
  return next;
}

std::shared_ptr<const TailChunk> TailCache::Find(uint64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (chunks_.empty() || offset < chunks_.front()->base || offset >= chunks_.back()->end())
    return nullptr;
  auto next =
      std::upper_bound(chunks_.begin(), chunks_.end(), offset,
                       [](uint64_t o, const std::shared_ptr<TailChunk>& c) { return o < c->base; });
  const std::shared_ptr<TailChunk>& c = *std::prev(next);
  if (!c->Holds(offset)) return nullptr;
  return c;
}

uint64_t TailCache::bytes_held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

}  // namespace sluice
