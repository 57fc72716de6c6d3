// libFuzzer target: arbitrary bytes as a message's header section (small caps, so the limits
// themselves get exercised) and as one Received: value. Checks that the caps hold.
#include "mail/received.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mxtls::mail::HeaderLimits limits;
  limits.max_section_bytes = 8192;
  limits.max_headers = 40;
  limits.max_header_bytes = 1024;
  limits.max_received = 8;
  const auto parsed = mxtls::mail::parse_headers(bytes, limits);
  if (parsed.fields.size() > limits.max_headers || parsed.hops.size() > limits.max_received ||
      parsed.section_bytes > limits.max_section_bytes)
    std::abort();
  for (const auto& field : parsed.fields)
    if (field.value.size() > limits.max_header_bytes) std::abort();
  (void)mxtls::mail::summarize(parsed.hops);

  const auto hop = mxtls::mail::parse_received(bytes);
  (void)mxtls::mail::normalize_tls_version(hop.tls_version);
  return 0;
}
