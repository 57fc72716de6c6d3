// Text for the lab's transcripts and messages: endpoints as people write them, and client bytes
// made safe to keep and print.
#pragma once

#include "core/endpoint_text.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mxtls::lab {

using mxtls::endpoint_text;  // "127.0.0.1:25" or "[::1]:25" (core/endpoint_text.hpp)

// A client line made safe to keep and print: printable ASCII as is, other bytes as \xHH,
// cut at `max_chars` (a "..." suffix marks the cut).
std::string printable(std::string_view bytes, std::size_t max_chars = 200);

}  // namespace mxtls::lab
