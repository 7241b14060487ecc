#include "ingest/json_schema.h"

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

enum TypeBit : uint8_t {
  kNull = 1,
  kBoolean = 2,
  kInteger = 4,
  kNumber = 8,  // any number, integers included
  kString = 16,
  kArray = 32,
  kObject = 64,
};

constexpr uint8_t kAnyType = 0;

struct EnumValue {
  element_type kind;  // STRING, DOUBLE (any number), BOOL, NULL_VALUE, or OBJECT for the rest
  std::string text;   // string value, or minified JSON for arrays and objects
  double number = 0;
  bool boolean = false;
  bool operator==(const EnumValue& o) const {
    return kind == o.kind && text == o.text && number == o.number && boolean == o.boolean;
  }
};

bool IsNumber(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double NumberOf(element v) {
  switch (v.type()) {
    case element_type::INT64:
      return static_cast<double>(v.get_int64().value_unsafe());
    case element_type::UINT64:
      return static_cast<double>(v.get_uint64().value_unsafe());
    default:
      return v.get_double().value_unsafe();
  }
}

EnumValue EnumValueOf(element v) {
  EnumValue e;
  const element_type t = v.type();
  if (IsNumber(t)) {
    e.kind = element_type::DOUBLE;
    e.number = NumberOf(v);
  } else if (t == element_type::STRING) {
    e.kind = t;
    e.text = std::string(v.get_string().value_unsafe());
  } else if (t == element_type::BOOL) {
    e.kind = t;
    e.boolean = v.get_bool().value_unsafe();
  } else if (t == element_type::NULL_VALUE) {
    e.kind = t;
  } else {
    e.kind = element_type::OBJECT;
    e.text = simdjson::minify(v);
  }
  return e;
}

std::string Describe(element v) {
  std::string s = simdjson::minify(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string FormatNumber(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  char buf[32];
  snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

uint8_t TypeBitOf(element_type t, element v) {
  switch (t) {
    case element_type::NULL_VALUE:
      return kNull;
    case element_type::BOOL:
      return kBoolean;
    case element_type::INT64:
    case element_type::UINT64:
      return kInteger | kNumber;
    case element_type::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      return std::isfinite(d) && d == std::floor(d) ? (kInteger | kNumber) : kNumber;
    }
    case element_type::STRING:
      return kString;
    case element_type::ARRAY:
      return kArray;
    default:
      return kObject;
  }
}

std::string TypeNames(uint8_t bits) {
  static const std::pair<uint8_t, const char*> kNames[] = {
      {kNull, "null"},     {kBoolean, "boolean"}, {kInteger, "integer"}, {kNumber, "number"},
      {kString, "string"}, {kArray, "array"},     {kObject, "object"}};
  std::string out;
  for (auto [bit, name] : kNames) {
    if (bits & bit) {
      if (!out.empty()) out += " or ";
      out += name;
    }
  }
  return out;
}

std::string Child(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

}  // namespace

struct JsonSchema::Node {
  uint8_t types = kAnyType;  // 0 = any
  std::vector<std::string> required;
  std::map<std::string, std::shared_ptr<const Node>, std::less<>> properties;
  bool additional = true;
  std::optional<std::vector<EnumValue>> enum_values;
  std::optional<double> minimum, maximum;
  std::optional<uint64_t> min_length, max_length;
};

namespace {

using Node = JsonSchema::Node;

Status ParseNode(element el, const std::string& at, Node* node, int depth) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("schema " + at + ": " + why);
  };
  if (depth > 32) return bad("nested too deeply (limit 32)");
  if (el.type() != element_type::OBJECT) return bad("must be an object");
  const simdjson::dom::object fields = el.get_object().value_unsafe();
  for (auto [key, v] : fields) {
    if (key == "type") {
      auto add = [&](element name) -> Status {
        std::string_view s;
        if (name.get(s) != simdjson::SUCCESS) return bad("\"type\" must be a string or a list");
        if (s == "null")
          node->types |= kNull;
        else if (s == "boolean")
          node->types |= kBoolean;
        else if (s == "integer")
          node->types |= kInteger;
        else if (s == "number")
          node->types |= kNumber | kInteger;
        else if (s == "string")
          node->types |= kString;
        else if (s == "array")
          node->types |= kArray;
        else if (s == "object")
          node->types |= kObject;
        else
          return bad("unknown type \"" + std::string(s) + "\"");
        return Status::OK();
      };
      if (v.type() == element_type::ARRAY) {
        const simdjson::dom::array names = v.get_array().value_unsafe();
        for (element t : names) SLUICE_RETURN_IF_ERROR(add(t));
        if (node->types == 0) return bad("\"type\" lists no type");
      } else {
        SLUICE_RETURN_IF_ERROR(add(v));
      }
    } else if (key == "required") {
      if (v.type() != element_type::ARRAY) return bad("\"required\" must be a list of names");
      const simdjson::dom::array names = v.get_array().value_unsafe();
      for (element r : names) {
        std::string_view s;
        if (r.get(s) != simdjson::SUCCESS) return bad("\"required\" must be a list of names");
        node->required.emplace_back(s);
      }
    } else if (key == "properties") {
      if (v.type() != element_type::OBJECT) return bad("\"properties\" must be an object");
      const simdjson::dom::object props = v.get_object().value_unsafe();
      for (auto [name, sub] : props) {
        auto child = std::make_shared<Node>();
        SLUICE_RETURN_IF_ERROR(ParseNode(sub, Child(at, name), child.get(), depth + 1));
        node->properties[std::string(name)] = std::move(child);
      }
    } else if (key == "additionalProperties") {
      bool b;
      if (v.get(b) != simdjson::SUCCESS) {
        return bad(
            "\"additionalProperties\" must be true or false (schemas there are not supported)");
      }
      node->additional = b;
    } else if (key == "enum") {
      if (v.type() != element_type::ARRAY) return bad("\"enum\" must be a list");
      node->enum_values.emplace();
      const simdjson::dom::array values = v.get_array().value_unsafe();
      for (element e : values) node->enum_values->push_back(EnumValueOf(e));
    } else if (key == "minimum" || key == "maximum") {
      if (!IsNumber(v.type())) return bad("\"" + std::string(key) + "\" must be a number");
      (key == "minimum" ? node->minimum : node->maximum) = NumberOf(v);
    } else if (key == "minLength" || key == "maxLength") {
      uint64_t n;
      if (v.get(n) != simdjson::SUCCESS) {
        return bad("\"" + std::string(key) + "\" must be a non-negative integer");
      }
      (key == "minLength" ? node->min_length : node->max_length) = n;
    } else if (key == "$schema" || key == "$id" || key == "title" || key == "description" ||
               key == "default" || key == "examples" || key == "$comment") {
      // annotations: no effect on validation
    } else {
      return bad("keyword \"" + std::string(key) +
                 "\" is not supported (supported: type, required, properties, "
                 "additionalProperties, enum, minimum, maximum, minLength, maxLength)");
    }
  }
  return Status::OK();
}

std::string ValidateNode(const Node& n, element v, const std::string& path) {
  const element_type t = v.type();
  if (n.types != kAnyType && (TypeBitOf(t, v) & n.types) == 0) {
    return path + ": " + Describe(v) + " is not of type " + TypeNames(n.types);
  }
  if (n.enum_values) {
    const EnumValue e = EnumValueOf(v);
    if (std::find(n.enum_values->begin(), n.enum_values->end(), e) == n.enum_values->end()) {
      return path + ": " + Describe(v) + " is not one of the allowed values";
    }
  }
  if (IsNumber(t)) {
    const double d = NumberOf(v);
    if (n.minimum && d < *n.minimum) {
      return path + ": " + Describe(v) + " is below the minimum " + FormatNumber(*n.minimum);
    }
    if (n.maximum && d > *n.maximum) {
      return path + ": " + Describe(v) + " is above the maximum " + FormatNumber(*n.maximum);
    }
  } else if (t == element_type::STRING) {
    const size_t len = CodePoints(v.get_string().value_unsafe());
    if (n.min_length && len < *n.min_length) {
      return path + ": is " + std::to_string(len) + " characters, shorter than minLength " +
             std::to_string(*n.min_length);
    }
    if (n.max_length && len > *n.max_length) {
      return path + ": is " + std::to_string(len) + " characters, longer than maxLength " +
             std::to_string(*n.max_length);
    }
  } else if (t == element_type::OBJECT) {
    const simdjson::dom::object obj = v.get_object().value_unsafe();
    for (const std::string& r : n.required) {
      if (obj.at_key(r).error() == simdjson::NO_SUCH_FIELD) {
        return path + ": \"" + r + "\" is required";
      }
    }
    for (auto [key, sub] : obj) {
      auto it = n.properties.find(key);
      if (it == n.properties.end()) {
        if (!n.additional) return path + ": \"" + std::string(key) + "\" is not allowed";
        continue;
      }
      std::string err = ValidateNode(*it->second, sub, Child(path, key));
      if (!err.empty()) return err;
    }
  }
  return "";
}

// Why `next` accepts less than `prev`, or empty. See the header for the rule.
std::string Narrowing(const Node& prev, const Node& next, const std::string& path) {
  auto where = [&](const std::string& why) { return path + ": " + why; };
  if (next.types != kAnyType) {
    if (prev.types == kAnyType)
      return where("adds a type constraint (" + TypeNames(next.types) + ")");
    // "number" accepts integers, so integer -> number widens.
    uint8_t prev_types = prev.types;
    if ((next.types & kNumber) && (prev_types & kInteger)) prev_types &= ~kInteger;
    if ((prev_types & ~next.types) != 0) {
      return where("type narrows from " + TypeNames(prev.types) + " to " + TypeNames(next.types));
    }
  }
  for (const std::string& r : next.required) {
    if (std::find(prev.required.begin(), prev.required.end(), r) == prev.required.end()) {
      return where("makes \"" + r + "\" required");
    }
  }
  if (next.enum_values) {
    if (!prev.enum_values) return where("adds an enum");
    for (const EnumValue& e : *prev.enum_values) {
      if (std::find(next.enum_values->begin(), next.enum_values->end(), e) ==
          next.enum_values->end()) {
        return where("enum drops an allowed value");
      }
    }
  }
  if (next.minimum && (!prev.minimum || *next.minimum > *prev.minimum)) {
    return where("raises the minimum to " + FormatNumber(*next.minimum));
  }
  if (next.maximum && (!prev.maximum || *next.maximum < *prev.maximum)) {
    return where("lowers the maximum to " + FormatNumber(*next.maximum));
  }
  if (next.min_length && (!prev.min_length || *next.min_length > *prev.min_length)) {
    return where("raises minLength to " + std::to_string(*next.min_length));
  }
  if (next.max_length && (!prev.max_length || *next.max_length < *prev.max_length)) {
    return where("lowers maxLength to " + std::to_string(*next.max_length));
  }
  if (prev.additional && !next.additional) return where("forbids additional properties");
  for (const auto& [name, prev_child] : prev.properties) {
    auto it = next.properties.find(name);
    if (it == next.properties.end()) {
      if (!next.additional) {
        return where("removes \"" + name + "\" while additionalProperties is false");
      }
      continue;  // now unconstrained: wider
    }
    std::string why = Narrowing(*prev_child, *it->second, Child(path, name));
    if (!why.empty()) return why;
  }
  // Properties only in `next` are the additive part: allowed.
  return "";
}

}  // namespace

Result<JsonSchema> JsonSchema::Parse(std::string_view text) {
  simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(text.data(), text.size()).get(root)) {
    return Status::InvalidArgument(std::string("schema is not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  auto node = std::make_shared<Node>();
  SLUICE_RETURN_IF_ERROR(ParseNode(root, "properties", node.get(), 0));
  JsonSchema s;
  s.root_ = std::move(node);
  return s;
}

std::string JsonSchema::Validate(element value, std::string_view root) const {
  if (!root_) return "";
  return ValidateNode(*root_, value, std::string(root));
}

std::string JsonSchema::IncompatibilityWith(const JsonSchema& next) const {
  if (!root_ || !next.root_) return "";
  return Narrowing(*root_, *next.root_, "properties");
}

}  // namespace sluice
