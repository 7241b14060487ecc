#include "ingest/envelope_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "common/json_text.h"
#include "common/uuid.h"
#include "ingest/timestamp.h"

namespace sluice {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Per-thread parsing state, reused across requests so that steady-state parsing allocates
// nothing but the Events' own strings. Capacity stays at the largest body seen by the
// thread (bounded by the request size limit).
struct Scratch {
  std::unique_ptr<char[]> buf;  // the body plus SIMDJSON_PADDING
  size_t buf_capacity = 0;
  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;
  std::vector<std::string_view> lines;
  std::vector<size_t> sizes;
  // How many of the ParsedBody's events this parse has filled so far. The events past it
  // are the caller's previous body's, reused in place as slots for the next ones: their
  // strings keep their heap buffers, so a caller that reuses its ParsedBody (the HTTP
  // handler's is per thread) parses without allocating or moving an Event.
  size_t slots_used = 0;
};

Scratch& GetScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Previous events whose strings hold more are freed rather than reused: a burst of large
// events must not pin its memory (kMaxRecycledEvents x 2 KiB = 8 MiB per thread at most,
// as the HTTP handler lets go of more than kMaxRecycledEvents).
constexpr size_t kMaxReusedEventBytes = 2048;

size_t HeldBytes(const Event& e) {
  return e.tenant.capacity() + e.event_id.capacity() + e.type.capacity() + e.user_id.capacity() +
         e.anonymous_id.capacity() + e.properties.capacity() + e.context.capacity() +
         e.source.capacity();
}

// The next event slot, as default-constructed (but with a reused slot's string capacity).
Event& NewEvent(ParsedBody* out) {
  Scratch& s = GetScratch();
  if (s.slots_used == out->events.size()) {
    ++s.slots_used;
    return out->events.emplace_back();
  }
  Event& e = out->events[s.slots_used++];
  if (HeldBytes(e) > kMaxReusedEventBytes) {
    e = Event();
    return e;
  }
  e.tenant.clear();
  e.event_id.clear();
  e.id_assigned = false;
  e.type.clear();
  e.ts_us = 0;
  e.received_at_us = 0;
  e.user_id.clear();
  e.anonymous_id.clear();
  e.properties.assign("{}");
  e.context.clear();
  e.source.clear();
  e.log_offset = 0;
  return e;
}

// Gives back the slot NewEvent just returned (the event was refused); it stays for reuse.
void DropLastEvent() { --GetScratch().slots_used; }

// simdjson may read up to SIMDJSON_PADDING bytes past the end of what it parses. One copy
// per body buys a caller API without that trap; every element is then parsed in place.
const char* CopyPadded(Scratch& s, std::string_view body) {
  const size_t need = body.size() + simdjson::SIMDJSON_PADDING;
  if (s.buf_capacity < need) {
    s.buf_capacity = std::max(need, s.buf_capacity * 2);
    s.buf.reset(new char[s.buf_capacity]);
  }
  std::memcpy(s.buf.get(), body.data(), body.size());
  std::memset(s.buf.get() + body.size(), ' ', simdjson::SIMDJSON_PADDING);
  return s.buf.get();
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

std::string InvalidJson(simdjson::error_code err) {
  const char* what;
  switch (err) {
    case simdjson::TAPE_ERROR:
      what = "malformed structure (commas, brackets, colons or trailing content)";
      break;
    case simdjson::DEPTH_ERROR:
      what = "nested too deeply";
      break;
    case simdjson::STRING_ERROR:
      what = "bad string or escape";
      break;
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      what = "bad literal (expected true, false or null)";
      break;
    case simdjson::NUMBER_ERROR:
      what = "bad number";
      break;
    case simdjson::UTF8_ERROR:
      what = "invalid UTF-8";
      break;
    case simdjson::UNESCAPED_CHARS:
      what = "unescaped control character in a string";
      break;
    case simdjson::UNCLOSED_STRING:
      what = "unclosed string";
      break;
    case simdjson::EMPTY:
      what = "no JSON value";
      break;
    default:
      what = simdjson::error_message(err);
      break;
  }
  return std::string("invalid JSON: ") + what;
}

std::string TooBig(std::string_view what, size_t n, size_t limit) {
  return std::string(what) + " is " + std::to_string(n) + " bytes, limit is " +
         std::to_string(limit);
}

template <typename T>
void AppendNumber(T v, std::string* out) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, ec == std::errc() ? p : buf);
}

