// UpstreamSimulator (upstream_simulator.h): plain POSIX sockets, one thread per connection.
#include "upstream_simulator.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/clock.h"
#include "ingest/timestamp.h"

namespace sluice::test {

namespace {

std::string Rfc3339Offset(int64_t us) {
  // Written in +02:00 so the connector must normalize offsets, not only 'Z'.
  int64_t local = us + int64_t{2} * 3600 * 1000000;
  time_t s = static_cast<time_t>(local / 1000000);
  struct tm tm {};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+02:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(local % 1000000));
  return buf;
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

double NowSeconds() { return double(NowMicros()) / 1e6; }

}  // namespace

UpstreamSimulator::UpstreamSimulator(SimOptions options) : o_(options), rng_(options.seed) {
  created_us_ = NowMicros();
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < o_.events; ++i) {
    Ev e;
    e.id = "e" + std::to_string(i);
    e.ts_us = created_us_ + static_cast<int64_t>(o_.span_s * 1e6 * i / std::max(1, o_.events));
    e.visible_us = e.ts_us + static_cast<int64_t>(u(rng_) * o_.late_max_s * 1e6);
    events_.push_back(e);
  }
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("simulator: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

UpstreamSimulator::~UpstreamSimulator() {
  stop_.store(true);
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns_) t.join();
}

std::vector<std::string> UpstreamSimulator::ids() const {
  std::vector<std::string> out;
  for (const Ev& e : events_) out.push_back(e.id);
  return out;
}

void UpstreamSimulator::SetEntities(
    std::map<std::string, std::map<std::string, std::string>> entities) {
  std::lock_guard<std::mutex> l(mu_);
  entities_ = std::move(entities);
}

void UpstreamSimulator::SetFeedBody(std::string body) {
  std::lock_guard<std::mutex> l(mu_);
  feed_body_ = std::move(body);
}

void UpstreamSimulator::SetStreamLoop(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  stream_loop_ = on;
}

void UpstreamSimulator::SetWindowLoop(WindowLoop mode) {
  std::lock_guard<std::mutex> l(mu_);
  window_loop_ = mode;
}

void UpstreamSimulator::Accept() {
  while (!stop_.load()) {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stop_.load()) return;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> l(mu_);
    conn_fds_.push_back(fd);
    conns_.emplace_back([this, fd] { Serve(fd); });
  }
}

