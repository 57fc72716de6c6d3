// Which names a zone's text points at which address (A/AAAA records only). The fleet uses it
// to name each server's certificate after the MX hosts the zone sends to that server.
#pragma once

#include <asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mxtls::lab {

struct AddressRecord {
  std::string name;  // lower-case, no trailing dot
  asio::ip::address address;
};

// Reads master-file text (RFC 1035 §5: $ORIGIN, $TTL, "@", relative names, blank owners,
// parenthesised continuations, ";" comments). Lines that are not well-formed A/AAAA records
// are skipped: the authoritative parse belongs to the DNS server; this only names certificates.
std::vector<AddressRecord> address_records(std::string_view zone_text);

}  // namespace mxtls::lab
