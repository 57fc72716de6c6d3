// A small, strict JSON reader for reading our own JSON Lines back (`scan --resume`, `report`).
// The files may have been cut by a crash or edited by hand, so the reader bounds depth and
// size and reports what is wrong instead of trusting the input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxtls::report {

struct JsonMember;

struct JsonValue {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  double number = 0;
  std::string text;                                          // string
  std::vector<JsonValue> items;                              // array
  // Object members in file order. A struct, not std::pair: a pair of an incomplete type is
  // not allowed (GCC accepts it, clang's libstdc++ checks refuse).
  std::vector<JsonMember> members;

  const JsonValue* find(std::string_view key) const;  // object member, or nullptr
  // Typed access to an object member; nullopt when absent, null or of another type.
  std::optional<std::string> string_at(std::string_view key) const;
  std::optional<std::int64_t> integer_at(std::string_view key) const;
  std::optional<bool> bool_at(std::string_view key) const;
};

struct JsonMember {
  std::string name;
  JsonValue value;
};

struct JsonLimits {
  std::size_t max_depth = 32;
  std::size_t max_bytes = 1 << 20;  // one record
};

// Parses exactly one JSON value (surrounding whitespace allowed). On failure returns nullopt
// and sets `error` to the reason and byte offset.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr, JsonLimits limits = {});

}  // namespace mxtls::report
