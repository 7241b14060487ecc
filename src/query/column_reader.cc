// ColumnReader (column_reader.h): a type tree built once per column, then cells rendered
// straight from the vectors' memory.
#include "query/column_reader.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace sluice {

struct ColumnReader::Type {
  duckdb_type id = DUCKDB_TYPE_INVALID;
  bool json = false;  // VARCHAR with the JSON alias: its text is JSON already
  std::string name;
  uint8_t decimal_scale = 0;
  duckdb_type decimal_storage = DUCKDB_TYPE_INVALID;
  duckdb_type enum_storage = DUCKDB_TYPE_INVALID;
  std::vector<std::string> enum_values;
  idx_t array_size = 0;
  std::vector<std::string> field_names;         // STRUCT
  std::vector<std::unique_ptr<Type>> children;  // LIST/ARRAY: 1, MAP: key+value, STRUCT: n
};

namespace {

using Type = ColumnReader::Type;

const char* BaseName(duckdb_type id) {
  switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
      return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
      return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
      return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT:
      return "UHUGEINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
      return "BLOB";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_TIME:
      return "TIME";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_S:
      return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_INTERVAL:
      return "INTERVAL";
    case DUCKDB_TYPE_UUID:
      return "UUID";
    case DUCKDB_TYPE_ENUM:
      return "ENUM";
    case DUCKDB_TYPE_SQLNULL:
      return "NULL";
    case DUCKDB_TYPE_UNION:
      return "UNION";
    case DUCKDB_TYPE_BIT:
      return "BIT";
    case DUCKDB_TYPE_TIME_TZ:
      return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_BIGNUM:
      return "BIGNUM";
    case DUCKDB_TYPE_TIME_NS:
      return "TIME_NS";
    default:
      return nullptr;
  }
}

std::string TakeString(char* s) {
  std::string out = s != nullptr ? s : "";
  duckdb_free(s);
  return out;
}

