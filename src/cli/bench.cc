// `sluice bench`: the load generator behind `make bench` and the crash tests.
//
// Each connection is a thread with a blocking keep-alive socket. Bodies are built once per
// connection and only the fixed-width sequence digits of each id and the timestamps (one
// second formatted, then three digits per event) are rewritten per request, so the
// generator spends its CPU on sending, not formatting (it shares the machine with the
// server it measures).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "common/clock.h"

namespace sluice {

namespace {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string host;
  int port = 80;
};

bool ParseUrl(const std::string& url, Endpoint* ep) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    ep->host = rest;
  } else {
    ep->host = rest.substr(0, colon);
    ep->port = std::atoi(rest.c_str() + colon + 1);
  }
  if (ep->host == "localhost") ep->host = "127.0.0.1";
  return !ep->host.empty() && ep->port > 0;
}

int Connect(const Endpoint& ep) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(ep.port));
  if (inet_pton(AF_INET, ep.host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads one HTTP response; returns its status code, or -1 on a broken connection.
int ReadResponse(int fd, std::string* buf, std::string* body) {
  size_t header_end;
  while ((header_end = buf->find("\r\n\r\n")) == std::string::npos) {
    char tmp[8192];
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return -1;
    buf->append(tmp, static_cast<size_t>(r));
  }
  int status = std::atoi(buf->c_str() + 9);
  size_t len = 0;
  auto cl = buf->find("ontent-Length:");
  if (cl == std::string::npos) cl = buf->find("ontent-length:");
  if (cl != std::string::npos && cl < header_end)
    len = std::strtoull(buf->c_str() + cl + 14, nullptr, 10);
  while (buf->size() < header_end + 4 + len) {
    char tmp[8192];
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return -1;
    buf->append(tmp, static_cast<size_t>(r));
  }
  body->assign(*buf, header_end + 4, len);
  buf->erase(0, header_end + 4 + len);
  return status;
}

constexpr int kSeqDigits = 12;

// One request body with the positions of every id's sequence digits.
struct BodyTemplate {
  std::string body;
  std::vector<size_t> seq_pos;
  std::vector<size_t> ts_pos;  // of each event's "YYYY-MM-DDTHH:MM:SS.mmm"
};

constexpr size_t kTsChars = 23;  // RFC 3339 to the millisecond, without the "Z"

// Stamps the template's events with timestamps spread over the whole second before `now_us`:
// event i of n gets millisecond i*1000/n. Every event sharing one timestamp, as a fixed
// template would, flatters the store (a constant ts column compresses to nothing) and
// leaves searches nothing to prune by (bench/README, "Session 22"). The second is formatted
// once per body; each event only gets its three millisecond digits.
void StampTimestamps(BodyTemplate* t, int64_t now_us) {
  const int64_t second_us = (now_us / 1000000 - 1) * 1000000;
  const std::string base = FormatRfc3339Micros(second_us).substr(0, kTsChars);
  const size_t n = t->ts_pos.size();
  for (size_t i = 0; i < n; ++i) {
    char* p = &t->body[t->ts_pos[i]];
    std::memcpy(p, base.data(), kTsChars - 3);
    const size_t ms = i * 1000 / n;
    p[kTsChars - 3] = static_cast<char>('0' + ms / 100);
    p[kTsChars - 2] = static_cast<char>('0' + ms / 10 % 10);
    p[kTsChars - 1] = static_cast<char>('0' + ms % 10);
  }
}

BodyTemplate MakeTemplate(const BenchFlags& f, const std::string& run_id, int conn) {
  BodyTemplate t;
  const char* types[] = {"page_view", "click", "signup", "purchase", "search"};
  std::string ts = FormatRfc3339Micros(NowMicros()).substr(0, 23) + "Z";
  bool json = f.format == "json";
  if (json) t.body += "[";
  for (int i = 0; i < f.batch; ++i) {
    if (json && i > 0) t.body += ",";
    std::string prefix = "{\"event_id\":\"" + run_id + "-" + std::to_string(conn) + "-";
    t.seq_pos.push_back(t.body.size() + prefix.size());
    std::string e = prefix + std::string(kSeqDigits, '0') + "\",\"type\":\"" + types[i % 5] +
                    "\",\"timestamp\":\"";
    t.ts_pos.push_back(t.body.size() + e.size());
    e += ts + "\",\"user_id\":\"user-" + std::to_string((conn * 7919 + i * 104729) % 100000) +
         "\",\"properties\":{\"path\":\"/pricing\",\"plan\":\"pro\",\"value\":" +
         std::to_string(i % 1000) + ",";
    // p0, p1, ...: alternately an integer and a short string (schema benchmarks).
    for (int p = 0; p < f.extra_properties; ++p) {
      e += "\"p" + std::to_string(p) +
           "\":" + (p % 2 == 0 ? std::to_string((i + p) % 100) : "\"v" + std::to_string(p) + "\"") +
           ",";
    }
    e += "\"pad\":\"";
    std::string tail = "\"}}";
    int pad = f.event_bytes - static_cast<int>(e.size() + tail.size());
    e += std::string(std::max(pad, 1), 'x') + tail;
    t.body += e;
    if (!json) t.body += "\n";
  }
  if (json) t.body += "]";
  return t;
}

void WriteSeq(char* p, uint64_t v) {
  for (int i = kSeqDigits - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

struct ConnResult {
  uint64_t events = 0, bytes = 0, requests = 0, failures = 0, non2xx = 0;
  std::vector<double> latencies;  // seconds
};

}  // namespace

int RunBench(const BenchFlags& f) {
  std::string run_id = f.run_id;
  if (run_id.empty()) {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    run_id = buf;
  }
  if (f.batch < 1 || f.connections < 1) {
    std::fprintf(stderr, "sluice bench: --batch and --connections must be >= 1\n");
    return 2;
  }

  if (!f.write_ndjson.empty()) {
    // Same events as a run would send, for the DuckDB/import comparisons.
    std::ofstream out(f.write_ndjson, std::ios::binary);
    BenchFlags g = f;
    g.format = "ndjson";
    BodyTemplate t = MakeTemplate(g, run_id, 0);
    uint64_t total = f.max_events ? f.max_events : 1000000;
    for (uint64_t seq = 0; seq < total; seq += t.seq_pos.size()) {
      for (size_t i = 0; i < t.seq_pos.size(); ++i) WriteSeq(&t.body[t.seq_pos[i]], seq + i);
      StampTimestamps(&t, NowMicros());
      size_t lines = std::min<uint64_t>(t.seq_pos.size(), total - seq);
      size_t end = 0;
      for (size_t k = 0; k < lines; ++k) end = t.body.find('\n', end) + 1;
      out.write(t.body.data(), static_cast<std::streamsize>(end));
    }
    if (!out) {
      std::fprintf(stderr, "sluice bench: cannot write %s\n", f.write_ndjson.c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %llu events to %s\n", static_cast<unsigned long long>(total),
                 f.write_ndjson.c_str());
    return 0;
  }

  Endpoint ep;
  if (!ParseUrl(f.url, &ep)) {
    std::fprintf(stderr, "sluice bench: cannot parse --url %s\n", f.url.c_str());
    return 2;
  }
  std::mutex ids_mu;
  std::FILE* ids_file = nullptr;
  if (!f.ids_out.empty()) {
    ids_file = std::fopen(f.ids_out.c_str(), "a");
    if (!ids_file) {
      std::fprintf(stderr, "sluice bench: cannot open %s\n", f.ids_out.c_str());
      return 1;
    }
  }
  std::atomic<uint64_t> events_budget{f.max_events ? f.max_events : UINT64_MAX};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(f.duration_s));
  std::vector<ConnResult> results(static_cast<size_t>(f.connections));
  std::vector<std::thread> threads;
  for (int c = 0; c < f.connections; ++c) {
    threads.emplace_back([&, c] {
      ConnResult& r = results[static_cast<size_t>(c)];
      BodyTemplate t = MakeTemplate(f, run_id, c);
      const std::string auth = f.api_key.empty() ? "" : "\r\nAuthorization: Bearer " + f.api_key;
      std::string head_prefix = "POST /v1/events HTTP/1.1\r\nHost: " + ep.host + auth +
                                "\r\nContent-Type: " +
                                (f.format == "json" ? "application/json" : "application/x-ndjson") +
                                "\r\nContent-Length: ";
      std::mt19937_64 rng(static_cast<uint64_t>(c) * 7 + 1);
      std::uniform_real_distribution<double> u(0, 1);
      uint64_t seq = 0;
      int fd = -1;
      std::string inbuf, body;
      const double interval = f.rate > 0 ? f.connections / f.rate : 0;
      auto next_send = Clock::now();
      bool new_batch = true;
      while (Clock::now() < deadline) {
        if (new_batch) {
          // Take a batch from the shared budget; a resend after a failure reuses its ids.
          uint64_t want = static_cast<uint64_t>(f.batch);
          uint64_t have = events_budget.load();
          bool got = false;
          while (have >= want) {
            if (events_budget.compare_exchange_weak(have, have - want)) {
              got = true;
              break;
            }
          }
          if (!got) break;
          for (size_t i = 0; i < t.seq_pos.size(); ++i) {
            uint64_t s = seq + i;
            if (f.duplicate_ratio > 0 && seq > 0 && u(rng) < f.duplicate_ratio) s = rng() % seq;
            WriteSeq(&t.body[t.seq_pos[i]], s);
          }
          StampTimestamps(&t, NowMicros());
          new_batch = false;
        }
        std::string req = head_prefix + std::to_string(t.body.size()) + "\r\n\r\n";
        if (interval > 0) {
          std::this_thread::sleep_until(next_send);
          next_send +=
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
        }
        if (fd < 0) {
          fd = Connect(ep);
          if (fd < 0) {
            ++r.failures;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
          }
          inbuf.clear();
        }
        auto t0 = Clock::now();
        int status = -1;
        if (WriteAll(fd, req.data(), req.size()) && WriteAll(fd, t.body.data(), t.body.size())) {
          status = ReadResponse(fd, &inbuf, &body);
        }
        double lat = std::chrono::duration<double>(Clock::now() - t0).count();
        if (status < 0) {
          ++r.failures;
          ::close(fd);
          fd = -1;
          continue;  // the batch is resent with the same ids: harmless thanks to dedupe
        }
        ++r.requests;
        if (status == 202) {
          r.events += t.seq_pos.size();
          r.bytes += t.body.size();
          r.latencies.push_back(lat);
          if (ids_file) {
            std::string ids;
            for (size_t p : t.seq_pos) {
              size_t begin = t.body.rfind('"', p) + 1;
              ids.append(t.body, begin, p + kSeqDigits - begin);
              ids.push_back('\n');
            }
            std::lock_guard<std::mutex> lock(ids_mu);
            std::fwrite(ids.data(), 1, ids.size(), ids_file);
            std::fflush(ids_file);
          }
          seq += t.seq_pos.size();
          new_batch = true;
        } else {
          ++r.non2xx;
          if (status == 503 || status == 429) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }
      }
      if (fd >= 0) ::close(fd);
    });
  }
  for (auto& th : threads) th.join();
  if (ids_file) std::fclose(ids_file);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ConnResult total;
  for (auto& r : results) {
    total.events += r.events;
    total.bytes += r.bytes;
    total.requests += r.requests;
    total.failures += r.failures;
    total.non2xx += r.non2xx;
    total.latencies.insert(total.latencies.end(), r.latencies.begin(), r.latencies.end());
  }
  std::sort(total.latencies.begin(), total.latencies.end());
  auto pct = [&](double p) {
    if (total.latencies.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(total.latencies.size() - 1));
    return total.latencies[i] * 1000;
  };
  double eps = static_cast<double>(total.events) / secs;
  double mbps = static_cast<double>(total.bytes) / secs / 1e6;
  if (f.json_output) {
    std::printf(
        "{\"events\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"mb_per_s\":%.1f,"
        "\"requests\":%llu,\"non_2xx\":%llu,\"failures\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"max_ms\":%.3f}\n",
        static_cast<unsigned long long>(total.events), secs, eps, mbps,
        static_cast<unsigned long long>(total.requests),
        static_cast<unsigned long long>(total.non2xx),
        static_cast<unsigned long long>(total.failures), pct(0.5), pct(0.99), pct(1.0));
  } else {
    std::printf(
        "%llu events acknowledged in %.2fs: %.0f events/s, %.1f MB/s\n"
        "requests %llu (non-2xx %llu, connection failures %llu)\n"
        "ack latency ms: p50 %.2f  p99 %.2f  max %.2f\n",
        static_cast<unsigned long long>(total.events), secs, eps, mbps,
        static_cast<unsigned long long>(total.requests),
        static_cast<unsigned long long>(total.non2xx),
        static_cast<unsigned long long>(total.failures), pct(0.5), pct(0.99), pct(1.0));
  }
  return 0;
}

}  // namespace sluice
