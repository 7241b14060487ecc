// AckPacer: acks go at once while the consumers keep up, wait (in order) while they lag,
// never longer than the max delay, and all go at Stop().
#include "server/ack_pacer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;

struct Sent {
  std::mutex mu;
  std::vector<int> order;
  void Add(int i) {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(i);
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return order.size();
  }
};

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(AckPacerTest, SendsAtOnceWhileTheConsumersKeepUp) {
  AckPacer pacer([] { return false; }, 10000);
  Sent sent;
  for (int i = 0; i < 3; ++i) pacer.Send([&sent, i] { sent.Add(i); });
  EXPECT_EQ(sent.size(), 3u);  // synchronously, on the caller's thread
  EXPECT_EQ(pacer.held_total(), 0u);
}

TEST(AckPacerTest, HoldsWhileBehindAndReleasesInOrderWhenCaughtUp) {
  std::atomic<bool> behind{true};
  AckPacer pacer([&] { return behind.load(); }, 60000);
  Sent sent;
  for (int i = 0; i < 5; ++i) pacer.Send([&sent, i] { sent.Add(i); });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(sent.size(), 0u);
  EXPECT_EQ(pacer.held_now(), 5u);
  behind = false;
  ASSERT_TRUE(WaitFor([&] { return sent.size() == 5; }, 5000ms));
  EXPECT_EQ(sent.order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pacer.held_total(), 5u);
  EXPECT_EQ(pacer.released_late(), 0u);
  EXPECT_EQ(pacer.held_now(), 0u);
}

TEST(AckPacerTest, AStalledStoreDelaysAnAckOnlyUpToTheMaxDelay) {
  AckPacer pacer([] { return true; }, 100);
  Sent sent;
  const auto t0 = std::chrono::steady_clock::now();
  pacer.Send([&sent] { sent.Add(1); });
  ASSERT_TRUE(WaitFor([&] { return sent.size() == 1; }, 5000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  EXPECT_EQ(pacer.released_late(), 1u);
}

TEST(AckPacerTest, StopSendsEveryHeldAckAndLaterOnesAtOnce) {
  AckPacer pacer([] { return true; }, 60000);
  Sent sent;
  for (int i = 0; i < 4; ++i) pacer.Send([&sent, i] { sent.Add(i); });
  EXPECT_EQ(sent.size(), 0u);
  pacer.Stop();
  EXPECT_EQ(sent.size(), 4u);
  pacer.Send([&sent] { sent.Add(9); });
  EXPECT_EQ(sent.size(), 5u);
}

}  // namespace
}  // namespace sluice
