// POST /v1/events end to end against the real server: body forms, encodings, per-event
// errors, limits, dedupe across requests and restarts, metrics, backpressure.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "harness.h"

namespace sluice::test {
namespace {

const char* kSmallConfig = R"([dedupe]
capacity_slots = 65536
[store]
batch_ms = 20
)";

class IngestHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("http");
    server_ = std::make_unique<ServerProcess>(dir_ + "/data", config());
    ASSERT_TRUE(server_->Start()) << server_->log_text();
  }
  void TearDown() override {
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    RemoveTree(dir_);
  }
  virtual std::string config() { return kSmallConfig; }
  HttpResult Post(const std::string& body, std::vector<std::string> headers = {}) {
    return HttpPost(server_->url() + "/v1/events", body, headers);
  }
  // A raw TCP connection to the server, for requests curl would not send; -1 on failure.
  int ConnectRaw() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  // Sends `s` until done or the connection fails; returns the bytes sent.
  static size_t SendAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    return off;
  }
  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(IngestHttpTest, SingleObject) {
  auto r = Post(R"({"event_id":"a1","type":"click","timestamp":"2026-01-02T03:04:05Z"})");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":1,"duplicates":0,"errors":[]})");
}

// One keep-alive connection, raw: a chunked body (no length up front) in uneven chunks, a
// large body with a length, then a small one. The server reserves its read buffer by the
// body's size or for chunking (http_server.cc); every answer must still be whole and right.
std::string ReadResponse(int fd, std::string* pending) {
  while (true) {
    size_t head_end = pending->find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t cl = pending->find("Content-Length: ");
      size_t len = cl == std::string::npos || cl > head_end
                       ? 0
                       : std::stoul(pending->substr(cl + 16, pending->find("\r\n", cl) - cl - 16));
      if (pending->size() >= head_end + 4 + len) {
        std::string res = pending->substr(0, head_end + 4 + len);
        pending->erase(0, head_end + 4 + len);
        return res;
      }
    }
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    pending->append(buf, static_cast<size_t>(n));
  }
}

TEST_F(IngestHttpTest, ChunkedAndLargeBodiesOnOneConnection) {
  auto ndjson = [](const std::string& prefix, int n) {
    std::string body;
    for (int i = 0; i < n; ++i) {
      body += "{\"event_id\":\"" + prefix + std::to_string(i) +
              "\",\"type\":\"t\",\"properties\":{\"pad\":\"" + std::string(100, 'x') + "\"}}\n";
    }
    return body;
  };
  int fd = ConnectRaw();
  ASSERT_GE(fd, 0);
  auto send_all = [&](const std::string& s) { ASSERT_EQ(SendAll(fd, s), s.size()); };
  auto hex = [](size_t n) {
    char b[32];
    std::snprintf(b, sizeof b, "%zx", n);
    return std::string(b);
  };
  const std::string chunked_body = ndjson("ch", 1500);  // ~200 KB
  std::string req =
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0, i = 0; off < chunked_body.size(); ++i) {
    const size_t sizes[] = {1, 70000, 333, 100000};
    const size_t n = std::min(sizes[i % 4], chunked_body.size() - off);
    req += hex(n) + "\r\n" + chunked_body.substr(off, n) + "\r\n";
    off += n;
  }
  req += "0\r\n\r\n";
  const std::string large = ndjson("cl", 1200);
  req +=
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
      "Content-Length: " +
      std::to_string(large.size()) + "\r\n\r\n" + large;
  const std::string small = R"({"event_id":"s1","type":"t"})";
  req += "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(small.size()) +
         "\r\n\r\n" + small;
  send_all(req);
  std::string pending;
  const std::string r1 = ReadResponse(fd, &pending);
  const std::string r2 = ReadResponse(fd, &pending);
  const std::string r3 = ReadResponse(fd, &pending);
  ::close(fd);
  EXPECT_NE(r1.find("202 Accepted"), std::string::npos) << r1;
  EXPECT_NE(r1.find(R"({"accepted":1500,"duplicates":0,"errors":[]})"), std::string::npos) << r1;
  EXPECT_NE(r2.find(R"({"accepted":1200,"duplicates":0,"errors":[]})"), std::string::npos) << r2;
  EXPECT_NE(r3.find(R"({"accepted":1,"duplicates":0,"errors":[]})"), std::string::npos) << r3;
}

TEST_F(IngestHttpTest, JsonArray) {
  auto r =
      Post(R"([{"id":"b1","event":"x"},{"messageId":"b2","name":"y"},{"uuid":"b3","type":"z"}])");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":3,"duplicates":0,"errors":[]})");
}

TEST_F(IngestHttpTest, Ndjson) {
  auto r = Post("{\"event_id\":\"c1\",\"type\":\"a\"}\n\n{\"event_id\":\"c2\",\"type\":\"a\"}\r\n",
                {"Content-Type: application/x-ndjson"});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":0,"errors":[]})");
}

TEST_F(IngestHttpTest, NdjsonWithoutContentTypeIsDetected) {
  auto r = Post("{\"event_id\":\"d1\",\"type\":\"a\"}\n{\"event_id\":\"d2\",\"type\":\"a\"}\n");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":0,"errors":[]})");
}

