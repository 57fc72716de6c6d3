// The --exclude list: addresses, CIDR networks and domains that a scan must never contact
// (opt-outs, abuse desks, our own networks). Lookups cost one hash probe per prefix length in
// use, so a list of many thousands of networks does not slow the scan down.
#pragma once

#include "scan/input.hpp"

#include <asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mxtls::scan {

class ExclusionList {
 public:
  // Reads one entry per line (comments with #, blank lines allowed): an IPv4/IPv6 address, a
  // network "ADDR/LEN", or a domain (which also covers its subdomains). Bad lines go to
  // `problems` with file:line; the good ones are kept. Throws std::runtime_error only when
  // the file cannot be opened. Several files may be loaded into one list.
  void load(const std::string& path, std::vector<InputProblem>& problems);

  // Adds one entry; returns why it is unusable, or an empty string. `where` labels it.
  std::string add(std::string_view entry, const std::string& where);

  // The entry that excludes this address / domain ("FILE:LINE ENTRY"), if any.
  std::optional<std::string> match_address(const asio::ip::address& address) const;
  std::optional<std::string> match_domain(std::string_view ascii_domain) const;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

 private:
  struct Key {
    std::array<std::uint8_t, 16> bytes{};  // network address, host bits cleared
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const;
  };
  // One table per (family, prefix length) in use: [0..32] IPv4, [33..161] IPv6 (33 + len).
  std::unordered_map<int, std::unordered_map<Key, std::string, KeyHash>> networks_;
  std::unordered_map<std::string, std::string> domains_;
  std::size_t size_ = 0;
};

}  // namespace mxtls::scan
