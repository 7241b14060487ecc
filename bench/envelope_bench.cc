// Envelope parsing throughput: the ingest path must sustain >= 1.5M events/s per core for
// ~230-byte events (SPEC §1 freshness at 1M events/s on 2 cores, with room for the rest).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <string>

#include "common/status.h"
#include "ingest/envelope_parser.h"
#include "ingest/event_codec.h"
#include "ingest/timestamp.h"

namespace sluice {
namespace {

// A typical 230-byte tracked event; ids and amounts vary so nothing is trivially repeated.
std::string MakeEvent(int i) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"event_id\":\"0192f0a4-7b1c-7d3e-8f00-%012d\",\"type\":\"page_view\","
                "\"timestamp\":\"2024-05-01T12:34:%02d.%03dZ\",\"user_id\":\"user_%05d\","
                "\"properties\":{\"path\":\"/pricing\",\"referrer\":\"https://www.google.com/\","
                "\"plan\":\"pro\",\"amount\":%d.%02d}}",
                i, i % 60, i % 1000, i % 100000, 10 + i % 90, i % 100);
  return buf;
}

constexpr int kBatch = 1000;

std::string NdjsonBody() {
  std::string body;
  for (int i = 0; i < kBatch; ++i) body += MakeEvent(i) + "\n";
  return body;
}

std::string ArrayBody() {
  std::string body = "[";
  for (int i = 0; i < kBatch; ++i) body += (i ? "," : "") + MakeEvent(i);
  return body + "]";
}

void RunParse(benchmark::State& state, const std::string& body, BodyFormat format) {
  ParseContext ctx;
  ctx.received_at_us = 1714566896000000;
  ParsedBody out;
  for (auto _ : state) {
    Status st = ParseBody(body, format, ctx, &out);
    if (!st.ok() || out.events.size() != out.total) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(out.events.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(out.total));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_ParseNdjson(benchmark::State& state) { RunParse(state, NdjsonBody(), BodyFormat::kNdjson); }
BENCHMARK(BM_ParseNdjson);

void BM_ParseNdjsonAuto(benchmark::State& state) {
  RunParse(state, NdjsonBody(), BodyFormat::kAuto);
}
BENCHMARK(BM_ParseNdjsonAuto);

// Large enough that the per-element sizing pass runs (body > max_event_bytes).
void BM_ParseArray(benchmark::State& state) { RunParse(state, ArrayBody(), BodyFormat::kAuto); }
BENCHMARK(BM_ParseArray);

void BM_ParseSingleObject(benchmark::State& state) {
  RunParse(state, MakeEvent(42), BodyFormat::kAuto);
}
BENCHMARK(BM_ParseSingleObject);

// simdjson's DOM parse of the same body and nothing else: no envelope, no copies out. It is
// the part of ParseBody no envelope code can remove, so it bounds how fast any parser built
// on simdjson's DOM can go (issue 2's "2x DuckDB" budget, bench/README "Session 22").
void BM_SimdjsonDomOnly(benchmark::State& state) {
  const std::string body = NdjsonBody();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  size_t docs = 0;
  for (auto _ : state) {
    docs = 0;
    for (simdjson::dom::element doc : parser.parse_many(padded)) {
      benchmark::DoNotOptimize(doc);
      ++docs;
    }
  }
  if (docs != kBatch) state.SkipWithError("parse failed");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(docs));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SimdjsonDomOnly);

void BM_ParseTimestampString(benchmark::State& state) {
  const std::string s = "2024-05-01T18:04:56.789123+05:30";
  for (auto _ : state) {
    Result<int64_t> r = ParseTimestampString(s);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTimestampString);

void BM_EncodeDecodeBatch(benchmark::State& state) {
  ParseContext ctx;
  ParsedBody parsed;
  if (!ParseBody(NdjsonBody(), BodyFormat::kNdjson, ctx, &parsed).ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  Event e;
  Status st;
  for (auto _ : state) {
    EventBatchWriter w;
    for (const Event& ev : parsed.events) w.Add(ev);
    const std::string payload = w.Finish();
    EventBatchReader r(payload);
    while (r.Next(&e, &st)) benchmark::DoNotOptimize(e.ts_us);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(parsed.events.size()));
}
BENCHMARK(BM_EncodeDecodeBatch);

}  // namespace
}  // namespace sluice
