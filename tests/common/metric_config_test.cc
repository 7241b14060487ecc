// [rollup] and [[metrics]] in the configuration file: defaults, a valid file, and one clear
// error per mistake naming the file and the entry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/config.h"

namespace sluice {
namespace {

Result<Config> Load(const std::string& toml) {
  char path[] = "/tmp/sluice-metric-config-XXXXXX";
  const int fd = mkstemp(path);
  std::ofstream(path) << toml;
  auto c = LoadConfig(path);
  ::close(fd);
  std::remove(path);
  return c;
}

TEST(MetricConfigTest, DefaultsAndAValidFile) {
  auto d = LoadConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->rollup_enabled);
  EXPECT_TRUE(d->metrics.empty());
  auto c = Load(R"([rollup]
batch_ms = 50
max_points = 20
cache_entries = 0
[[metrics]]
name = "revenue"
aggregate = "sum"
property = "amount"
event_types = ["purchase", "refund"]
dimensions = ["plan", "country"]
[[metrics]]
name = "buyers"
aggregate = "unique"
event_types = "purchase"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rollup_batch_ms, 50);
  EXPECT_EQ(c->metrics_max_points, 20u);
  ASSERT_EQ(c->metrics.size(), 2u);
  EXPECT_EQ(c->metrics[0].aggregate, MetricAggregate::kSum);
  EXPECT_EQ(c->metrics[0].dimensions, (std::vector<std::string>{"plan", "country"}));
  EXPECT_EQ(c->metrics[1].event_types, std::vector<std::string>{"purchase"});
}

TEST(MetricConfigTest, MistakesAreOneClearError) {
  struct Case {
    std::string toml, message;
  } cases[] = {
      {"[[metrics]]\nname = \"a\"\n", "needs name and aggregate"},
      {"[[metrics]]\nname = \"a\"\naggregate = \"median\"\n", "aggregate must be count, sum"},
      {"[[metrics]]\nname = \"a\"\naggregate = \"sum\"\n", "needs a numeric property"},
      {"[[metrics]]\nname = \"a\"\naggregate = \"count\"\ndimensions = [\"a\",\"b\",\"c\",\"d\"]\n",
       "at most 3 dimensions"},
      {"[[metrics]]\nname = \"a\"\naggregate = \"count\"\ncolour = 1\n", "unknown key colour"},
      {"[[metrics]]\nname = \"events\"\naggregate = \"count\"\n", "is a built-in metric"},
      {"[[metrics]]\nname = \"a\"\naggregate = \"count\"\n[[metrics]]\nname = \"a\"\naggregate = "
       "\"count\"\n",
       "defined twice"},
      {"[[metrics]]\nname = \"a b\"\naggregate = \"count\"\n", "metric name 'a b'"},
      {"metrics = 3\n", "array of tables"},
      {"[rollup]\nbatch_ms = 0\n", "batch_ms must be >= 1"},
      {"[rollup]\nspeed = 1\n", "unknown key [rollup] speed"},
  };
  for (const auto& c : cases) {
    auto r = Load(c.toml);
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.toml << " -> " << r.status().message();
    EXPECT_NE(r.status().message().find("/tmp/sluice-metric-config-"), std::string::npos)
        << "names the file: " << r.status().message();
  }
}

}  // namespace
}  // namespace sluice
