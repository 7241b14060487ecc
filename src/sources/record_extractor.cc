// Record extraction from JSON (simdjson) and XML (pugixml) bodies (record_extractor.h).
#include "sources/record_extractor.h"

#include <simdjson.h>

#include <pugixml.hpp>

namespace sluice {

namespace {

// A scalar as text: strings as they are, numbers as their JSON text.
bool ScalarText(simdjson::dom::element v, std::string* out) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      *out = std::string(v.get_string().value_unsafe());
      return true;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      *out = simdjson::minify(v);
      return true;
    default:
      return false;
  }
}

Status ExtractJson(std::string_view body, const ConnectorConfig& c, ExtractedPage* out) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc)) {
    return Status::InvalidArgument(std::string("body is not JSON: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::element records = doc;
  if (!c.records_path.empty() && doc.at_pointer(c.records_path).get(records)) {
    return Status::InvalidArgument("body has no " + c.records_path);
  }
  simdjson::dom::array arr;
  if (records.get_array().get(arr)) {
    return Status::InvalidArgument("records at '" + c.records_path + "' are not an array");
  }
  size_t i = 0;
  for (simdjson::dom::element rec : arr) {
    PulledRecord r;
    simdjson::dom::element v;
    if (rec.at_pointer(c.id_path).get(v) || !ScalarText(v, &r.id) || r.id.empty()) {
      out->errors.push_back("record " + std::to_string(i) + ": no id at " + c.id_path);
      ++i;
      continue;
    }
    if (!c.timestamp_path.empty() && !rec.at_pointer(c.timestamp_path).get(v) && !v.is_null()) {
      r.timestamp_json = simdjson::minify(v);
    }
    if (!c.user_id_path.empty() && !rec.at_pointer(c.user_id_path).get(v)) {
      ScalarText(v, &r.user_id);
    }
    r.json = simdjson::minify(rec);
    out->records.push_back(std::move(r));
    ++i;
  }
  if (!c.cursor_from_link_header && !c.next_cursor_path.empty()) {
    simdjson::dom::element next;
    if (!doc.at_pointer(c.next_cursor_path).get(next)) ScalarText(next, &out->next_cursor);
  }
  return Status::OK();
}

void XmlToJson(const pugi::xml_node& n, std::string* out) {
  out->push_back('{');
  bool first = true;
  auto key = [&](const char* k) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, k);
    out->push_back(':');
  };
  for (const pugi::xml_attribute& a : n.attributes()) {
    key(a.name());
    AppendJsonString(out, a.value());
  }
  for (const pugi::xml_node& child : n.children()) {
    if (child.type() != pugi::node_element) continue;
    key(child.name());
    if (child.first_child().type() == pugi::node_element || child.first_attribute()) {
      XmlToJson(child, out);
    } else {
      AppendJsonString(out, child.text().get());
    }
  }
  out->push_back('}');
}

// "@attr" or a child element path "a/b".
std::string XmlValue(const pugi::xml_node& n, const std::string& path) {
  if (!path.empty() && path[0] == '@') return n.attribute(path.c_str() + 1).value();
  std::string p = path;
  if (!p.empty() && p[0] == '/') p.erase(0, 1);
  return n.first_element_by_path(p.c_str()).text().get();
}

// "/feed/item" -> "/feed"; "" when there is no parent element to check ("/item", a "//"
// step, or a '/' inside a predicate).
std::string XmlParentPath(const std::string& path) {
  int depth = 0;
  size_t last = std::string::npos;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') ++depth;
    if (path[i] == ']') --depth;
    if (path[i] == '/' && depth == 0) last = i;
  }
  if (last == std::string::npos || last == 0 || path[last - 1] == '/') return {};
  return path.substr(0, last);
}

Status ExtractXml(std::string_view body, const ConnectorConfig& c, ExtractedPage* out) {
  pugi::xml_document doc;
  pugi::xml_parse_result ok = doc.load_buffer(body.data(), body.size());
  if (!ok) return Status::InvalidArgument(std::string("body is not XML: ") + ok.description());
  std::string path = c.records_path;
  if (!path.empty() && path[0] != '/') path = "/" + path;
  pugi::xpath_node_set nodes;
  try {
    nodes = doc.select_nodes(path.c_str());
  } catch (const pugi::xpath_exception& e) {
    return Status::InvalidArgument(std::string("records_path: ") + e.what());
  }
  if (nodes.empty()) {
    // Like a JSON body without the records path: "feed/item" matching nothing is an empty
    // feed only when <feed> is there; without it the body is some other document (an error
    // page, a changed format) and must not read as "every entity is gone".
    std::string parent = XmlParentPath(path);
    if (!parent.empty()) {
      try {
        if (doc.select_nodes(parent.c_str()).empty()) {
          return Status::InvalidArgument("body has no " + parent);
        }
      } catch (const pugi::xpath_exception&) {
        // Not a plain element path: nothing to check the parent of.
      }
    }
  }
  size_t i = 0;
  for (const pugi::xpath_node& xn : nodes) {
    pugi::xml_node n = xn.node();
    PulledRecord r;
    r.id = XmlValue(n, c.id_path);
    if (r.id.empty()) {
      out->errors.push_back("record " + std::to_string(i++) + ": no id at " + c.id_path);
      continue;
    }
    if (!c.timestamp_path.empty()) {
      std::string ts = XmlValue(n, c.timestamp_path);
      if (!ts.empty()) AppendJsonString(&r.timestamp_json, ts);
    }
    if (!c.user_id_path.empty()) r.user_id = XmlValue(n, c.user_id_path);
    XmlToJson(n, &r.json);
    out->records.push_back(std::move(r));
    ++i;
  }
  return Status::OK();
}

}  // namespace

Status ExtractRecords(std::string_view body, const ConnectorConfig& config, ExtractedPage* out) {
  *out = ExtractedPage();
  return config.format == "xml" ? ExtractXml(body, config, out) : ExtractJson(body, config, out);
}

std::string NextFromLinkHeader(std::string_view link) {
  // <https://api/x?cursor=abc>; rel="next", <...>; rel="prev"
  size_t pos = 0;
  while (pos < link.size()) {
    size_t lt = link.find('<', pos);
    if (lt == std::string_view::npos) break;
    size_t gt = link.find('>', lt);
    if (gt == std::string_view::npos) break;
    size_t end = link.find(',', gt);
    std::string_view params =
        link.substr(gt + 1, end == std::string_view::npos ? link.npos : end - gt - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos ||
        params.find("rel=next") != std::string_view::npos) {
      return std::string(link.substr(lt + 1, gt - lt - 1));
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return {};
}

}  // namespace sluice