// Minified JSON of a DOM element, written into a buffer reused across events and then
// copied into the Event's string once. Capacity is checked once per value (a string's
// worst case is reserved before it is escaped), not once per byte: appending punctuation
// and strings to a std::string one call at a time was a fifth of the parser's time.
// simdjson's own serializer is internal API.
class MinifiedJson {
 public:
  std::string_view Write(element el) {
    p_ = buf_.data();
    end_ = p_ + buf_.size();
    Value(el);
    return {buf_.data(), static_cast<size_t>(p_ - buf_.data())};
  }
  // After the caller has copied out what Write returned: a buffer grown by one huge
  // object (a raised event size limit) is not kept for the thread's lifetime.
  void Release() {
    if (buf_.size() > kKeptBytes) std::vector<char>(kInitialBytes).swap(buf_);
  }

 private:
  // Room for the longest number to_chars writes (a double: 24 bytes) and punctuation.
  static constexpr size_t kScalarBound = 32;
  static constexpr size_t kInitialBytes = 4096;
  static constexpr size_t kKeptBytes = 1 << 20;

  void Reserve(size_t n) {
    if (static_cast<size_t>(end_ - p_) >= n) return;
    const size_t used = p_ - buf_.data();
    buf_.resize(std::max(buf_.size() * 2, used + n + 256));
    p_ = buf_.data() + used;
    end_ = buf_.data() + buf_.size();
  }

  void String(std::string_view s) {
    Reserve(JsonStringBound(s.size()) + kScalarBound);
    p_ = WriteJsonString(p_, s);
  }

  template <typename T>
  void Number(T v) {
    Reserve(kScalarBound);
    p_ = std::to_chars(p_, end_, v).ptr;
  }

  void Literal(std::string_view text) {
    Reserve(kScalarBound);
    std::memcpy(p_, text.data(), text.size());
    p_ += text.size();
  }

  // Every write reserves kScalarBound beyond what it writes, so at least 8 bytes are spare
  // after any value: the ':' or ',' that follows one needs no check of its own.
  void Open(char bracket) {
    Reserve(kScalarBound);
    *p_++ = bracket;
  }
  void Close(char bracket) {
    if (p_[-1] == ',') --p_;  // the last member's comma becomes the closing bracket
    Reserve(kScalarBound);
    *p_++ = bracket;
  }

  void Value(element el) {
    switch (el.type()) {
      case element_type::OBJECT: {
        Open('{');
        // Copied out: value_unsafe() on a temporary result would dangle in a range-for.
        const simdjson::dom::object obj = el.get_object().value_unsafe();
        for (simdjson::dom::key_value_pair kv : obj) {
          String(kv.key);
          *p_++ = ':';
          Value(kv.value);
          *p_++ = ',';
        }
        Close('}');
        break;
      }
      case element_type::ARRAY: {
        Open('[');
        const simdjson::dom::array arr = el.get_array().value_unsafe();
        for (element v : arr) {
          Value(v);
          *p_++ = ',';
        }
        Close(']');
        break;
      }
      case element_type::STRING:
        String(el.get_string().value_unsafe());
        break;
      case element_type::INT64:
        Number(el.get_int64().value_unsafe());
        break;
      case element_type::UINT64:
        Number(el.get_uint64().value_unsafe());
        break;
      case element_type::DOUBLE:
        Number(el.get_double().value_unsafe());
        break;
      case element_type::BOOL:
        Literal(el.get_bool().value_unsafe() ? "true" : "false");
        break;
      case element_type::NULL_VALUE:
        Literal("null");
        break;
    }
  }

