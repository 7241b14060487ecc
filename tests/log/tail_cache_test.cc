// TailCache (log/tail_cache.h) on its own: which chunk holds an offset, eviction by
// capacity, and that a chunk a reader holds outlives its eviction and is never recycled
// under it.
#include "log/tail_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

std::string Bytes(size_t n, char c) {
  std::string s;
  s.reserve(n);  // capacity is what the cache counts
  s.assign(n, c);
  return s;
}

TEST(TailCacheTest, FindsTheChunkHoldingAnOffset) {
  TailCache cache(1 << 20);
  EXPECT_EQ(cache.Find(0), nullptr);
  cache.Publish(100, Bytes(50, 'a'));
  cache.Publish(150, Bytes(30, 'b'));
  EXPECT_EQ(cache.Find(99), nullptr);
  ASSERT_NE(cache.Find(100), nullptr);
  EXPECT_EQ(cache.Find(100)->base, 100u);
  EXPECT_EQ(cache.Find(149)->base, 100u);
  EXPECT_EQ(cache.Find(150)->base, 150u);
  EXPECT_EQ(cache.Find(179)->bytes, std::string(30, 'b'));
  EXPECT_EQ(cache.Find(180), nullptr);  // not published yet
}

TEST(TailCacheTest, DropsTheOldestPastCapacityAndRecyclesTheirBuffers) {
  TailCache cache(10000);
  uint64_t base = 0;
  std::string next;
  for (int i = 0; i < 10; ++i) {
    next = cache.Publish(base, Bytes(4000, static_cast<char>('a' + i)));
    base += 4000;
  }
  EXPECT_LE(cache.bytes_held(), 10000u);
  EXPECT_EQ(cache.Find(0), nullptr);  // long gone
  ASSERT_NE(cache.Find(base - 1), nullptr);
  EXPECT_EQ(cache.Find(base - 1)->bytes, std::string(4000, 'j'));
  // A dropped chunk nobody held came back as the buffer to fill next: empty, sized.
  EXPECT_TRUE(next.empty());
  EXPECT_GE(next.capacity(), 4000u);
}

TEST(TailCacheTest, AHeldChunkOutlivesEvictionAndIsNotRecycled) {
  TailCache cache(10000);
  cache.Publish(0, Bytes(4000, 'a'));
  auto held = cache.Find(0);
  ASSERT_NE(held, nullptr);
  std::string next;
  uint64_t base = 4000;
  for (int i = 1; i < 6; ++i) {
    next = cache.Publish(base, Bytes(4000, static_cast<char>('a' + i)));
    base += 4000;
    // Overwrite whatever buffer came back, as the commit thread's appenders would.
    next.assign(4000, 'X');
  }
  EXPECT_EQ(cache.Find(0), nullptr);               // evicted from the cache...
  EXPECT_EQ(held->bytes, std::string(4000, 'a'));  // ...but intact for its reader
}

TEST(TailCacheTest, KeepsNothingLargerThanItselfOrWhenDisabled) {
  TailCache off(0);
  std::string back = off.Publish(0, Bytes(100, 'a'));
  EXPECT_TRUE(back.empty());
  EXPECT_GE(back.capacity(), 100u);  // handed back for reuse
  EXPECT_EQ(off.Find(0), nullptr);

  TailCache small(1000);
  small.Publish(0, Bytes(500, 'a'));
  small.Publish(500, Bytes(5000, 'b'));  // a burst larger than the cache: not kept
  EXPECT_NE(small.Find(0), nullptr);
  EXPECT_EQ(small.Find(500), nullptr);
  small.Publish(5500, Bytes(100, 'c'));  // chunks may leave a gap
  EXPECT_EQ(small.Find(5500)->bytes, std::string(100, 'c'));
  EXPECT_EQ(small.Find(600), nullptr);
}

}  // namespace
}  // namespace sluice
