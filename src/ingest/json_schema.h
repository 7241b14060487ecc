// JsonSchema: the JSON Schema subset of SPEC §7 that validates an event's `properties` at
// ingest, and the rule that decides whether a new version may replace an old one.
//
// Keywords: type (a name or a list; "integer" is a whole number), required, properties,
// additionalProperties (a boolean), enum, minimum, maximum, minLength, maxLength (in
// Unicode code points). Annotations ($schema, $id, title, description, default, examples,
// $comment) are accepted and ignored. Any other keyword is refused when the schema is
// parsed rather than silently not enforced: a user who writes "pattern" expects it to hold.
//
// Compatibility is "backward, additive": every event the old version accepted must still
// be accepted, except that new optional properties may be declared (that is what adding a
// field to a tracking plan means). So a new version may widen types, drop requirements,
// widen ranges, lengths and enums, allow additional properties and add optional
// properties; it may not add a required property, narrow anything, or remove a property
// that additionalProperties=false would then reject.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/status.h"

namespace sluice {

class JsonSchema {
 public:
  // Parses schema text; InvalidArgument naming the keyword and where it is.
  static Result<JsonSchema> Parse(std::string_view text);

  // Empty when `value` conforms, else the first problem, with a path such as
  // `properties.price: -1 is below the minimum 0`. `root` names the validated value.
  std::string Validate(simdjson::dom::element value, std::string_view root = "properties") const;

  // Empty when `next` may replace `this` (see above), else why not.
  std::string IncompatibilityWith(const JsonSchema& next) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

// The latest schema of each event type of one tenant, as the ingest path sees it.
struct TypeSchema {
  int version = 0;
  JsonSchema schema;
};
using SchemaMap = std::map<std::string, TypeSchema, std::less<>>;

}  // namespace sluice
