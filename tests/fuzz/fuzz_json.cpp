// libFuzzer target for the strict JSON reader behind `scan --resume` and `mxtls report`
// (report::parse_json): arbitrary bytes with the default limits and with a small depth limit.
// A value that parses is written back with the report's own JSON writer and must parse again
// to the same value.
#include "report/json_read.hpp"
#include "report/jsonl.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using mxtls::report::JsonValue;

// Writer for the round trip. Numbers go out with 17 significant digits, which strtod reads
// back to the same double.
void write(const JsonValue& v, std::string& out) {
  switch (v.type) {
    case JsonValue::Type::null: out += "null"; break;
    case JsonValue::Type::boolean: out += v.boolean ? "true" : "false"; break;
    case JsonValue::Type::number: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", v.number);
      out += buf;
      break;
    }
    case JsonValue::Type::string: mxtls::report::append_json_string(out, v.text); break;
    case JsonValue::Type::array:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        write(v.items[i], out);
      }
      out += ']';
      break;
    case JsonValue::Type::object:
      out += '{';
      for (std::size_t i = 0; i < v.members.size(); ++i) {
        if (i) out += ',';
        const auto& [name, value] = v.members[i];
        mxtls::report::append_json_string(out, name);
        out += ':';
        write(value, out);
      }
      out += '}';
      break;
  }
}

bool same(const JsonValue& a, const JsonValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case JsonValue::Type::null: return true;
    case JsonValue::Type::boolean: return a.boolean == b.boolean;
    case JsonValue::Type::number: return a.number == b.number;
    case JsonValue::Type::string: return a.text == b.text;
    case JsonValue::Type::array:
      if (a.items.size() != b.items.size()) return false;
      for (std::size_t i = 0; i < a.items.size(); ++i)
        if (!same(a.items[i], b.items[i])) return false;
      return true;
    case JsonValue::Type::object:
      if (a.members.size() != b.members.size()) return false;
      for (std::size_t i = 0; i < a.members.size(); ++i) {
        const auto& [a_name, a_value] = a.members[i];
        const auto& [b_name, b_value] = b.members[i];
        if (a_name != b_name || !same(a_value, b_value)) return false;
      }
      return true;
  }
  return false;
}

// Strings the reader returns are what the file said after unescaping; the writer escapes
// controls (lossless) but replaces ill-formed UTF-8 with U+FFFD, so the round trip is exact
// only when every string is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates).
bool well_formed(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    if (n == 3) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return false;
    }
    if (n == 4) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return false;
    }
    i += n;
  }
  return true;
}

bool well_formed_everywhere(const JsonValue& v) {
  switch (v.type) {
    case JsonValue::Type::string: return well_formed(v.text);
    case JsonValue::Type::array:
      for (const auto& item : v.items)
        if (!well_formed_everywhere(item)) return false;
      return true;
    case JsonValue::Type::object:
      for (const auto& [name, value] : v.members)
        if (!well_formed(name) || !well_formed_everywhere(value)) return false;
      return true;
    default: return true;
  }
}

std::size_t depth_of(const JsonValue& v) {
  std::size_t deepest = 0;
  for (const auto& item : v.items) deepest = std::max(deepest, depth_of(item));
  for (const auto& [name, value] : v.members) deepest = std::max(deepest, depth_of(value));
  return v.type == JsonValue::Type::array || v.type == JsonValue::Type::object ? deepest + 1 : deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto value = mxtls::report::parse_json(text, &error);
  if (!value) {
    if (error.empty()) std::abort();  // a failure always says why
  } else {
    if (depth_of(*value) > 33) std::abort();  // max_depth 32 nested below the top value
    if (!std::isfinite(value->number)) std::abort();
    // Typed accessors on whatever came out.
    for (const char* key : {"record", "domain", "preference", "starttls", "mx"}) {
      (void)value->string_at(key);
      (void)value->integer_at(key);
      (void)value->bool_at(key);
    }
    if (well_formed_everywhere(*value)) {
      std::string written;
      write(*value, written);
      std::string error2;
      const auto again = mxtls::report::parse_json(written, &error2);
      if (!again || !same(*value, *again)) std::abort();
    }
  }
  // A tight depth limit must fail cleanly, never recurse past it.
  (void)mxtls::report::parse_json(text, nullptr, {.max_depth = 3, .max_bytes = 256});
  return 0;
}
