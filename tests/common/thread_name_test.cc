#include "common/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace sluice {
namespace {

std::string NameOfThisThread() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = NameOfThisThread();
  std::string seen;
  std::thread([&] {
    SetCurrentThreadName("log-commit");
    seen = NameOfThisThread();
  }).join();
  EXPECT_EQ(seen, "log-commit");
  EXPECT_EQ(NameOfThisThread(), before);
}

TEST(ThreadNameTest, CutsNamesLinuxCannotHold) {
  std::string seen;
  std::thread([&] {
    SetCurrentThreadName("pull-a-connector-with-a-long-name");
    seen = NameOfThisThread();
  }).join();
  EXPECT_EQ(seen, "pull-a-connecto");  // 15 bytes: pthread_setname_np refuses longer ones
}

}  // namespace
}  // namespace sluice
