// The demo zone (data/lab.zone) compiled into the binary by src/lab/embed_text.py, so
// `mxtls lab` and `mxtls demo` work from a bare executable with no data files installed.
#pragma once

#include <string_view>

namespace mxtls::lab {

std::string_view builtin_zone_text();

}  // namespace mxtls::lab
