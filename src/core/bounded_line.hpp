// Reading text input one line at a time without trusting its line lengths: a line longer
// than the bound is consumed to its end but not kept, so a file or pipe without newlines
// costs at most the bound in memory.
#pragma once

#include <cstddef>
#include <streambuf>
#include <string>

namespace mxtls {

// One line (without its LF) into `line`, at most `max_bytes` of it; `too_long` says that more
// was dropped. Returns false at the end of input when nothing was read.
inline bool read_bounded_line(std::streambuf* in, std::string& line, std::size_t max_bytes, bool& too_long) {
  line.clear();
  too_long = false;
  if (in == nullptr) return false;
  bool any = false;
  for (;;) {
    const auto c = in->sbumpc();
    if (c == std::char_traits<char>::eof()) return any;
    any = true;
    if (c == '\n') return true;
    if (line.size() < max_bytes) line.push_back(static_cast<char>(c));
    else too_long = true;
  }
}

}  // namespace mxtls