Result<std::unique_ptr<Type>> BuildType(duckdb_logical_type lt, const std::string& column) {
  auto t = std::make_unique<Type>();
  t->id = duckdb_get_type_id(lt);
  auto child = [&](duckdb_logical_type c) -> Result<std::unique_ptr<Type>> {
    auto r = BuildType(c, column);
    duckdb_destroy_logical_type(&c);
    return r;
  };
  switch (t->id) {
    case DUCKDB_TYPE_VARCHAR: {
      t->json = TakeString(duckdb_logical_type_get_alias(lt)) == "JSON";
      t->name = t->json ? "JSON" : "VARCHAR";
      return t;
    }
    case DUCKDB_TYPE_DECIMAL: {
      t->decimal_scale = duckdb_decimal_scale(lt);
      t->decimal_storage = duckdb_decimal_internal_type(lt);
      t->name = fmt::format("DECIMAL({},{})", duckdb_decimal_width(lt), t->decimal_scale);
      return t;
    }
    case DUCKDB_TYPE_ENUM: {
      t->enum_storage = duckdb_enum_internal_type(lt);
      const uint32_t n = duckdb_enum_dictionary_size(lt);
      for (uint32_t i = 0; i < n; ++i) {
        t->enum_values.push_back(TakeString(duckdb_enum_dictionary_value(lt, i)));
      }
      t->name = "ENUM";
      return t;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY: {
      const bool list = t->id == DUCKDB_TYPE_LIST;
      auto c = child(list ? duckdb_list_type_child_type(lt) : duckdb_array_type_child_type(lt));
      if (!c.ok()) return c.status();
      if (!list) t->array_size = duckdb_array_type_array_size(lt);
      t->name = (*c)->name + (list ? "[]" : fmt::format("[{}]", t->array_size));
      t->children.push_back(std::move(*c));
      return t;
    }
    case DUCKDB_TYPE_MAP: {
      auto k = child(duckdb_map_type_key_type(lt));
      if (!k.ok()) return k.status();
      auto v = child(duckdb_map_type_value_type(lt));
      if (!v.ok()) return v.status();
      t->name = "MAP(" + (*k)->name + ", " + (*v)->name + ")";
      t->children.push_back(std::move(*k));
      t->children.push_back(std::move(*v));
      return t;
    }
    case DUCKDB_TYPE_STRUCT: {
      const idx_t n = duckdb_struct_type_child_count(lt);
      t->name = "STRUCT(";
      for (idx_t i = 0; i < n; ++i) {
        auto c = child(duckdb_struct_type_child_type(lt, i));
        if (!c.ok()) return c.status();
        t->field_names.push_back(TakeString(duckdb_struct_type_child_name(lt, i)));
        t->name += (i > 0 ? ", " : "") + t->field_names.back() + " " + (*c)->name;
        t->children.push_back(std::move(*c));
      }
      t->name += ")";
      return t;
    }
    case DUCKDB_TYPE_UNION:
    case DUCKDB_TYPE_BIT:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_BIGNUM:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_INVALID:
    case DUCKDB_TYPE_ANY: {
      const char* n = BaseName(t->id);
      return Status::InvalidArgument(fmt::format(
          "column \"{}\" has type {}, which query results cannot hold; cast it, e.g. ::VARCHAR",
          column, n != nullptr ? n : "unknown"));
    }
    default: {
      const char* n = BaseName(t->id);
      if (n == nullptr) {
        return Status::InvalidArgument(fmt::format(
            "column \"{}\" has a type that query results cannot hold; cast it, e.g. ::VARCHAR",
            column));
      }
      t->name = n;
      return t;
    }
  }
}

std::string Uint128ToString(unsigned __int128 v) {
  if (v == 0) return "0";
  char buf[48];
  int i = sizeof buf;
  while (v > 0) {
    buf[--i] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  return std::string(buf + i, sizeof buf - i);
}

std::string Int128ToString(__int128 v) {
  if (v < 0) return "-" + Uint128ToString(-static_cast<unsigned __int128>(v));
  return Uint128ToString(static_cast<unsigned __int128>(v));
}

__int128 HugeInt(const duckdb_hugeint& h) {
  return static_cast<__int128>(static_cast<unsigned __int128>(h.upper) << 64 | h.lower);
}

// `unscaled` / 10^scale, exactly.
std::string DecimalText(__int128 unscaled, uint8_t scale) {
  std::string digits = Uint128ToString(unscaled < 0 ? -static_cast<unsigned __int128>(unscaled)
                                                    : static_cast<unsigned __int128>(unscaled));
  if (scale > 0) {
    if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
    digits.insert(digits.size() - scale, ".");
  }
  return (unscaled < 0 ? "-" : "") + digits;
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

std::string DateText(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return y >= 0 && y <= 9999 ? fmt::format("{:04}-{:02}-{:02}", y, m, d)
                             : fmt::format("{}-{:02}-{:02}", y, m, d);
}

// Time of day from microseconds (with `frac_digits` fractional digits when non-zero).
std::string TimeOfDay(int64_t micros) {
  const int64_t s = micros / 1000000, us = micros % 1000000;
  std::string out = fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  if (us != 0) {
    std::string frac = fmt::format("{:06}", us);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out;
}

// RFC 3339 in UTC; `nanos_extra` adds sub-microsecond digits for TIMESTAMP_NS.
std::string TimestampText(int64_t micros, int nanos_extra = -1) {
  if (micros == INT64_MAX) return "infinity";
  if (micros == -INT64_MAX) return "-infinity";
  int64_t days = micros / 86400000000;
  int64_t rem = micros % 86400000000;
  if (rem < 0) {
    rem += 86400000000;
    --days;
  }
  std::string t = TimeOfDay(rem);
  if (nanos_extra > 0) {
    if (t.find('.') == std::string::npos) t += ".000000";
    while (t.size() < 15) t.push_back('0');  // "HH:MM:SS.ffffff"
    t += fmt::format("{:03}", nanos_extra);
    while (t.back() == '0') t.pop_back();
  }
  return DateText(days) + "T" + t + "Z";
}

std::string IntervalText(const duckdb_interval& iv) {
  // ISO 8601 duration, e.g. P1Y2M3DT4H5M6.5S.
  std::string out = "P";
  const int32_t years = iv.months / 12, months = iv.months % 12;
  if (years != 0) out += fmt::format("{}Y", years);
  if (months != 0) out += fmt::format("{}M", months);
  if (iv.days != 0) out += fmt::format("{}D", iv.days);
  int64_t us = iv.micros;
  if (us != 0) {
    out += "T";
    const bool neg = us < 0;
    if (neg) us = -us;
    const int64_t h = us / 3600000000, m = us / 60000000 % 60, s = us / 1000000 % 60,
                  f = us % 1000000;
    const char* sign = neg ? "-" : "";
    if (h != 0) out += fmt::format("{}{}H", sign, h);
    if (m != 0) out += fmt::format("{}{}M", sign, m);
    if (s != 0 || f != 0) {
      std::string frac;
      if (f != 0) {
        frac = fmt::format(".{:06}", f);
        while (frac.back() == '0') frac.pop_back();
      }
      out += fmt::format("{}{}{}S", sign, s, frac);
    }
  }
  return out == "P" ? "PT0S" : out;
}

std::string UuidText(const duckdb_hugeint& h) {
  // DuckDB stores UUIDs as HUGEINT with the top bit flipped so that they sort as text.
  const uint64_t upper = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", upper >> 32, (upper >> 16) & 0xffff,
                     upper & 0xffff, h.lower >> 48, h.lower & 0xffffffffffffULL);
}

std::string BlobText(std::string_view b) {
  std::string out;
  for (unsigned char c : b) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02X}", c);
    }
  }
  return out;
}

