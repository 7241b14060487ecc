// EventFields (event_fields.h): envelope fields by name, properties by dotted path.
#include "rollup/event_fields.h"

#include <fmt/format.h>

namespace sluice {

namespace {

constexpr std::string_view kPropertiesPrefix = "properties.";

}  // namespace

bool EventFields::Find(std::string_view path, simdjson::dom::element* out) {
  if (path.starts_with(kPropertiesPrefix)) path.remove_prefix(kPropertiesPrefix.size());
  if (!parsed_) {
    parsed_ = true;
    valid_ = !row_.properties.empty() &&
             parser_->parse(row_.properties.data(), row_.properties.size()).get(root_) ==
                 simdjson::SUCCESS;
  }
  if (!valid_) return false;
  simdjson::dom::element cur = root_;
  while (true) {
    const size_t dot = path.find('.');
    simdjson::dom::object obj;
    if (cur.get_object().get(obj) != simdjson::SUCCESS) return false;
    if (obj.at_key(path.substr(0, dot)).get(cur) != simdjson::SUCCESS) return false;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  *out = cur;
  return true;
}

void EventFields::TextInto(std::string_view field, std::string* out) {
  if (field == "type") return out->assign(row_.type), void();
  if (field == "source") return out->assign(row_.source), void();
  if (field == "user_id") return out->assign(row_.user_id), void();
  if (field == "anonymous_id") return out->assign(row_.anonymous_id), void();
  *out = Text(field);
}

std::string EventFields::Text(std::string_view field) {
  if (field == "type") return std::string(row_.type);
  if (field == "source") return std::string(row_.source);
  if (field == "user_id") return std::string(row_.user_id);
  if (field == "anonymous_id") return std::string(row_.anonymous_id);
  simdjson::dom::element e;
  if (!Find(field, &e)) return "";
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::NULL_VALUE:
      return "";
    case simdjson::dom::element_type::INT64:
      return std::to_string(int64_t(e.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return std::to_string(uint64_t(e.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
      return fmt::format("{}", double(e.get_double().value_unsafe()));
    case simdjson::dom::element_type::BOOL:
      return e.get_bool().value_unsafe() ? "true" : "false";
    default:
      return simdjson::minify(e);
  }
}

std::optional<double> EventFields::Number(std::string_view field) {
  simdjson::dom::element e;
  if (!Find(field, &e)) return std::nullopt;
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      return static_cast<double>(int64_t(e.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return static_cast<double>(uint64_t(e.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
      return double(e.get_double().value_unsafe());
    default:
      return std::nullopt;
  }
}

}  // namespace sluice
