// Any schema text and any properties document: parsing a schema refuses with
// InvalidArgument or succeeds; validation never crashes; a schema is always compatible with
// itself (the compatibility rule must not refuse a no-op change); and the envelope parser
// with that schema applied keeps every element accounted for (stored, refused or errored).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "ingest/envelope_parser.h"
#include "ingest/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // "<schema>\n---\n<body>": split on the first separator (all schema when absent).
  const size_t sep = in.find("\n---\n");
  const std::string_view schema_text = in.substr(0, sep);
  const std::string_view body = sep == std::string_view::npos ? "" : in.substr(sep + 5);
  auto schema = sluice::JsonSchema::Parse(schema_text);
  if (!schema.ok()) {
    if (schema.status().code() != sluice::Status::Code::kInvalidArgument) abort();
    return 0;
  }
  if (!schema->IncompatibilityWith(*schema).empty()) abort();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS) {
    (void)schema->Validate(doc);
  }
  sluice::SchemaMap schemas;
  schemas["t"] = sluice::TypeSchema{1, *schema};
  sluice::ParseContext ctx;
  ctx.received_at_us = 1700000000000000;
  ctx.schemas = &schemas;
  sluice::ParsedBody parsed;
  if (sluice::ParseBody(body, sluice::BodyFormat::kAuto, ctx, &parsed).ok()) {
    if (parsed.events.size() + parsed.errors.size() != parsed.total) abort();
    for (const auto& r : parsed.rejected) {
      if (r.event.type != "t" || r.error.empty()) abort();
    }
  }
  return 0;
}
