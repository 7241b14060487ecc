// BlockingPool: a few threads for request handlers that block — DuckDB queries (search,
// SQL, export) — so they never run on the io threads, where a 30 s query would stall
// every ingest connection pinned to that thread.
//
// The queue is bounded: when it is full TrySubmit refuses and the caller answers 503 with
// Retry-After (SPEC §1.6) instead of piling up work and memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {

class BlockingPool {
 public:
  BlockingPool(int threads, size_t max_queued);
  ~BlockingPool();  // runs what is queued, then joins
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `task`; false (task dropped) when max_queued tasks are already waiting.
  bool TrySubmit(std::function<void()> task);
  size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
