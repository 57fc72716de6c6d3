// Finished probe results packed into one string for the bulk scan's probe cache: thousands of
// cached results as ~30 separate strings and vectors each fragmented the heap every later probe
// allocates from; packed, an entry is one allocation of about half the size.
#pragma once

#include "core/result.hpp"

#include <string>
#include <string_view>

namespace mxtls::scan {

// Every field of `result`, in a form only unpack_probe() reads (not a file format: it lives
// as long as one scan, in one process).
std::string pack_probe(const ProbeResult& result);

// The result pack_probe() was given. Throws std::runtime_error on bytes it did not write.
ProbeResult unpack_probe(std::string_view packed);

}  // namespace mxtls::scan