std::string DoubleText(double v, Cell::Kind* kind) {
  if (std::isnan(v)) {
    *kind = Cell::Kind::kString;
    return "NaN";
  }
  if (std::isinf(v)) {
    *kind = Cell::Kind::kString;
    return v > 0 ? "Infinity" : "-Infinity";
  }
  return fmt::format("{}", v);
}

template <typename T>
T At(duckdb_vector v, idx_t row) {
  return static_cast<const T*>(duckdb_vector_get_data(v))[row];
}

bool Valid(duckdb_vector v, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(v);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

std::string_view StringAt(duckdb_vector v, idx_t row) {
  auto* cells = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v));
  return std::string_view(duckdb_string_t_data(&cells[row]), duckdb_string_t_length(cells[row]));
}

Cell ReadCell(const Type& t, duckdb_vector v, idx_t row);

// A nested value as JSON text.
void AppendNested(const Type& t, duckdb_vector child, idx_t first, idx_t n, std::string* out) {
  out->push_back('[');
  for (idx_t i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonCell(out, ReadCell(t, child, first + i));
  }
  out->push_back(']');
}

Cell ReadCell(const Type& t, duckdb_vector v, idx_t row) {
  Cell c;
  if (!Valid(v, row)) return c;
  c.kind = Cell::Kind::kJson;
  switch (t.id) {
    case DUCKDB_TYPE_BOOLEAN:
      c.text = At<bool>(v, row) ? "true" : "false";
      break;
    case DUCKDB_TYPE_TINYINT:
      c.text = std::to_string(At<int8_t>(v, row));
      break;
    case DUCKDB_TYPE_SMALLINT:
      c.text = std::to_string(At<int16_t>(v, row));
      break;
    case DUCKDB_TYPE_INTEGER:
      c.text = std::to_string(At<int32_t>(v, row));
      break;
    case DUCKDB_TYPE_BIGINT:
      c.text = std::to_string(At<int64_t>(v, row));
      break;
    case DUCKDB_TYPE_UTINYINT:
      c.text = std::to_string(At<uint8_t>(v, row));
      break;
    case DUCKDB_TYPE_USMALLINT:
      c.text = std::to_string(At<uint16_t>(v, row));
      break;
    case DUCKDB_TYPE_UINTEGER:
      c.text = std::to_string(At<uint32_t>(v, row));
      break;
    case DUCKDB_TYPE_UBIGINT:
      c.text = std::to_string(At<uint64_t>(v, row));
      break;
    case DUCKDB_TYPE_HUGEINT:
      c.text = Int128ToString(HugeInt(At<duckdb_hugeint>(v, row)));
      break;
    case DUCKDB_TYPE_UHUGEINT: {
      auto h = At<duckdb_uhugeint>(v, row);
      c.text = Uint128ToString(static_cast<unsigned __int128>(h.upper) << 64 | h.lower);
      break;
    }
    case DUCKDB_TYPE_FLOAT:
      c.text = DoubleText(At<float>(v, row), &c.kind);
      break;
    case DUCKDB_TYPE_DOUBLE:
      c.text = DoubleText(At<double>(v, row), &c.kind);
      break;
    case DUCKDB_TYPE_DECIMAL: {
      __int128 unscaled = 0;
      switch (t.decimal_storage) {
        case DUCKDB_TYPE_SMALLINT:
          unscaled = At<int16_t>(v, row);
          break;
        case DUCKDB_TYPE_INTEGER:
          unscaled = At<int32_t>(v, row);
          break;
        case DUCKDB_TYPE_BIGINT:
          unscaled = At<int64_t>(v, row);
          break;
        default:
          unscaled = HugeInt(At<duckdb_hugeint>(v, row));
          break;
      }
      c.text = DecimalText(unscaled, t.decimal_scale);
      break;
    }
    case DUCKDB_TYPE_VARCHAR:
      c.kind = t.json ? Cell::Kind::kJson : Cell::Kind::kString;
      c.text = std::string(StringAt(v, row));
      break;
    case DUCKDB_TYPE_BLOB:
      c.kind = Cell::Kind::kString;
      c.text = BlobText(StringAt(v, row));
      break;
    case DUCKDB_TYPE_DATE: {
      c.kind = Cell::Kind::kString;
      const int32_t days = At<duckdb_date>(v, row).days;
      c.text = days == INT32_MAX ? "infinity" : days == -INT32_MAX ? "-infinity" : DateText(days);
      break;
    }
    case DUCKDB_TYPE_TIME:
      c.kind = Cell::Kind::kString;
      c.text = TimeOfDay(At<duckdb_time>(v, row).micros);
      break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      c.kind = Cell::Kind::kString;
      c.text = TimestampText(At<duckdb_timestamp>(v, row).micros);
      break;
    case DUCKDB_TYPE_TIMESTAMP_S: {
      c.kind = Cell::Kind::kString;
      const int64_t s = At<int64_t>(v, row);
      c.text = (s == INT64_MAX || s == -INT64_MAX) ? TimestampText(s) : TimestampText(s * 1000000);
      break;
    }
    case DUCKDB_TYPE_TIMESTAMP_MS: {
      c.kind = Cell::Kind::kString;
      const int64_t ms = At<int64_t>(v, row);
      c.text = (ms == INT64_MAX || ms == -INT64_MAX) ? TimestampText(ms) : TimestampText(ms * 1000);
      break;
    }
    case DUCKDB_TYPE_TIMESTAMP_NS: {
      c.kind = Cell::Kind::kString;
      const int64_t ns = At<int64_t>(v, row);
      int64_t us = ns / 1000, extra = ns % 1000;
      if (extra < 0) {
        extra += 1000;
        --us;
      }
      c.text = (ns == INT64_MAX || ns == -INT64_MAX) ? TimestampText(ns)
                                                     : TimestampText(us, static_cast<int>(extra));
      break;
    }
    case DUCKDB_TYPE_INTERVAL:
      c.kind = Cell::Kind::kString;
      c.text = IntervalText(At<duckdb_interval>(v, row));
      break;
    case DUCKDB_TYPE_UUID:
      c.kind = Cell::Kind::kString;
      c.text = UuidText(At<duckdb_hugeint>(v, row));
      break;
    case DUCKDB_TYPE_ENUM: {
      c.kind = Cell::Kind::kString;
      uint64_t i = 0;
      switch (t.enum_storage) {
        case DUCKDB_TYPE_UTINYINT:
          i = At<uint8_t>(v, row);
          break;
        case DUCKDB_TYPE_USMALLINT:
          i = At<uint16_t>(v, row);
          break;
        default:
          i = At<uint32_t>(v, row);
          break;
      }
      c.text = i < t.enum_values.size() ? t.enum_values[i] : "";
      break;
    }
    case DUCKDB_TYPE_LIST: {
      const auto e = At<duckdb_list_entry>(v, row);
      AppendNested(*t.children[0], duckdb_list_vector_get_child(v), e.offset, e.length, &c.text);
      break;
    }
    case DUCKDB_TYPE_ARRAY:
      AppendNested(*t.children[0], duckdb_array_vector_get_child(v), row * t.array_size,
                   t.array_size, &c.text);
      break;
    case DUCKDB_TYPE_MAP: {
      // A list of {key, value} structs; written as a JSON object keyed by the key's text.
      const auto e = At<duckdb_list_entry>(v, row);
      duckdb_vector entries = duckdb_list_vector_get_child(v);
      duckdb_vector keys = duckdb_struct_vector_get_child(entries, 0);
      duckdb_vector values = duckdb_struct_vector_get_child(entries, 1);
      c.text = "{";
      for (idx_t i = 0; i < e.length; ++i) {
        if (i > 0) c.text.push_back(',');
        Cell k = ReadCell(*t.children[0], keys, e.offset + i);
        AppendJsonString(&c.text, k.kind == Cell::Kind::kNull ? "null" : k.text);
        c.text.push_back(':');
        AppendJsonCell(&c.text, ReadCell(*t.children[1], values, e.offset + i));
      }
      c.text.push_back('}');
      break;
    }
    case DUCKDB_TYPE_STRUCT:
      c.text = "{";
      for (size_t i = 0; i < t.children.size(); ++i) {
        if (i > 0) c.text.push_back(',');
        AppendJsonString(&c.text, t.field_names[i]);
        c.text.push_back(':');
        AppendJsonCell(&c.text,
                       ReadCell(*t.children[i], duckdb_struct_vector_get_child(v, i), row));
      }
      c.text.push_back('}');
      break;
    default:  // SQLNULL: every value is NULL
      c.kind = Cell::Kind::kNull;
      break;
  }
  return c;
}

}  // namespace

void AppendJsonCell(std::string* out, const Cell& cell) {
  switch (cell.kind) {
    case Cell::Kind::kNull:
      *out += "null";
      break;
    case Cell::Kind::kString:
      AppendJsonString(out, cell.text);
      break;
    case Cell::Kind::kJson:
      *out += cell.text;
      break;
  }
}

Result<ColumnReader> ColumnReader::Make(duckdb_logical_type type, const std::string& column_name) {
  auto t = BuildType(type, column_name);
  if (!t.ok()) return t.status();
  return ColumnReader(std::move(*t));
}

ColumnReader::ColumnReader(std::unique_ptr<Type> t) : type_(std::move(t)) {}
ColumnReader::ColumnReader(ColumnReader&&) noexcept = default;
ColumnReader& ColumnReader::operator=(ColumnReader&&) noexcept = default;
ColumnReader::~ColumnReader() = default;

const std::string& ColumnReader::type_name() const { return type_->name; }

Cell ColumnReader::Read(duckdb_vector v, idx_t row) const { return ReadCell(*type_, v, row); }

}  // namespace sluice