TEST_F(IngestHttpTest, GzipAndZstdBodies) {
  std::string body = "{\"event_id\":\"g1\",\"type\":\"a\"}\n{\"event_id\":\"g2\",\"type\":\"a\"}\n";
  auto r = Post(Gzip(body), {"Content-Encoding: gzip", "Content-Type: application/x-ndjson"});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":0,"errors":[]})");
  std::string body2 = R"([{"event_id":"z1","type":"a"},{"event_id":"g1","type":"a"}])";
  r = Post(Zstd(body2), {"Content-Encoding: zstd"});
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.body, R"({"accepted":1,"duplicates":1,"errors":[]})");
}

TEST_F(IngestHttpTest, CorruptCompressedBodyIs400) {
  auto r = Post("definitely not gzip", {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("gzip"), std::string::npos) << r.body;
  r = Post("x", {"Content-Encoding: br"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Content-Encoding"), std::string::npos) << r.body;
}

TEST_F(IngestHttpTest, PerEventErrorsKeepValidEvents) {
  auto r =
      Post(R"([{"event_id":"e1","type":"ok"},{"event_id":"e2"},)"
           R"({"event_id":"e3","type":"ok","timestamp":"2026-13-01T00:00:00Z"},)"
           R"({"event_id":"e4","type":"ok","properties":[1]},42,{"event_id":"e5","type":"ok"}])");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("accepted":2)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"index":1,)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"index":2,)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"index":3,)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"index":4,)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"({"index":0,)"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(R"({"index":5,)"), std::string::npos) << r.body;
  // The valid ones are stored: resending them finds duplicates.
  r = Post(R"([{"event_id":"e1","type":"ok"},{"event_id":"e5","type":"ok"}])");
  EXPECT_EQ(r.body, R"({"accepted":0,"duplicates":2,"errors":[]})");
}

TEST_F(IngestHttpTest, NothingValidIs400WithErrors) {
  auto r = Post(R"([{"event_id":"f1"},{"type":""}])");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("index":0)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("index":1)"), std::string::npos) << r.body;
}

TEST_F(IngestHttpTest, MalformedJsonIs400) {
  auto r = Post(R"({"event_id": "x", "type": )");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind("{\"error\":", 0), 0u) << r.body;
  r = Post("");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Post("42");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(IngestHttpTest, WrongMethodAndUnknownRoute) {
  // GET /v1/events is the search (search_test.cc); a POST where GET is meant is a 405.
  EXPECT_EQ(HttpPost(server_->url() + "/v1/admin/event-ids", "").status, 405);
  EXPECT_EQ(HttpGet(server_->url() + "/nope").status, 404);
}

TEST_F(IngestHttpTest, DuplicatesWithinAndAcrossBatches) {
  auto r = Post(
      R"([{"event_id":"h1","type":"a"},{"event_id":"h1","type":"a"},{"event_id":"h2","type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":1,"errors":[]})");
  r = Post(R"([{"event_id":"h2","type":"a"},{"event_id":"h3","type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":1,"duplicates":1,"errors":[]})");
}

TEST_F(IngestHttpTest, MissingIdsAreAssignedNotDeduped) {
  auto r = Post(R"([{"type":"a"},{"type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":0,"errors":[]})");
  r = Post(R"([{"type":"a"},{"type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":2,"duplicates":0,"errors":[]})");
}

TEST_F(IngestHttpTest, DedupeSurvivesRestart) {
  auto r = Post(R"([{"event_id":"r1","type":"a"},{"event_id":"r2","type":"a"}])");
  ASSERT_EQ(r.status, 202);
  ASSERT_EQ(server_->Stop(), 0) << server_->log_text();
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  r = Post(R"([{"event_id":"r1","type":"a"},{"event_id":"r3","type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":1,"duplicates":1,"errors":[]})");
  // And after a crash (no final snapshot: the log replay must rebuild the index).
  server_->Kill();
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  r = Post(
      R"([{"event_id":"r1","type":"a"},{"event_id":"r3","type":"a"},{"event_id":"r2","type":"a"}])");
  EXPECT_EQ(r.body, R"({"accepted":0,"duplicates":3,"errors":[]})");
}