  std::vector<char> buf_ = std::vector<char>(kInitialBytes);
  char* p_ = nullptr;
  char* end_ = nullptr;
};

// One envelope field as found in the object: the best-ranked alias seen so far.
struct Field {
  static constexpr int kAbsent = 1 << 30;
  int rank = kAbsent;
  std::string_view key;
  element value;
  bool present() const { return rank != kAbsent; }
  // First alias in the documented order wins; for a repeated key, its first occurrence.
  void Offer(int r, std::string_view k, element v) {
    if (r < rank) {
      rank = r;
      key = k;
      value = v;
    }
  }
};

struct Fields {
  Field id, type, timestamp, user, anon, properties, context;
};

void CollectFields(simdjson::dom::object obj, Fields* f) {
  for (simdjson::dom::key_value_pair kv : obj) {
    // null is "not sent": JS clients serialize unset fields as null, and a null alias must
    // not hide a later one that has a value.
    if (kv.value.is_null()) continue;
    const std::string_view k = kv.key;
    switch (k.size()) {
      case 2:
        if (k == "id") f->id.Offer(1, k, kv.value);
        break;
      case 4:
        if (k == "type") {
          f->type.Offer(0, k, kv.value);
        } else if (k == "name") {
          f->type.Offer(2, k, kv.value);
        } else if (k == "uuid") {
          f->id.Offer(3, k, kv.value);
        }
        break;
      case 5:
        if (k == "event") f->type.Offer(1, k, kv.value);
        break;
      case 6:
        if (k == "userId") f->user.Offer(1, k, kv.value);
        break;
      case 7:
        if (k == "user_id") {
          f->user.Offer(0, k, kv.value);
        } else if (k == "context") {
          f->context.Offer(0, k, kv.value);
        }
        break;
      case 8:
        if (k == "event_id") f->id.Offer(0, k, kv.value);
        break;
      case 9:
        if (k == "timestamp") {
          f->timestamp.Offer(0, k, kv.value);
        } else if (k == "messageId") {
          f->id.Offer(2, k, kv.value);
        }
        break;
      case 10:
        if (k == "properties") f->properties.Offer(0, k, kv.value);
        break;
      case 11:
        if (k == "distinct_id") {
          f->user.Offer(2, k, kv.value);
        } else if (k == "anonymousId") {
          f->anon.Offer(1, k, kv.value);
        }
        break;
      case 12:
        if (k == "anonymous_id") f->anon.Offer(0, k, kv.value);
        break;
      default:
        break;
    }
  }
}

// user_id / anonymous_id: strings, or numbers as their decimal text (PostHog's distinct_id
// is often a numeric database id).
bool GetIdLike(const Field& f, std::string* out, std::string* error) {
  if (!f.present()) return true;
  switch (f.value.type()) {
    case element_type::STRING:
      out->assign(f.value.get_string().value_unsafe());
      return true;
    case element_type::INT64:
      AppendNumber(f.value.get_int64().value_unsafe(), out);
      return true;
    case element_type::UINT64:
      AppendNumber(f.value.get_uint64().value_unsafe(), out);
      return true;
    case element_type::DOUBLE:
      AppendNumber(f.value.get_double().value_unsafe(), out);
      return true;
    default:
      *error = Quoted(f.key) + " must be a string";
      return false;
  }
}

bool GetObject(const Field& f, std::string* out, std::string* error) {
  if (!f.present()) return true;
  if (f.value.type() != element_type::OBJECT) {
    *error = Quoted(f.key) + " must be an object";
    return false;
  }
  thread_local MinifiedJson writer;
  out->assign(writer.Write(f.value));
  writer.Release();
  return true;
}

