// EntityTable codec (entity_state.h):
// {"e":{"id":["version",first_us,last_us,stale01,versions],...}}. Entries without the
// fifth element (tables from before it) still decode, with versions = 0.
#include "sources/entity_state.h"

#include <simdjson.h>

#include <ctime>

#include "sources/record_extractor.h"

namespace sluice {

std::string EncodeEntityTable(const EntityTable& t) {
  std::string out = "{\"e\":{";
  bool first = true;
  for (const auto& [id, s] : t) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(&out, id);
    out += ":[";
    AppendJsonString(&out, s.version);
    out += ',' + std::to_string(s.first_seen_us) + ',' + std::to_string(s.last_seen_us) + ',' +
           (s.stale ? "1" : "0") + ',' + std::to_string(s.versions) + ']';
  }
  out += "}}";
  return out;
}

Status DecodeEntityTable(const std::string& checkpoint, EntityTable* t) {
  t->clear();
  if (checkpoint.empty()) return Status::OK();
  simdjson::dom::parser parser;
  simdjson::dom::object entities;
  if (parser.parse(checkpoint)["e"].get_object().get(entities)) {
    return Status::InvalidArgument("snapshot checkpoint is not an entity table");
  }
  for (auto [id, v] : entities) {
    simdjson::dom::array a;
    std::string_view version;
    int64_t first, last, stale;
    uint64_t versions = 0;
    if (v.get_array().get(a) || (a.size() != 4 && a.size() != 5) ||
        a.at(0).get_string().get(version) || a.at(1).get_int64().get(first) ||
        a.at(2).get_int64().get(last) || a.at(3).get_int64().get(stale) ||
        (a.size() == 5 && a.at(4).get_uint64().get(versions))) {
      return Status::InvalidArgument("snapshot checkpoint: bad entry for " + std::string(id));
    }
    (*t)[std::string(id)] = EntityState{std::string(version), first, last, stale != 0, versions};
  }
  return Status::OK();
}

namespace {

std::string Rfc3339(int64_t us) {
  time_t s = static_cast<time_t>(us / 1000000);
  struct tm tm {};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

}  // namespace

std::string EntitiesJson(const EntityTable& t, bool current_only) {
  std::string out = "[";
  bool first = true;
  for (const auto& [id, s] : t) {
    if (current_only && s.stale) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    AppendJsonString(&out, id);
    out += ",\"version\":";
    AppendJsonString(&out, s.version);
    out += ",\"versions\":" + std::to_string(s.versions);
    out += ",\"first_seen\":\"" + Rfc3339(s.first_seen_us) + "\",\"last_seen_at\":\"" +
           Rfc3339(s.last_seen_us) + "\",\"stale\":" + (s.stale ? "true" : "false") + "}";
  }
  out += "]";
  return out;
}

}  // namespace sluice
