// libFuzzer target: arbitrary server bytes as the HTTP response to an MTA-STS policy fetch,
// parsed at every prefix length a network could deliver (first byte picks the step).
#include "tls/http_response.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 97;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  for (std::size_t n = 0; n <= bytes.size(); n += step) {
    const auto r = mxtls::tls::parse_http_response(bytes.substr(0, n), false, 4096);
    if (r.complete) break;
  }
  (void)mxtls::tls::parse_http_response(bytes, true, 4096);
  return 0;
}