// The timestamp field, already known to be a string or a number.
Result<int64_t> TimestampOf(element v) {
  switch (v.type()) {
    case element_type::STRING:
      return ParseTimestampString(v.get_string().value_unsafe());
    case element_type::INT64:
      return TimestampFromInteger(v.get_int64().value_unsafe());
    case element_type::UINT64:  // above INT64_MAX: nanoseconds in 2262..2554, always valid
      return static_cast<int64_t>(v.get_uint64().value_unsafe() / 1000);
    default:
      return TimestampFromNumber(v.get_double().value_unsafe());
  }
}

bool FillEvent(simdjson::dom::object obj, const ParseContext& ctx, Event* e, std::string* error,
               std::optional<element>* properties) {
  Fields f;
  CollectFields(obj, &f);
  const EnvelopeLimits& limits = ctx.limits;

  if (!f.id.present()) {
    e->event_id = NewUuidV7(ctx.received_at_us);
    e->id_assigned = true;
  } else {
    switch (f.id.value.type()) {
      case element_type::STRING: {
        const std::string_view id = f.id.value.get_string().value_unsafe();
        if (id.empty()) {
          *error = Quoted(f.id.key) + " is empty";
          return false;
        }
        if (id.size() > limits.max_event_id_bytes) {
          *error = TooBig(Quoted(f.id.key), id.size(), limits.max_event_id_bytes);
          return false;
        }
        e->event_id.assign(id);
        break;
      }
      // Integer ids (some APIs send database keys) become their decimal text; a fraction
      // or exponent has no canonical text, so doubles are refused.
      case element_type::INT64:
        AppendNumber(f.id.value.get_int64().value_unsafe(), &e->event_id);
        break;
      case element_type::UINT64:
        AppendNumber(f.id.value.get_uint64().value_unsafe(), &e->event_id);
        break;
      default:
        *error = Quoted(f.id.key) + " must be a string";
        return false;
    }
  }

  if (!f.type.present()) {
    *error = "\"type\" is required";
    return false;
  }
  if (f.type.value.type() != element_type::STRING) {
    *error = Quoted(f.type.key) + " must be a string";
    return false;
  }
  const std::string_view type = f.type.value.get_string().value_unsafe();
  if (type.empty()) {
    *error = Quoted(f.type.key) + " is empty";
    return false;
  }
  if (type.size() > limits.max_type_bytes) {
    *error = TooBig(Quoted(f.type.key), type.size(), limits.max_type_bytes);
    return false;
  }
  e->type.assign(type);

  if (!f.timestamp.present()) {
    e->ts_us = ctx.received_at_us;
  } else {
    const element v = f.timestamp.value;
    const element_type t = v.type();
    if (t != element_type::STRING && t != element_type::INT64 && t != element_type::UINT64 &&
        t != element_type::DOUBLE) {
      *error = "\"timestamp\" must be a string or number";
      return false;
    }
    Result<int64_t> ts = TimestampOf(v);
    if (!ts.ok()) {
      // Timestamp messages read "timestamp: <why>"; the JSON field name is quoted here.
      std::string_view why = ts.status().message();
      if (why.substr(0, 11) == "timestamp: ") why.remove_prefix(11);
      *error = "\"timestamp\": " + std::string(why);
      return false;
    }
    e->ts_us = *ts;
  }

  if (!GetIdLike(f.user, &e->user_id, error)) return false;
  if (!GetIdLike(f.anon, &e->anonymous_id, error)) return false;
  if (!GetObject(f.properties, &e->properties, error)) return false;
  if (!GetObject(f.context, &e->context, error)) return false;
  if (f.properties.present()) *properties = f.properties.value;

  e->tenant = ctx.tenant;
  e->source = ctx.source;
  e->received_at_us = ctx.received_at_us;
  return true;
}

