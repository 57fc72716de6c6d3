// What one lookup hands back (the answer and its records of the asked type) and the packed
// form the resolver's cache keeps it in: one string per (name, type), a few dozen bytes for a
// typical A or MX answer instead of half a kilobyte of structs, vectors and strings.
#pragma once

#include "dns/resolver.hpp"

#include <asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mxtls::dns {

struct Resolution {
  Answer answer;
  std::vector<MxRecord> mx;
  std::vector<asio::ip::address> addresses;
  std::vector<std::string> texts;
  std::vector<TlsaRecord> tlsa;
};

// pack() writes every field; unpack(pack(r)) equals r. The packed form is ours (never read from
// the network), but unpack() still checks every length against what is left and throws
// std::invalid_argument on a short or overlong string rather than read past its end.
std::string pack(const Resolution& resolution);
Resolution unpack(std::string_view packed);

}  // namespace mxtls::dns
