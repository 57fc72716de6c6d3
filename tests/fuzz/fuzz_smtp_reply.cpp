// libFuzzer target: arbitrary server bytes through the SMTP reply parser and EHLO parsing,
// fed in the chunks a network would deliver them in.
#include "smtp/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size, so splits at every position get explored.
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  mxtls::smtp::ReplyParser parser({.max_line_bytes = 512, .max_lines = 32, .max_reply_bytes = 8192});
  while (!bytes.empty()) {
    const auto piece = bytes.substr(0, chunk);
    const std::size_t used = parser.feed(piece);
    bytes.remove_prefix(used);
    if (parser.state() == mxtls::smtp::ReplyParser::State::complete) {
      auto reply = parser.take();
      auto ext = mxtls::smtp::parse_ehlo(reply);
      (void)ext.has("STARTTLS");
      (void)ext.params("AUTH");
    } else if (parser.state() == mxtls::smtp::ReplyParser::State::error) {
      parser.reset();
    } else if (used == 0) {
      break;
    }
  }
  return 0;
}