// Validates one element that is already known to fit the size limit.
void AddElement(element el, size_t index, const ParseContext& ctx, ParsedBody* out) {
  std::string error;
  if (el.type() != element_type::OBJECT) {
    out->errors.push_back({index, "event must be a JSON object"});
    return;
  }
  Event& e = NewEvent(out);
  std::optional<element> properties;
  if (!FillEvent(el.get_object().value_unsafe(), ctx, &e, &error, &properties)) {
    DropLastEvent();
    out->errors.push_back({index, std::move(error)});
    return;
  }
  if (ctx.schemas != nullptr) {
    if (auto it = ctx.schemas->find(e.type); it != ctx.schemas->end()) {
      // An absent "properties" is validated as the empty object it is stored as.
      static const simdjson::padded_string kEmpty("{}", 2);
      thread_local simdjson::dom::parser empty_parser;
      if (!properties) properties = empty_parser.parse(kEmpty).value();
      error = it->second.schema.Validate(*properties);
      if (!error.empty()) {
        error =
            "schema v" + std::to_string(it->second.version) + " of \"" + e.type + "\": " + error;
        out->errors.push_back({index, error});
        out->rejected.push_back({std::move(e), std::move(error), it->second.version});
        DropLastEvent();
        return;
      }
    }
  }
  out->event_index.push_back(index);
}

void AddTooBig(size_t index, size_t n, const ParseContext& ctx, ParsedBody* out) {
  out->errors.push_back({index, TooBig("event", n, ctx.limits.max_event_bytes)});
}

// The text size of each element of a (valid) JSON array, 0 for non-objects. The DOM keeps
// no source positions, so a second, cheap pass with the on-demand API skips over each
// element to find where it ends.
bool ArrayElementSizes(Scratch& s, const char* buf, size_t len) {
  s.sizes.clear();
  simdjson::ondemand::document doc;
  if (s.ondemand.iterate(buf, len, len + simdjson::SIMDJSON_PADDING).get(doc)) return false;
  simdjson::ondemand::array arr;
  if (doc.get_array().get(arr)) return false;
  for (auto item : arr) {
    simdjson::ondemand::value v;
    simdjson::ondemand::json_type t;
    if (item.get(v) || v.type().get(t)) return false;
    size_t n = 0;
    if (t == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object o;
      std::string_view raw;
      if (v.get_object().get(o) || o.raw_json().get(raw)) return false;
      n = Trim(raw).size();  // raw_json runs up to the next token
    }
    s.sizes.push_back(n);
  }
  return true;
}

Status ParseJson(Scratch& s, std::string_view body, const ParseContext& ctx, ParsedBody* out) {
  element root;
  if (auto err = s.dom.parse(body.data(), body.size(), false).get(root)) {
    return Status::InvalidArgument(InvalidJson(err));
  }
  const EnvelopeLimits& limits = ctx.limits;
  if (root.type() == element_type::OBJECT) {
    out->total = 1;
    if (body.size() > limits.max_event_bytes) {
      AddTooBig(0, body.size(), ctx, out);
    } else {
      AddElement(root, 0, ctx, out);
    }
    return Status::OK();
  }
  if (root.type() != element_type::ARRAY) {
    return Status::InvalidArgument("body must be a JSON object, an array of objects or NDJSON");
  }
  simdjson::dom::array arr = root.get_array().value_unsafe();
  size_t n = arr.size();
  if (n == 0xFFFFFF) {  // simdjson saturates the stored size
    n = 0;
    for (element el : arr) {
      (void)el;
      ++n;
    }
  }
  if (n > limits.max_events_per_request) {
    return Status::ResourceExhausted("body has " + std::to_string(n) + " events, limit is " +
                                     std::to_string(limits.max_events_per_request));
  }
  // No element can exceed the limit when the whole array does not: skip the sizing pass.
  const bool check_sizes = body.size() > limits.max_event_bytes;
  if (check_sizes && (!ArrayElementSizes(s, body.data(), body.size()) || s.sizes.size() != n)) {
    return Status::Internal("could not size the elements of a valid JSON array");
  }
  out->total = n;
  out->events.reserve(n);
  size_t i = 0;
  for (element el : arr) {
    if (check_sizes && s.sizes[i] > limits.max_event_bytes) {
      AddTooBig(i, s.sizes[i], ctx, out);
    } else {
      AddElement(el, i, ctx, out);
    }
    ++i;
  }
  return Status::OK();
}

