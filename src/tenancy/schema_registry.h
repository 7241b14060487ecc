// SchemaRegistry: per tenant and event type, the versions of its JSON Schema (SPEC §7),
// kept in data_dir/schemas.json (written atomically, like tenants.json).
//
// A new version must be backward compatible with the latest one (JsonSchema::
// IncompatibilityWith) or it is refused with the reason. The ingest path reads the latest
// version of each type through SchemasFor(): an immutable map swapped on change, so a
// request validates against one consistent set without holding a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "ingest/json_schema.h"

namespace sluice {

struct SchemaVersionInfo {
  std::string tenant;
  std::string type;
  int version = 0;
  std::string text;  // the schema as given (minified)
  int64_t created_at_us = 0;
};

class SchemaRegistry {
 public:
  static Result<std::unique_ptr<SchemaRegistry>> Open(std::string path);

  // Adds the next version of (tenant, type). InvalidArgument for a malformed schema, and
  // for an incompatible one with a message that starts "incompatible with vN: ".
  Result<SchemaVersionInfo> AddVersion(const std::string& tenant, const std::string& type,
                                       std::string_view schema_text);
  // Every version of a tenant's types (all types when `type` is empty), oldest first.
  std::vector<SchemaVersionInfo> List(const std::string& tenant, std::string_view type) const;
  // The latest schema of each of `tenant`'s types; null when it has none.
  std::shared_ptr<const SchemaMap> SchemasFor(const std::string& tenant) const;

 private:
  explicit SchemaRegistry(std::string path) : path_(std::move(path)) {}
  Status Load();
  Status Save(const std::vector<SchemaVersionInfo>& all) const;
  void Rebuild(const std::string& tenant);  // latest_[tenant] from versions_

  const std::string path_;
  mutable std::shared_mutex mu_;
  std::vector<SchemaVersionInfo> versions_;
  std::unordered_map<std::string, std::shared_ptr<const SchemaMap>> latest_;
};

}  // namespace sluice
