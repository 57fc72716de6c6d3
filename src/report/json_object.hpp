// Writing one JSON object key by key, in the caller's order: the records of JSON Lines
// output and the listen/headers reports share it. Values are escaped by append_json_string,
// so hostile bytes always come out as valid UTF-8 JSON.
#pragma once

#include "report/jsonl.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::report {

// Appends "key":value pairs to one JSON object; the caller decides order and nullness.
// Every setter returns the object, so a record can be written as one chain.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }

  JsonObject& null(std::string_view k) { key(k) += "null"; return *this; }
  JsonObject& string(std::string_view k, std::string_view v) { append_json_string(key(k), v); return *this; }
  JsonObject& boolean(std::string_view k, bool v) { key(k) += v ? "true" : "false"; return *this; }
  JsonObject& integer(std::string_view k, std::int64_t v) { key(k) += std::to_string(v); return *this; }

  // Absent facts are null, not "" (DESIGN.md §5).
  JsonObject& string_or_null(std::string_view k, std::string_view v, bool present) {
    return present ? string(k, v) : null(k);
  }
  JsonObject& nonempty_or_null(std::string_view k, std::string_view v) { return string_or_null(k, v, !v.empty()); }
  JsonObject& optional_bool(std::string_view k, std::optional<bool> v) { return v ? boolean(k, *v) : null(k); }
  JsonObject& strings(std::string_view k, const std::vector<std::string>& items) {
    std::string& out = key(k);
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, items[i]);
    }
    out += ']';
    return *this;
  }
  JsonObject& strings_or_null(std::string_view k, const std::vector<std::string>* items) {
    return items ? strings(k, *items) : null(k);
  }
  // Pre-rendered JSON value (nested object or array built by the caller).
  JsonObject& raw(std::string_view k, std::string_view json) { key(k) += json; return *this; }

  void close() { out_ += '}'; }

 private:
  std::string& key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    append_json_string(out_, k);
    out_ += ':';
    return out_;
  }
  std::string& out_;
  bool first_ = true;
};

}  // namespace mxtls::report
