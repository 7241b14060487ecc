// The cost of schema validation inside the parser (SPEC §7; issue target: <= 15% of ingest):
// the same 500-event NDJSON body (20 properties per event, all conforming), parsed with no
// schema and with a 20-property schema on its type. The ratio of the two is what
// validation adds to ParseBody; bench/tenancy.sh measures it end to end over HTTP.
#include <benchmark/benchmark.h>

#include <string>

#include "ingest/envelope_parser.h"
#include "ingest/json_schema.h"

namespace sluice {
namespace {

std::string Body() {
  std::string body;
  for (int i = 0; i < 500; ++i) {
    body += R"({"event_id":"e-)" + std::to_string(i) +
            R"(","type":"purchase","timestamp":"2026-11-25T10:00:00Z","user_id":"u-)" +
            std::to_string(i % 97) + R"(","properties":{"path":"/pricing","plan":"pro","value":)" +
            std::to_string(i % 1000);
    for (int p = 0; p < 16; ++p) {
      body += ",\"p" + std::to_string(p) + "\":" +
              (p % 2 == 0 ? std::to_string((i + p) % 100) : "\"v" + std::to_string(p) + "\"");
    }
    body += R"(,"pad":"xxxxxxxxxxxxxxxx"}})"
            "\n";
  }
  return body;
}

JsonSchema Schema() {
  std::string s = R"({"type":"object","required":["path","plan","value"],
    "properties":{"path":{"type":"string","minLength":1,"maxLength":200},
    "plan":{"enum":["free","pro","team"]},"value":{"type":"integer","minimum":0,"maximum":100000},
    "pad":{"type":"string"})";
  for (int p = 0; p < 16; ++p) {
    s += ",\"p" + std::to_string(p) + "\":" +
         (p % 2 == 0 ? R"({"type":"integer","minimum":0})" : R"({"type":"string","maxLength":64})");
  }
  auto schema = JsonSchema::Parse(s + "}}");
  return schema.ok() ? *schema : JsonSchema();
}

void BM_ParseBody(benchmark::State& state, bool with_schema) {
  const std::string body = Body();
  SchemaMap schemas;
  schemas["purchase"] = TypeSchema{1, Schema()};
  ParseContext ctx;
  ctx.received_at_us = 1764064800000000;
  if (with_schema) ctx.schemas = &schemas;
  ParsedBody out;
  for (auto _ : state) {
    Status s = ParseBody(body, BodyFormat::kNdjson, ctx, &out);
    if (!s.ok() || out.events.size() != 500) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(out.events.data());
  }
  state.SetItemsProcessed(state.iterations() * 500);
}
BENCHMARK_CAPTURE(BM_ParseBody, no_schema, false);
BENCHMARK_CAPTURE(BM_ParseBody, schema_20_properties, true);

}  // namespace
}  // namespace sluice
