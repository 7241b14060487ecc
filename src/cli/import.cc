// `sluice import FILE...`: NDJSON or a JSON array, from files or stdin, through the same
// path as HTTP push (ParseBody -> Ingestor -> Log), so dedupe and durability are the same.
//
// NDJSON is read in batches of whole lines (constant memory); a JSON array is parsed whole
// (it has no cheaper boundary). Without --url the data dir is opened directly (no server
// may hold it) and the store is brought up to date at the end, so the events are
// queryable; with --url batches are POSTed to a running server.
#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/parquet_import.h"
#include "cli/progress.h"
#include "cli/server_client.h"
#include "common/clock.h"
#include "ingest/envelope_parser.h"
#include "server/engine.h"

namespace sluice {

namespace {

struct Totals {
  uint64_t elements = 0, accepted = 0, duplicates = 0, errors = 0;
};

// Where batches go: the local engine, or a server over HTTP.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual Status Send(std::string_view body, bool ndjson, uint64_t first_index, Totals* t) = 0;
  virtual Status Finish() = 0;
};

constexpr size_t kMaxShownErrors = 10;

void ShowError(Totals* t, uint64_t index, const std::string& error) {
  if (t->errors < kMaxShownErrors) {
    std::fprintf(stderr, "\rsluice import: event %llu: %s\n",
                 static_cast<unsigned long long>(index), error.c_str());
  }
  ++t->errors;
}

class EngineSink : public BatchSink {
 public:
  explicit EngineSink(Engine* engine) : engine_(engine) {}
  Status Send(std::string_view body, bool ndjson, uint64_t first_index, Totals* t) override {
    ParseContext ctx;
    ctx.source = "import";
    ctx.received_at_us = NowMicros();
    ctx.limits.max_events_per_request = SIZE_MAX;
    ParsedBody parsed;
    SLUICE_RETURN_IF_ERROR(
        ParseBody(body, ndjson ? BodyFormat::kNdjson : BodyFormat::kJson, ctx, &parsed));
    t->elements += parsed.total;
    for (const auto& e : parsed.errors) ShowError(t, first_index + e.index, e.error);
    if (parsed.events.empty()) return Status::OK();
    auto r = engine_->ingestor()->Submit(&parsed.events);
    while (!r.ok() && r.status().code() == Status::Code::kUnavailable) {
      // The log's pending tail is full: let the commit thread catch up.
      SLUICE_RETURN_IF_ERROR(engine_->log()->WaitDurable(engine_->log()->end_offset()));
      r = engine_->ingestor()->Submit(&parsed.events);
    }
    if (!r.ok()) return r.status();
    t->accepted += r->accepted;
    t->duplicates += r->duplicates;
    last_offset_ = r->wait_offset;
    return Status::OK();
  }
  Status Finish() override {
    SLUICE_RETURN_IF_ERROR(engine_->log()->WaitDurable(last_offset_));
    return engine_->DrainToStore();
  }

 private:
  Engine* engine_;
  uint64_t last_offset_ = 0;
};

size_t CollectBody(char* ptr, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(ptr, size * n);
  return size * n;
}

// Pulls a small integer field out of the server's JSON reply.
uint64_t JsonCount(const std::string& body, const char* key) {
  std::string k = std::string("\"") + key + "\":";
  auto p = body.find(k);
  return p == std::string::npos ? 0 : std::strtoull(body.c_str() + p + k.size(), nullptr, 10);
}

class HttpSink : public BatchSink {
 public:
  explicit HttpSink(std::string url) : url_(std::move(url)) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
    url_ += "/v1/events";
    curl_ = curl_easy_init();
  }
  ~HttpSink() override { curl_easy_cleanup(curl_); }
  Status Send(std::string_view body, bool ndjson, uint64_t first_index, Totals* t) override {
    for (int attempt = 0;; ++attempt) {
      std::string reply;
      struct curl_slist* headers = nullptr;
      headers = curl_slist_append(headers, ndjson ? "Content-Type: application/x-ndjson"
                                                  : "Content-Type: application/json");
      headers = AppendAuthHeader(headers);
      curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, CollectBody);
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply);
      CURLcode rc = curl_easy_perform(curl_);
      curl_slist_free_all(headers);
      long status = 0;
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
      if (rc == CURLE_OK && status == 202) {
        t->accepted += JsonCount(reply, "accepted");
        t->duplicates += JsonCount(reply, "duplicates");
        uint64_t errs = 0;
        for (size_t p = reply.find("\"index\":"); p != std::string::npos;
             p = reply.find("\"index\":", p + 1)) {
          ++errs;
        }
        t->errors += errs;
        t->elements += JsonCount(reply, "accepted") + JsonCount(reply, "duplicates") + errs;
        return Status::OK();
      }
      // Retries are safe: dedupe makes a resent batch harmless.
      bool retry = rc != CURLE_OK || status == 503 || status == 429 || status >= 500;
      if (!retry || attempt >= 20) {
        return Status::Unavailable("server answered " + std::to_string(status) + ": " +
                                   (rc != CURLE_OK ? curl_easy_strerror(rc) : reply));
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(2000, 50 << std::min(attempt, 6))));
    }
  }
  Status Finish() override { return Status::OK(); }

 private:
  std::string url_;
  CURL* curl_;
};