TEST_F(IngestHttpTest, HealthReadyAndMetrics) {
  EXPECT_EQ(HttpGet(server_->url() + "/healthz").status, 200);
  EXPECT_EQ(HttpGet(server_->url() + "/readyz").status, 200);
  Post(R"([{"event_id":"m1","type":"a"},{"event_id":"m1","type":"a"},{"type":""}])");
  auto m = HttpGet(server_->url() + "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("sluice_events_accepted_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("sluice_events_duplicate_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("sluice_events_rejected_total 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("sluice_ack_latency_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("sluice_http_requests_total{route=\"/v1/events\",code=\"202\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("sluice_log_fsyncs_total"), std::string::npos);
  EXPECT_NE(m.body.find("sluice_log_bytes"), std::string::npos);
}

class LimitsTest : public IngestHttpTest {
  std::string config() override {
    return std::string(kSmallConfig) +
           "[ingest]\nmax_request_bytes = 4096\nmax_event_bytes = 512\n";
  }
};

TEST_F(LimitsTest, RequestTooLargeIs413) {
  std::string big = "[" + std::string(5000, ' ') + "]";
  auto r = Post(big);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_NE(r.body.find("4096"), std::string::npos) << r.body;
}

TEST_F(LimitsTest, DecompressedTooLargeIs413) {
  std::string body = "[" + std::string(100000, ' ') + "]";
  std::string gz = Gzip(body);
  ASSERT_LT(gz.size(), 4096u);
  auto r = Post(gz, {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 413) << r.body;
}

TEST_F(LimitsTest, EventTooLargeIsPerEventError) {
  std::string big =
      R"({"event_id":"big","type":"a","properties":{"p":")" + std::string(600, 'x') + "\"}}";
  auto r = Post("[" + big + R"(,{"event_id":"small","type":"a"}])");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find(R"("accepted":1)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("index":0)"), std::string::npos) << r.body;
}

class DiskPressureTest : public IngestHttpTest {
  std::string config() override {
    return std::string(kSmallConfig) + "[log]\nmin_free_disk_bytes = 1125899906842624\n";
  }
};

TEST_F(DiskPressureTest, NearlyFullDiskIs503WithRetryAfter) {
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // first disk probe
  auto r = Post(R"({"event_id":"p1","type":"a"})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.headers.find("Retry-After: 1"), std::string::npos) << r.headers;
  EXPECT_NE(r.body.find("free disk"), std::string::npos) << r.body;
  EXPECT_EQ(HttpGet(server_->url() + "/readyz").status, 503);
}

class MemoryBudgetTest : public IngestHttpTest {
  std::string config() override {
    return std::string(kSmallConfig) +
           "[ingest]\nmax_request_bytes = 4194304\nmax_inflight_bytes = 1048576\n";
  }
};

// A body is admitted only if it fits the in-memory budget; the check happens on the
// header, before the body is read, so memory stays bounded by configuration (SPEC §1.6).
TEST_F(MemoryBudgetTest, BodyOverTheMemoryBudgetIs503BeforeReading) {
  std::string body;
  for (int i = 0; body.size() < (2u << 20); ++i) {
    body += R"({"event_id":"mb)" + std::to_string(i) +
            R"(","type":"a"})"
            "\n";
  }
  auto r = Post(body, {"Content-Type: application/x-ndjson"});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.headers.find("Retry-After"), std::string::npos) << r.headers;
  // Within the budget the same server accepts.
  EXPECT_EQ(Post(R"({"event_id":"small","type":"a"})").status, 202);
}

// A client that sends its whole body without waiting for 100-continue still reads the
// 503: the server drains what it refused unread instead of closing on it, which would
// reset the connection and throw the answer away in the client's receive buffer.
TEST_F(MemoryBudgetTest, RefusedBodySentAnywayStillGetsThe503) {
  int fd = ConnectRaw();
  ASSERT_GE(fd, 0);
  const size_t len = 3u << 20;  // over max_inflight_bytes, under max_request_bytes
  std::string req =
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
      "Content-Length: " +
      std::to_string(len) + "\r\n\r\n";
  req.append(len, '\n');
  const size_t sent = SendAll(fd, req);
  // Give the server time to answer and close while the body's tail is still in flight.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(sent, req.size()) << "the server stopped taking the body";
  EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
  EXPECT_NE(got.find("Retry-After"), std::string::npos) << got;
}

class BacklogPressureTest : public IngestHttpTest {
  // No store consumer and a slow dedupe snapshot: the log backlog grows until the limit,
  // then the next snapshot releases it.
  std::string config() override {
    return "[dedupe]\ncapacity_slots = 65536\nsnapshot_seconds = 3\n[store]\nenabled = false\n"
           "[log]\nmax_unconsumed_bytes = 1048576\n";
  }
};

TEST_F(BacklogPressureTest, UnconsumedLogIs503ThenRecovers) {
  std::string batch;
  int seq = 0;
  bool saw_503 = false;
  for (int i = 0; i < 200 && !saw_503; ++i) {
    batch.clear();
    for (int k = 0; k < 100; ++k) {
      batch += R"({"event_id":"bp)" + std::to_string(seq++) +
               R"(","type":"a","properties":{"pad":")" + std::string(100, 'x') + "\"}}\n";
    }
    auto r = Post(batch, {"Content-Type: application/x-ndjson"});
    if (r.status == 503) {
      saw_503 = true;
      EXPECT_NE(r.headers.find("Retry-After"), std::string::npos);
      EXPECT_NE(r.body.find("not yet stored"), std::string::npos) << r.body;
    } else {
      ASSERT_EQ(r.status, 202) << r.body;
    }
  }
  ASSERT_TRUE(saw_503);
  // Recovers by itself once the snapshot moves the consumer offset.
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    recovered = Post(R"({"event_id":"after","type":"a"})").status == 202;
  }
  EXPECT_TRUE(recovered);
}

}  // namespace
}  // namespace sluice::test
