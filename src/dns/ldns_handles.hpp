// RAII owners for ldns objects (internal to src/dns): std::unique_ptr with a deleter per type,
// so packets, records and names are freed on every path, including early returns on bad input.
#pragma once

// ldns/common.h #defines bool, true and false as macros unless stdbool.h came first; in C++
// those macros break the standard library (e.g. <optional>'s operator<=>). Include ldns only
// through this header.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers): must precede ldns
#include <ldns/ldns.h>

#include <cstdlib>
#include <memory>

namespace mxtls::dns::detail {

template <auto FreeFunction>
struct LdnsFreeWith {
  template <typename T>
  void operator()(T* object) const noexcept {
    if (object != nullptr) FreeFunction(object);
  }
};

using LdnsPktPtr = std::unique_ptr<ldns_pkt, LdnsFreeWith<&ldns_pkt_free>>;
using LdnsRrPtr = std::unique_ptr<ldns_rr, LdnsFreeWith<&ldns_rr_free>>;
using LdnsRdfPtr = std::unique_ptr<ldns_rdf, LdnsFreeWith<&ldns_rdf_deep_free>>;

// Buffers ldns allocates with malloc (ldns_pkt2wire output, ldns_rdf2str text).
struct MallocFree {
  void operator()(void* memory) const noexcept { std::free(memory); }
};
template <typename T>
using MallocPtr = std::unique_ptr<T, MallocFree>;

}  // namespace mxtls::dns::detail