void SplitLines(std::string_view body, std::vector<std::string_view>* lines) {
  lines->clear();
  const char* p = body.data();
  const char* const end = p + body.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl : end;
    std::string_view line = Trim(std::string_view(p, line_end - p));
    if (!line.empty()) lines->push_back(line);
    p = line_end + 1;
  }
}

Status ParseNdjson(Scratch& s, std::string_view body, const ParseContext& ctx, ParsedBody* out) {
  const EnvelopeLimits& limits = ctx.limits;
  SplitLines(body, &s.lines);
  if (s.lines.size() > limits.max_events_per_request) {
    return Status::ResourceExhausted("body has " + std::to_string(s.lines.size()) +
                                     " events, limit is " +
                                     std::to_string(limits.max_events_per_request));
  }
  out->total = s.lines.size();
  out->events.reserve(s.lines.size());
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const std::string_view line = s.lines[i];
    if (line.size() > limits.max_event_bytes) {
      AddTooBig(i, line.size(), ctx, out);
      continue;
    }
    element el;
    // Every line is followed by the rest of the body and then the padding (a copy's, or
    // the caller's), so parsing it in place is safe.
    if (auto err = s.dom.parse(line.data(), line.size(), false).get(el)) {
      out->errors.push_back({i, InvalidJson(err)});
      continue;
    }
    AddElement(el, i, ctx, out);
  }
  return Status::OK();
}

// kAuto: is this body one JSON document (rather than NDJSON)?
bool LooksLikeOneDocument(Scratch& s, std::string_view body) {
  if (body.front() == '[') return true;
  const char* nl = static_cast<const char*>(std::memchr(body.data(), '\n', body.size()));
  if (nl == nullptr) return true;
  if (body.front() != '{') return false;
  // Several lines starting with '{': NDJSON if the first line is a complete value on its
  // own, else a pretty-printed object (whose errors then are reported for the whole body).
  const std::string_view first = Trim(std::string_view(body.data(), nl - body.data()));
  element el;
  return s.dom.parse(first.data(), first.size(), false).get(el) != simdjson::SUCCESS;
}

static_assert(kBodyPadding == simdjson::SIMDJSON_PADDING);

Status ParseInto(Scratch& s, std::string_view body, size_t readable_after, BodyFormat format,
                 const ParseContext& ctx, ParsedBody* out) {
  const char* readable_end = body.data() + body.size() + readable_after;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // UTF-8 byte order mark
  body = Trim(body);
  if (body.empty()) return Status::InvalidArgument("empty body");

  // Trimming only adds to what may be read past the end.
  if (static_cast<size_t>(readable_end - (body.data() + body.size())) < kBodyPadding) {
    const char* padded = CopyPadded(s, body);
    body = std::string_view(padded, body.size());
  }

  bool one_document = format == BodyFormat::kJson;
  if (format == BodyFormat::kAuto) one_document = LooksLikeOneDocument(s, body);
  return one_document ? ParseJson(s, body, ctx, out) : ParseNdjson(s, body, ctx, out);
}

}  // namespace

Status ParseBody(std::string_view body, BodyFormat format, const ParseContext& ctx, ParsedBody* out,
                 size_t readable_after) {
  Scratch& s = GetScratch();
  s.slots_used = 0;  // out->events are now slots (NewEvent); the unused ones go at the end
  out->event_index.clear();
  out->errors.clear();
  out->rejected.clear();
  out->total = 0;
  Status st = ParseInto(s, body, readable_after, format, ctx, out);
  out->events.erase(out->events.begin() + s.slots_used, out->events.end());
  return st;
}

}  // namespace sluice
