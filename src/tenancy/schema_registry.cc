#include "tenancy/schema_registry.h"

#include <simdjson.h>

#include <filesystem>

#include "common/clock.h"
#include "common/json_text.h"
#include "log/log_files.h"

namespace sluice {

Result<std::unique_ptr<SchemaRegistry>> SchemaRegistry::Open(std::string path) {
  std::unique_ptr<SchemaRegistry> r(new SchemaRegistry(std::move(path)));
  SLUICE_RETURN_IF_ERROR(r->Load());
  return r;
}

Status SchemaRegistry::Load() {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return Status::OK();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(path_).get(doc)) {
    return Status::Corruption(path_ + ": not valid JSON: " + simdjson::error_message(err));
  }
  simdjson::dom::array list;
  if (doc["schemas"].get(list)) return Status::Corruption(path_ + ": expected a \"schemas\" list");
  std::unique_lock lock(mu_);
  for (simdjson::dom::element e : list) {
    SchemaVersionInfo v;
    std::string_view s;
    int64_t n;
    if (e["tenant"].get(s)) return Status::Corruption(path_ + ": a schema without a tenant");
    v.tenant = std::string(s);
    if (e["type"].get(s)) return Status::Corruption(path_ + ": a schema without a type");
    v.type = std::string(s);
    if (e["version"].get(n)) return Status::Corruption(path_ + ": a schema without a version");
    v.version = static_cast<int>(n);
    if (e["schema"].get(s)) return Status::Corruption(path_ + ": a schema without its text");
    v.text = std::string(s);
    if (!e["created_at_us"].get(n)) v.created_at_us = n;
    auto parsed = JsonSchema::Parse(v.text);
    if (!parsed.ok()) {
      return Status::Corruption(path_ + ": " + v.tenant + "/" + v.type + " v" +
                                std::to_string(v.version) + ": " + parsed.status().message());
    }
    versions_.push_back(std::move(v));
  }
  std::vector<std::string> tenants;
  for (const auto& v : versions_) tenants.push_back(v.tenant);
  for (const auto& t : tenants) Rebuild(t);
  return Status::OK();
}

void SchemaRegistry::Rebuild(const std::string& tenant) {
  auto map = std::make_shared<SchemaMap>();
  for (const SchemaVersionInfo& v : versions_) {
    if (v.tenant != tenant) continue;
    auto parsed = JsonSchema::Parse(v.text);  // validated when added or loaded
    if (parsed.ok()) (*map)[v.type] = TypeSchema{v.version, std::move(*parsed)};
  }
  latest_[tenant] = std::move(map);
}

Status SchemaRegistry::Save(const std::vector<SchemaVersionInfo>& all) const {
  std::string out = "{\"format\":1,\"schemas\":[";
  for (size_t i = 0; i < all.size(); ++i) {
    const SchemaVersionInfo& v = all[i];
    if (i) out += ',';
    out += "\n{\"tenant\":";
    AppendJsonString(&out, v.tenant);
    out += ",\"type\":";
    AppendJsonString(&out, v.type);
    out += ",\"version\":" + std::to_string(v.version) +
           ",\"created_at_us\":" + std::to_string(v.created_at_us) + ",\"schema\":";
    AppendJsonString(&out, v.text);
    out += '}';
  }
  out += "]}\n";
  return WriteFileAtomic(path_, out);
}

Result<SchemaVersionInfo> SchemaRegistry::AddVersion(const std::string& tenant,
                                                     const std::string& type,
                                                     std::string_view schema_text) {
  if (type.empty() || type.size() > 256) {
    return Status::InvalidArgument("an event type of 1 to 256 bytes is required");
  }
  auto parsed = JsonSchema::Parse(schema_text);
  if (!parsed.ok()) return parsed.status();
  std::string minified;
  {
    simdjson::dom::parser p;
    minified = simdjson::minify(p.parse(schema_text.data(), schema_text.size()).value());
  }
  std::unique_lock lock(mu_);
  const SchemaVersionInfo* latest = nullptr;
  for (const SchemaVersionInfo& v : versions_) {
    if (v.tenant == tenant && v.type == type) latest = &v;
  }
  if (latest != nullptr) {
    auto prev = JsonSchema::Parse(latest->text);
    if (prev.ok()) {
      std::string why = prev->IncompatibilityWith(*parsed);
      if (!why.empty()) {
        return Status::InvalidArgument("incompatible with v" + std::to_string(latest->version) +
                                       ": " + why);
      }
    }
  }
  SchemaVersionInfo v{tenant, type, latest ? latest->version + 1 : 1, minified, NowMicros()};
  std::vector<SchemaVersionInfo> next = versions_;
  next.push_back(v);
  SLUICE_RETURN_IF_ERROR(Save(next));
  versions_ = std::move(next);
  Rebuild(tenant);
  return v;
}

std::vector<SchemaVersionInfo> SchemaRegistry::List(const std::string& tenant,
                                                    std::string_view type) const {
  std::shared_lock lock(mu_);
  std::vector<SchemaVersionInfo> out;
  for (const SchemaVersionInfo& v : versions_) {
    if (v.tenant == tenant && (type.empty() || v.type == type)) out.push_back(v);
  }
  return out;
}

std::shared_ptr<const SchemaMap> SchemaRegistry::SchemasFor(const std::string& tenant) const {
  std::shared_lock lock(mu_);
  auto it = latest_.find(tenant);
  if (it == latest_.end() || it->second->empty()) return nullptr;
  return it->second;
}

}  // namespace sluice
