// Small text helpers shared by every layer: make hostile bytes printable, lower-case ASCII,
// and format UTC timestamps. Anything shown to a user or written to a report passes here.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls {

// Printable ASCII and well-formed UTF-8 are kept; every other byte becomes "\xNN".
// The result is cut (with "…") once it would exceed max_bytes, so a hostile peer cannot
// make a report line arbitrarily long.
std::string printable(std::string_view bytes, std::size_t max_bytes = 512);

std::string ascii_lower(std::string_view);
std::string ascii_upper(std::string_view);

// "a, b, c"
std::string join(const std::vector<std::string>& items, std::string_view separator);

// "2026-11-22T13:08:37Z"
std::string rfc3339_utc(std::chrono::system_clock::time_point);

}  // namespace mxtls
