// How an address and port are written in messages, transcripts and configuration:
// "192.0.2.1:25", "[2001:db8::1]:25" (brackets, so the port cannot be read as part of an
// IPv6 address). One definition for every layer.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>

namespace mxtls {

inline std::string endpoint_text(const asio::ip::address& address, std::uint16_t port) {
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Any Asio endpoint (TCP or UDP).
template <typename Endpoint>
std::string endpoint_text(const Endpoint& endpoint) {
  return endpoint_text(endpoint.address(), endpoint.port());
}

}  // namespace mxtls
