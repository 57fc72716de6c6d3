// UTF-8 handling for reports: every string in a result may hold hostile bytes from the network,
// so the writers decode strictly, replace what is not well-formed, and measure display width.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mxtls::report {

inline constexpr char32_t replacement_character = 0xFFFD;

// One step of strict UTF-8 decoding (RFC 3629 / Unicode table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF). An ill-formed sequence yields valid == false and
// consumes its maximal subpart (Unicode's recommended practice), so one broken character
// becomes exactly one U+FFFD and decoding resynchronises on the next possible lead byte.
struct DecodedCodePoint {
  char32_t code_point = 0;
  std::size_t length = 1;  // bytes consumed, always >= 1
  bool valid = false;
};
DecodedCodePoint decode_utf8(std::string_view bytes, std::size_t pos);

void append_utf8(std::string& out, char32_t code_point);

// Well-formed UTF-8 with every ill-formed sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// For a terminal: well-formed UTF-8 where C0/C1 controls, DEL and bidirectional overrides
// (which let a hostile banner move the cursor, recolour or visually reorder the report) are
// shown as \xNN / \u{NNNN}; ill-formed bytes become U+FFFD. Cut with "…" past max_bytes.
std::string terminal_safe(std::string_view bytes, std::size_t max_bytes = 512);

// Approximate terminal columns: East Asian wide and fullwidth code points count 2, combining
// marks and zero-width characters 0, everything else 1. Ill-formed bytes count 1 each
// (they are shown as U+FFFD). Meant for text already passed through terminal_safe().
std::size_t display_width(std::string_view utf8);

// `text` followed by spaces up to `columns` display columns (no cut when it is wider).
std::string pad_to_width(std::string_view text, std::size_t columns);

}  // namespace mxtls::report
