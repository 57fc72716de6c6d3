// Strict UTF-8 decoding, sanitising and display-width measurement for the report writers.
// Nothing here may throw or read past the input: it runs on bytes a hostile server chose.
#include "report/utf8.hpp"

#include <array>
#include <cstdio>
#include <utility>

namespace mxtls::report {

DecodedCodePoint decode_utf8(std::string_view bytes, std::size_t pos) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};

  // Table 3-7: the allowed range of the second byte depends on the lead byte; that is what
  // excludes overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
  std::size_t length = 0;
  unsigned char second_lo = 0x80, second_hi = 0xBF;
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) { length = 2; cp = lead & 0x1F; }
  else if (lead == 0xE0) { length = 3; second_lo = 0xA0; cp = lead & 0x0F; }
  else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) { length = 3; cp = lead & 0x0F; }
  else if (lead == 0xED) { length = 3; second_hi = 0x9F; cp = lead & 0x0F; }
  else if (lead == 0xF0) { length = 4; second_lo = 0x90; cp = lead & 0x07; }
  else if (lead >= 0xF1 && lead <= 0xF3) { length = 4; cp = lead & 0x07; }
  else if (lead == 0xF4) { length = 4; second_hi = 0x8F; cp = lead & 0x07; }
  else return {replacement_character, 1, false};  // 80..C1, F5..FF never start a character

  for (std::size_t k = 1; k < length; ++k) {
    if (pos + k >= bytes.size()) return {replacement_character, k, false};  // truncated
    const unsigned char c = byte(pos + k);
    const unsigned char lo = k == 1 ? second_lo : 0x80;
    const unsigned char hi = k == 1 ? second_hi : 0xBF;
    if (c < lo || c > hi) return {replacement_character, k, false};  // maximal subpart
    cp = (cp << 6) | (c & 0x3F);
  }
  return {cp, length, true};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = replacement_character;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const auto d = decode_utf8(bytes, i);
    if (d.valid)
      out.append(bytes.substr(i, d.length));
    else
      append_utf8(out, replacement_character);
    i += d.length;
  }
  return out;
}

namespace {

// Characters that reorder text visually (Trojan-Source style): a banner could make a
// report line read differently from what it says.
bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
         cp == 0x200F || cp == 0x061C;
}

bool is_zero_width(char32_t cp) {
  static constexpr std::array<std::pair<char32_t, char32_t>, 9> ranges{{
      {0x0300, 0x036F},  // combining diacritical marks
      {0x0483, 0x0489},
      {0x0591, 0x05BD},
      {0x1AB0, 0x1AFF},
      {0x1DC0, 0x1DFF},
      {0x200B, 0x200F},  // zero-width space/joiners, marks
      {0x20D0, 0x20FF},
      {0xFE00, 0xFE0F},  // variation selectors
      {0xFE20, 0xFE2F},
  }};
  for (const auto& [lo, hi] : ranges)
    if (cp >= lo && cp <= hi) return true;
  return cp == 0x3099 || cp == 0x309A;  // combining kana voiced marks
}

// East Asian Width W/F, approximately (UAX #11): enough for CJK domain names and banners.
bool is_wide(char32_t cp) {
  static constexpr std::array<std::pair<char32_t, char32_t>, 17> ranges{{
      {0x1100, 0x115F},    // Hangul Jamo initials
      {0x2E80, 0x303E},    // CJK radicals, Kangxi, ideographic punctuation
      {0x3041, 0x3096},    // Hiragana
      {0x309B, 0x33FF},    // Katakana, Bopomofo, compatibility
      {0x3400, 0x4DBF},    // CJK extension A
      {0x4E00, 0x9FFF},    // CJK unified ideographs
      {0xA000, 0xA4CF},    // Yi
      {0xA960, 0xA97F},    // Hangul Jamo extended A
      {0xAC00, 0xD7A3},    // Hangul syllables
      {0xF900, 0xFAFF},    // CJK compatibility ideographs
      {0xFE10, 0xFE19},    // vertical forms
      {0xFE30, 0xFE6F},    // CJK compatibility forms, small forms
      {0xFF00, 0xFF60},    // fullwidth forms
      {0xFFE0, 0xFFE6},    // fullwidth signs
      {0x1F300, 0x1F64F},  // pictographs, emoticons
      {0x1F900, 0x1F9FF},  // supplemental symbols
      {0x20000, 0x3FFFD},  // CJK extensions B and beyond
  }};
  for (const auto& [lo, hi] : ranges)
    if (cp >= lo && cp <= hi) return true;
  return false;
}

}  // namespace

std::string terminal_safe(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto d = decode_utf8(bytes, i);
    std::string piece;
    char buf[16];
    if (!d.valid) {
      append_utf8(piece, replacement_character);
    } else if (d.code_point < 0x20 || d.code_point == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(d.code_point));
      piece = buf;
    } else if ((d.code_point >= 0x80 && d.code_point <= 0x9F) || is_bidi_control(d.code_point)) {
      std::snprintf(buf, sizeof buf, "\\u{%04X}", static_cast<unsigned>(d.code_point));
      piece = buf;
    } else {
      piece.assign(bytes.substr(i, d.length));
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "…";
      break;
    }
    out += piece;
    i += d.length;
  }
  return out;
}

std::size_t display_width(std::string_view utf8) {
  std::size_t columns = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto d = decode_utf8(utf8, i);
    if (!d.valid) columns += 1;
    else if (d.code_point < 0x20 || (d.code_point >= 0x7F && d.code_point <= 0x9F)) columns += 0;
    else if (is_zero_width(d.code_point)) columns += 0;
    else columns += is_wide(d.code_point) ? 2 : 1;
    i += d.length;
  }
  return columns;
}

std::string pad_to_width(std::string_view text, std::size_t columns) {
  std::string out(text);
  const std::size_t width = display_width(text);
  if (width < columns) out.append(columns - width, ' ');
  return out;
}

}  // namespace mxtls::report