Status ImportStream(std::istream& in, const ImportFlags& flags, BatchSink* sink, Totals* t,
                    Progress* progress) {
  // Sniff the first non-blank byte: '[' means one JSON array, anything else NDJSON.
  int c;
  while ((c = in.peek()) != EOF && std::isspace(c)) in.get();
  if (c == EOF) return Status::OK();
  if (c == '[') {
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    progress->Add(all.size());
    return sink->Send(all, /*ndjson=*/false, t->elements, t);
  }
  std::string buf;
  std::string carry;
  std::vector<char> chunk(flags.batch_bytes);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    progress->Add(n);
    buf = std::move(carry);
    carry.clear();
    buf.append(chunk.data(), n);
    size_t last_nl = buf.rfind('\n');
    if (last_nl == std::string::npos) {
      carry = std::move(buf);
      continue;
    }
    carry.assign(buf, last_nl + 1, std::string::npos);
    buf.resize(last_nl + 1);
    SLUICE_RETURN_IF_ERROR(sink->Send(buf, true, t->elements, t));
    progress->SetEvents(t->elements);
  }
  if (!carry.empty()) SLUICE_RETURN_IF_ERROR(sink->Send(carry, true, t->elements, t));
  return Status::OK();
}

}  // namespace

int RunImport(const Config& config, const ImportFlags& flags) {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<BatchSink> sink;
  if (flags.url.empty()) {
    auto e = Engine::Open(config, /*start_consumer=*/false);
    if (!e.ok()) {
      std::fprintf(stderr, "sluice import: %s\n", e.status().message().c_str());
      return 1;
    }
    engine = std::move(*e);
    sink = std::make_unique<EngineSink>(engine.get());
  } else {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sink = std::make_unique<HttpSink>(flags.url);
  }
  Totals t;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& file : flags.files) {
    std::ifstream f;
    std::istream* in = &std::cin;
    uint64_t size = 0;
    if (file != "-") {
      f.open(file, std::ios::binary);
      if (!f) {
        std::fprintf(stderr, "sluice import: cannot open %s: %s\n", file.c_str(),
                     std::strerror(errno));
        return 1;
      }
      f.seekg(0, std::ios::end);
      size = static_cast<uint64_t>(f.tellg());
      f.seekg(0);
      in = &f;
    }
    Progress progress(file == "-" ? "stdin" : file, size, !flags.no_progress);
    Status s;
    if (file != "-" && IsParquetFile(file)) {
      s = ReadParquetAsNdjson(file, flags.batch_bytes, [&](std::string_view ndjson) {
        SLUICE_RETURN_IF_ERROR(sink->Send(ndjson, /*ndjson=*/true, t.elements, &t));
        progress.SetEvents(t.elements);
        return Status::OK();
      });
      progress.Add(size);
    } else {
      s = ImportStream(*in, flags, sink.get(), &t, &progress);
    }
    progress.SetEvents(t.elements);
    progress.Done();
    if (!s.ok()) {
      std::fprintf(stderr, "sluice import: %s: %s\n", file.c_str(), s.message().c_str());
      return 1;
    }
  }
  Status s = sink->Finish();
  if (s.ok() && engine) s = engine->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "sluice import: %s\n", s.message().c_str());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (t.errors > kMaxShownErrors) {
    std::fprintf(stderr, "sluice import: ... and %llu more errors\n",
                 static_cast<unsigned long long>(t.errors - kMaxShownErrors));
  }
  std::fprintf(
      stderr,
      "imported %llu events: %llu new, %llu duplicates, %llu invalid in %.2fs "
      "(%.0f events/s)\n",
      static_cast<unsigned long long>(t.elements), static_cast<unsigned long long>(t.accepted),
      static_cast<unsigned long long>(t.duplicates), static_cast<unsigned long long>(t.errors),
      secs, secs > 0 ? static_cast<double>(t.elements) / secs : 0.0);
  return t.errors > 0 && t.accepted + t.duplicates == 0 ? 1 : 0;
}

}  // namespace sluice
