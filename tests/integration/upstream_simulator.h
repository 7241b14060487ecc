// UpstreamSimulator: a small HTTP/1.1 server on loopback that plays an upstream API for
// the pull connector tests (SPEC §5), with every quirk the connectors must survive
// switchable and driven by a seed, and the ground truth to compare the stored set with.
//
//   GET /stream?limit=N&cursor=C      cursor stream (next cursor in body or Link header;
//                                     after_id=ID instead of a cursor resumes after ID)
//   GET /window?from=&to=&limit=&cursor=   time window over the events' timestamps
//   GET /feed.json, /feed.xml         snapshot of the current entities
//
// Quirks: silently capped pages, cursor expiry (by age or at random), rate limits with
// X-RateLimit-* (reset as seconds-until or as epoch), RateLimit-* or no headers and a 429
// (with Retry-After) when exceeded, 5xx bursts, truncated bodies, connection resets,
// garbled JSON, responses slower than the client's timeout, mixed timestamp formats (RFC 3339
// strings beside unix-ms integers), records repeated across pages, late arrivals (visible only some
// time after their timestamp), cursor loops (a next cursor handed out before), feeds that
// are valid documents of another shape. Each connection gets its own thread; keep-alive is
// supported.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

struct SimOptions {
  uint64_t seed = 1;
  int events = 1000;
  int page_cap = 0;             // pages silently capped at this many records (0 = none)
  int cursor_ttl_ms = 0;        // cursors older than this are expired (0 = never)
  double expire_prob = 0;       // a cursor is reported expired at random ...
  int max_random_expiries = 3;  // ... at most this many times
  int expire_status = 410;      // how an expired cursor is answered
  std::string expire_body = "{\"error\":\"cursor expired\"}";
  int rate_limit = 0;   // requests per window (0 = unlimited)
  double window_s = 1;  // windows are aligned to multiples of window_s since the epoch
  std::string rate_headers = "x-epoch";  // x-epoch | x-delta | draft | none
  double fail_prob = 0;  // 503, truncated body, reset, garbled JSON: one quarter each
  // The last request a window allows is answered with a connection reset, every window.
  bool reset_last_in_window = false;
  double slow_prob = 0;  // a response is held back slow_ms (client timeouts)
  int slow_ms = 2000;
  double repeat_prob = 0;    // a page starts with the previous page's last record
  bool mixed_ts = true;      // every other record's ts is unix ms instead of RFC 3339
  bool link_header = false;  // next cursor in a Link header instead of the body
  // Time window: timestamps spread over [created, created + span_s); an event is visible
  // only from ts + U(0, late_max_s).
  double span_s = 0;
  double late_max_s = 0;
};

class UpstreamSimulator {
 public:
  explicit UpstreamSimulator(SimOptions options);
  ~UpstreamSimulator();

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Ground truth: every upstream event id.
  std::vector<std::string> ids() const;
  // The simulator's clock origin (unix µs) for time windows.
  int64_t created_us() const { return created_us_; }
  // Event i's timestamp (unix µs).
  int64_t ts_us(size_t i) const { return events_[i].ts_us; }
  // Snapshot feed contents: id -> fields (flat string map).
  void SetEntities(std::map<std::string, std::map<std::string, std::string>> entities);
  // Serve `body` as the feed instead of the entities ("" = the entities again).
  void SetFeedBody(std::string body);
  // Cursor loops, switchable while running. Stream: from the third page on, the next cursor
  // is the first one ever handed out. Window: kSame makes each page after the first name
  // itself as next, kBack makes the third page onwards point back to the second.
  enum class WindowLoop { kOff, kSame, kBack };
  void SetStreamLoop(bool on);
  void SetWindowLoop(WindowLoop mode);

  std::atomic<uint64_t> requests{0}, too_many{0}, injected_failures{0}, expiries{0}, slowed{0};

 private:
  struct Ev {
    std::string id;
    int64_t ts_us;
    int64_t visible_us;
  };
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::string> headers;
    enum { kNormal, kTruncate, kReset, kGarble } fault = kNormal;
    bool slow = false;
  };
  void Accept();
  void Serve(int fd);
  Reply Route(const std::string& target);
  Reply Stream(std::map<std::string, std::string>& q);
  Reply Window(std::map<std::string, std::string>& q);
  Reply Feed(bool xml);
  std::string RecordJson(const Ev& e, size_t index) const;
  // Rate-limit bookkeeping; false (and a 429 in *r) when over the limit.
  bool Admit(Reply* r);

  SimOptions o_;
  int listen_fd_ = -1;
  int port_ = 0;
  int64_t created_us_ = 0;
  std::vector<Ev> events_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  int64_t window_index_ = -1;
  int window_count_ = 0;
  int random_expiries_ = 0;
  std::map<std::string, std::map<std::string, std::string>> entities_;
  std::string feed_body_;
  bool stream_loop_ = false;
  std::string first_cursor_;
  WindowLoop window_loop_ = WindowLoop::kOff;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
};

}  // namespace sluice::test