void UpstreamSimulator::Serve(int fd) {
  std::string buf;
  char chunk[4096];
  while (!stop_.load()) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) {
        shutdown(fd, SHUT_RDWR);
        return;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    requests.fetch_add(1);
    Reply r = Route(target);
    if (r.slow) std::this_thread::sleep_for(std::chrono::milliseconds(o_.slow_ms));
    if (r.fault == Reply::kReset) {
      // Close with unread data pending -> RST on most stacks; either way no response.
      struct linger lg {
        1, 0
      };
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      shutdown(fd, SHUT_RDWR);
      return;
    }
    std::string body = r.body;
    if (r.fault == Reply::kGarble) body = body.substr(0, body.size() / 2);
    std::string out = "HTTP/1.1 " + std::to_string(r.status) +
                      (r.status == 200 ? " OK" : " Error") + "\r\nContent-Type: " + r.content_type +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& h : r.headers) out += h + "\r\n";
    out += "\r\n";
    if (r.fault == Reply::kTruncate) {
      out += body.substr(0, body.size() / 2);  // promised more than is sent, then closed
    } else {
      out += body;
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    if (r.fault == Reply::kTruncate) {
      shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

bool UpstreamSimulator::Admit(Reply* r) {
  if (o_.rate_limit <= 0) return true;
  const double now = NowSeconds();
  const int64_t idx = static_cast<int64_t>(std::floor(now / o_.window_s));
  if (idx != window_index_) {
    window_index_ = idx;
    window_count_ = 0;
  }
  ++window_count_;
  const double end = double(idx + 1) * o_.window_s;
  const long remaining = std::max(0, o_.rate_limit - window_count_);
  const long delta = static_cast<long>(std::ceil(end - now));
  if (o_.rate_headers == "x-epoch" || o_.rate_headers == "x-delta") {
    r->headers.push_back("X-RateLimit-Limit: " + std::to_string(o_.rate_limit));
    r->headers.push_back("X-RateLimit-Remaining: " + std::to_string(remaining));
    r->headers.push_back("X-RateLimit-Reset: " +
                         (o_.rate_headers == "x-epoch"
                              ? std::to_string(static_cast<long>(std::ceil(end)))
                              : std::to_string(delta)));
  } else if (o_.rate_headers == "draft") {
    r->headers.push_back("RateLimit-Limit: " + std::to_string(o_.rate_limit));
    r->headers.push_back("RateLimit-Remaining: " + std::to_string(remaining));
    r->headers.push_back("RateLimit-Reset: " + std::to_string(delta));
  }
  if (window_count_ > o_.rate_limit) {
    too_many.fetch_add(1);
    r->status = 429;
    r->body = "{\"error\":\"rate limited\"}";
    r->headers.push_back("Retry-After: " + std::to_string(std::max(1L, delta)));
    return false;
  }
  return true;
}

UpstreamSimulator::Reply UpstreamSimulator::Route(const std::string& target) {
  std::string path = target, query;
  size_t qm = target.find('?');
  if (qm != std::string::npos) {
    path = target.substr(0, qm);
    query = target.substr(qm + 1);
  }
  std::map<std::string, std::string> q;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) q[UrlDecode(kv.substr(0, eq))] = UrlDecode(kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::lock_guard<std::mutex> l(mu_);
  Reply r;
  if (!Admit(&r)) return r;
  if (o_.reset_last_in_window && window_count_ == o_.rate_limit) {
    injected_failures.fetch_add(1);
    r.fault = Reply::kReset;
    return r;
  }
  std::uniform_real_distribution<double> u(0, 1);
  if (u(rng_) < o_.fail_prob) {
    injected_failures.fetch_add(1);
    switch (rng_() % 4) {
      case 0:
        r.status = 503;
        r.body = "{\"error\":\"try again\"}";
        return r;
      case 1:
        r.fault = Reply::kTruncate;
        break;
      case 2:
        r.fault = Reply::kReset;
        return r;
      default:
        r.fault = Reply::kGarble;
    }
  }
  Reply page;
  if (path == "/stream") {
    page = Stream(q);
  } else if (path == "/window") {
    page = Window(q);
  } else if (path == "/feed.json" || path == "/feed.xml") {
    page = Feed(path == "/feed.xml");
  } else {
    page.status = 404;
    page.body = "{\"error\":\"no such path\"}";
  }
  page.headers.insert(page.headers.begin(), r.headers.begin(), r.headers.end());
  page.fault = r.fault;
  if (u(rng_) < o_.slow_prob) {
    slowed.fetch_add(1);
    page.slow = true;
  }
  return page;
}

std::string UpstreamSimulator::RecordJson(const Ev& e, size_t index) const {
  std::string ts = o_.mixed_ts && index % 2 == 1 ? std::to_string(e.ts_us / 1000)
                                                 : "\"" + Rfc3339Offset(e.ts_us) + "\"";
  return "{\"id\":\"" + e.id + "\",\"ts\":" + ts + ",\"user\":\"u" + std::to_string(index % 50) +
         "\",\"amount\":" + std::to_string(index) + "}";
}

UpstreamSimulator::Reply UpstreamSimulator::Stream(std::map<std::string, std::string>& q) {
  Reply r;
  size_t start = 0;
  const int64_t now_ms = NowMicros() / 1000;
  if (q.count("cursor")) {
    const std::string& c = q["cursor"];
    size_t dot = c.find(".t");
    if (c.size() < 4 || c[0] != 'p' || dot == std::string::npos) {
      r.status = 400;
      r.body = "{\"error\":\"unknown cursor\"}";
      return r;
    }
    start = std::stoull(c.substr(1, dot - 1));
    const int64_t issued = std::stoll(c.substr(dot + 2));
    std::uniform_real_distribution<double> u(0, 1);
    bool expired = o_.cursor_ttl_ms > 0 && now_ms - issued > o_.cursor_ttl_ms;
    if (!expired && random_expiries_ < o_.max_random_expiries && u(rng_) < o_.expire_prob) {
      ++random_expiries_;
      expired = true;
    }
    if (expired) {
      expiries.fetch_add(1);
      r.status = o_.expire_status;
      r.body = o_.expire_body;
      return r;
    }
  }
  if (!q.count("cursor") && q.count("after_id")) {
    start = std::stoull(q["after_id"].substr(1)) + 1;  // ids are e<index>
  }
  size_t limit = q.count("limit") ? std::stoul(q["limit"]) : 100;
  if (o_.page_cap > 0) limit = std::min<size_t>(limit, o_.page_cap);
  const size_t end = std::min(events_.size(), start + limit);
  std::string records;
  std::uniform_real_distribution<double> u(0, 1);
  if (start > 0 && start < events_.size() && u(rng_) < o_.repeat_prob) {
    records += RecordJson(events_[start - 1], start - 1);
  }
  for (size_t i = start; i < end; ++i) {
    if (!records.empty()) records += ',';
    records += RecordJson(events_[i], i);
  }
  // No next cursor on the last page (has_more = false), like most APIs.
  std::string next =
      end >= events_.size() ? "" : "p" + std::to_string(end) + ".t" + std::to_string(now_ms);
  if (first_cursor_.empty() && !q.count("cursor")) first_cursor_ = next;
  if (stream_loop_ && !next.empty() && q.count("cursor") && q["cursor"] != first_cursor_) {
    next = first_cursor_;  // page 3 onwards: back to page 2, forever
  }
  if (o_.link_header && !next.empty()) {
    r.headers.push_back("Link: <http://127.0.0.1:" + std::to_string(port_) + "/stream?limit=" +
                        std::to_string(limit) + "&cursor=" + next + ">; rel=\"next\"");
  }
  r.body = "{\"data\":[" + records +
           "],\"next_cursor\":" + (next.empty() || o_.link_header ? "null" : "\"" + next + "\"") +
           "}";
  return r;
}

UpstreamSimulator::Reply UpstreamSimulator::Window(std::map<std::string, std::string>& q) {
  Reply r;
  auto from = ParseTimestampString(q["from"]);
  auto to = ParseTimestampString(q["to"]);
  if (!from.ok() || !to.ok()) {
    r.status = 400;
    r.body = "{\"error\":\"bad from/to\"}";
    return r;
  }
  const int64_t now = NowMicros();
  std::vector<size_t> hits;
  for (size_t i = 0; i < events_.size(); ++i) {
    const Ev& e = events_[i];
    if (e.ts_us >= *from && e.ts_us < *to && e.visible_us <= now) hits.push_back(i);
  }
  size_t offset = q.count("cursor") ? std::stoull(q["cursor"].substr(1)) : 0;
  size_t limit = q.count("limit") ? std::stoul(q["limit"]) : 100;
  if (o_.page_cap > 0) limit = std::min<size_t>(limit, o_.page_cap);
  std::string records;
  const size_t end = std::min(hits.size(), offset + limit);
  for (size_t k = offset; k < end; ++k) {
    if (!records.empty()) records += ',';
    records += RecordJson(events_[hits[k]], hits[k]);
  }
  std::string next = end < hits.size() ? "o" + std::to_string(end) : "";
  if (!next.empty() && window_loop_ == WindowLoop::kSame && offset > 0) {
    next = q["cursor"];
  } else if (!next.empty() && window_loop_ == WindowLoop::kBack && offset >= 2 * limit) {
    next = "o" + std::to_string(limit);
  }
  r.body = "{\"data\":[" + records +
           "],\"next_cursor\":" + (next.empty() ? std::string("null") : "\"" + next + "\"") + "}";
  return r;
}

UpstreamSimulator::Reply UpstreamSimulator::Feed(bool xml) {
  Reply r;
  if (!feed_body_.empty()) {
    r.content_type = xml ? "application/xml" : "application/json";
    r.body = feed_body_;
    return r;
  }
  if (xml) {
    r.content_type = "application/xml";
    r.body = "<?xml version=\"1.0\"?><feed>";
    for (const auto& [id, fields] : entities_) {
      r.body += "<item id=\"" + id + "\">";
      for (const auto& [k, v] : fields) r.body += "<" + k + ">" + v + "</" + k + ">";
      r.body += "</item>";
    }
    r.body += "</feed>";
  } else {
    r.body = "{\"entities\":[";
    bool first = true;
    for (const auto& [id, fields] : entities_) {
      if (!first) r.body += ',';
      first = false;
      r.body += "{\"id\":\"" + id + "\"";
      for (const auto& [k, v] : fields) r.body += ",\"" + k + "\":\"" + v + "\"";
      r.body += "}";
    }
    r.body += "]}";
  }
  return r;
}

}  // namespace sluice::test
