// AckPacer (ack_pacer.h): a FIFO of held acknowledgements and the thread that releases it.
#include "server/ack_pacer.h"

#include <vector>

namespace sluice {

namespace {
// How often the lag is looked at while acks are held: small against the 1 s freshness
// budget, large against the cost of asking.
constexpr auto kPoll = std::chrono::milliseconds(2);
}  // namespace

AckPacer::AckPacer(std::function<bool()> behind, int max_delay_ms)
    : behind_(std::move(behind)), max_delay_(max_delay_ms), thread_([this] { Loop(); }) {}

AckPacer::~AckPacer() {
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AckPacer::Send(std::function<void()> send) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Behind others, an ack waits its turn even if the lag just dropped: order is kept.
    if (!stop_ && (!held_.empty() || behind_())) {
      held_.push_back({std::chrono::steady_clock::now() + max_delay_, std::move(send)});
      ++held_total_;
      cv_.notify_all();
      return;
    }
  }
  send();
}

void AckPacer::Stop() {
  std::deque<Held> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    all.swap(held_);
  }
  cv_.notify_all();
  for (Held& h : all) h.send();
}

void AckPacer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !held_.empty(); });
    if (stop_ && held_.empty()) return;
    cv_.wait_for(lock, kPoll, [this] { return stop_; });
    const bool under = stop_ || !behind_();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::function<void()>> go;
    while (!held_.empty() && (under || held_.front().deadline <= now)) {
      if (!under) ++released_late_;
      go.push_back(std::move(held_.front().send));
      held_.pop_front();
    }
    if (go.empty()) continue;
    lock.unlock();  // sends post to the io threads; never under our lock
    for (auto& f : go) f();
    lock.lock();
  }
}

uint64_t AckPacer::held_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_total_;
}

uint64_t AckPacer::held_now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

uint64_t AckPacer::released_late() const {
  std::lock_guard<std::mutex> lock(mu_);
  return released_late_;
}

}  // namespace sluice
