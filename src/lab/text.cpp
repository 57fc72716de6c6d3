// Text for the lab's transcripts and messages (see text.hpp).
#include "lab/text.hpp"

namespace mxtls::lab {

std::string printable(std::string_view bytes, std::size_t max_chars) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

}  // namespace mxtls::lab
