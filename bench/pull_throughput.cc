// Pull connector throughput against the test suite's UpstreamSimulator (bench/README.md,
// "Pull connectors"). Runs the real `sluice` binary.
//
//   pull_bench SLUICE cursor R W P WINDOWS FAIL
//     one cursor connector, `sluice pull --once`, upstream allowing R requests per W
//     seconds (X-RateLimit-* headers, reset as epoch) and capping pages at P records
//     (the connector asks for 2P), R*P*WINDOWS events, FAIL = fraction of responses that
//     fail (5xx, truncated, reset, garbled). Prints records/s and the ratio to R*P/W, the
//     429s seen, and checks the stored set is exactly the upstream's.
//   pull_bench SLUICE fanout N R W P WINDOWS
//     N connectors in one `sluice serve`, each with its own upstream; prints the CPU
//     seconds of serve and of the upstreams (this process).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../tests/integration/upstream_simulator.h"

using sluice::test::SimOptions;
using sluice::test::UpstreamSimulator;

namespace {

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string ConnectorToml(const std::string& name, const UpstreamSimulator& sim, int p) {
  return "name = \"" + name + "\"\nkind = \"cursor\"\nurl = \"" + sim.url("/stream") +
         "\"\nrecords_path = \"/data\"\nid_path = \"/id\"\ntimestamp_path = \"/ts\"\n"
         "page_size = " +
         std::to_string(2 * p) +
         "\nretry_initial_ms = 20\nretry_max_ms = 1000\npoll_interval_seconds = 0.5\n";
}

double CpuSecondsSelf() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double CpuSecondsOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14 || i == 15) ticks += std::atol(field.c_str());
  }
  return double(ticks) / double(sysconf(_SC_CLK_TCK));
}

int Cursor(const std::string& bin, int r, double w, int p, int windows, double fail) {
  SimOptions o;
  o.events = r * p * windows;
  o.page_cap = p;
  o.rate_limit = r;
  o.window_s = w;
  o.rate_headers = "x-epoch";
  o.fail_prob = fail;
  o.repeat_prob = 0.05;
  UpstreamSimulator sim(o);
  char tmpl[] = "/tmp/sluice-pullbench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  { std::ofstream(dir + "/c.toml") << ConnectorToml("bench", sim, p); }
  const auto t0 = std::chrono::steady_clock::now();
  std::string err =
      Run(bin + " pull " + dir + "/c.toml --once --no-progress --data-dir " + dir + "/data 2>&1");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string ids = Run(bin + " export-ids --data-dir " + dir + "/data");
  std::set<std::string> uniq;
  size_t lines = 0;
  std::istringstream in(ids);
  for (std::string l; std::getline(in, l);) {
    ++lines;
    uniq.insert(l);
  }
  Run("rm -rf " + dir);
  const double target = double(r) * p / w;
  const double rate = o.events / secs;
  const bool exact = lines == size_t(o.events) && uniq.size() == lines;
  std::printf(
      "{\"mode\":\"cursor\",\"R\":%d,\"W\":%g,\"P\":%d,\"windows\":%d,\"fail\":%g,\"events\":%d,"
      "\"seconds\":%.3f,\"records_per_s\":%.1f,\"target_per_s\":%.1f,\"ratio\":%.3f,"
      "\"upstream_429\":%llu,\"injected_failures\":%llu,\"exactly_once\":%s}\n",
      r, w, p, windows, fail, o.events, secs, rate, target, rate / target,
      static_cast<unsigned long long>(sim.too_many.load()),
      static_cast<unsigned long long>(sim.injected_failures.load()), exact ? "true" : "false");
  if (!exact)
    std::fprintf(stderr, "stored %zu ids (%zu unique)\n%s\n", lines, uniq.size(), err.c_str());
  return exact ? 0 : 1;
}

int Fanout(const std::string& bin, int n, int r, double w, int p, int windows) {
  std::vector<std::unique_ptr<UpstreamSimulator>> sims;
  char tmpl[] = "/tmp/sluice-pullbench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  // A 16 MiB dedupe table instead of the default 256 MiB: profiled, a third of serve's CPU
  // in this short run was first-touch page faults of the default table (a one-time cost of
  // any fresh server, not of connectors).
  std::string config = "[dedupe]\ncapacity_slots = 1048576\n";
  for (int i = 0; i < n; ++i) {
    SimOptions o;
    o.seed = i + 1;
    o.events = r * p * windows;
    o.page_cap = p;
    o.rate_limit = r;
    o.window_s = w;
    sims.push_back(std::make_unique<UpstreamSimulator>(o));
    config += "[[connector]]\n" + ConnectorToml("c" + std::to_string(i), *sims.back(), p);
  }
  std::ofstream(dir + "/sluice.toml") << config;
  const double self0 = CpuSecondsSelf();
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    freopen((dir + "/serve.log").c_str(), "w", stderr);
    execl(bin.c_str(), bin.c_str(), "serve", "--config", (dir + "/sluice.toml").c_str(),
          "--data-dir", (dir + "/data").c_str(), "--listen", "127.0.0.1:0", nullptr);
    _exit(127);
  }
  const uint64_t want = uint64_t(r) * p * windows * n;
  uint64_t stored = 0;
  double secs = 0;
  std::string addr;
  while (secs < 600) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (addr.empty()) {
      std::ifstream a(dir + "/data/sluice.addr");
      std::getline(a, addr);
      continue;
    }
    std::string m = Run("curl -s http://" + addr + "/metrics");
    stored = 0;
    for (size_t pos = m.find("\nsluice_connector_stored_total{"); pos != std::string::npos;
         pos = m.find("\nsluice_connector_stored_total{", pos + 1)) {
      stored += std::strtoull(m.c_str() + m.find("} ", pos) + 2, nullptr, 10);
    }
    if (stored >= want) break;
  }
  const double serve_cpu = CpuSecondsOf(pid);
  const double upstream_cpu = CpuSecondsSelf() - self0;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  Run("rm -rf " + dir);
  std::printf(
      "{\"mode\":\"fanout\",\"connectors\":%d,\"events\":%llu,\"stored\":%llu,\"seconds\":%.2f,"
      "\"serve_cpu_s\":%.2f,\"upstream_cpu_s\":%.2f,\"serve_over_upstream\":%.3f}\n",
      n, static_cast<unsigned long long>(want), static_cast<unsigned long long>(stored), secs,
      serve_cpu, upstream_cpu, upstream_cpu > 0 ? serve_cpu / upstream_cpu : 0.0);
  return stored >= want ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 8 && std::string(argv[2]) == "cursor") {
    return Cursor(argv[1], std::atoi(argv[3]), std::atof(argv[4]), std::atoi(argv[5]),
                  std::atoi(argv[6]), std::atof(argv[7]));
  }
  if (argc >= 8 && std::string(argv[2]) == "fanout") {
    return Fanout(argv[1], std::atoi(argv[3]), std::atoi(argv[4]), std::atof(argv[5]),
                  std::atoi(argv[6]), std::atoi(argv[7]));
  }
  std::fprintf(stderr,
               "usage: pull_bench SLUICE cursor R W P WINDOWS FAIL | fanout N R W P WINDOWS\n");
  return 2;
}
