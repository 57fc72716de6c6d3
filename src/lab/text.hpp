// Text for the lab's transcripts and messages: endpoints as people write them, and client bytes
// made safe to keep and print.
#pragma once

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mxtls::lab {

// "127.0.0.1:25" or "[::1]:25", for messages and transcripts.
std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint);
std::string endpoint_text(const asio::ip::address& address, std::uint16_t port);

// A client line made safe to keep and print: printable ASCII as is, other bytes as \xHH,
// cut at `max_chars` (a "..." suffix marks the cut).
std::string printable(std::string_view bytes, std::size_t max_chars = 200);

}  // namespace mxtls::lab
