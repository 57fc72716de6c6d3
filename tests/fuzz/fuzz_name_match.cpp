// libFuzzer target for dns_name_matches: the input is split at the first '\n' into a
// certificate pattern and a host name. Besides crashes it checks the rule's invariants.
#include "tls/certificate.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

std::string lower_without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lowered(name);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lowered;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\n');
  const std::string_view pattern = input.substr(0, split);
  const std::string_view host = split == std::string_view::npos ? std::string_view{} : input.substr(split + 1);

  const bool matched = mxtls::tls::dns_name_matches(pattern, host);
  if (!matched) return 0;

  // A match implies: the host is a plain name (no wildcard, no NUL) within DNS limits, and either
  // the names are equal ignoring ASCII case and one trailing dot, or the pattern is "*." + the
  // host's parent, with at least two labels in that parent.
  const std::string plain_host = lower_without_trailing_dot(host);
  const std::string plain_pattern = lower_without_trailing_dot(pattern);
  if (plain_host.find('*') != std::string::npos || plain_host.find('\0') != std::string::npos ||
      plain_host.size() > 253) {
    __builtin_trap();
  }
  if (plain_pattern == plain_host) return 0;
  const std::size_t first_dot = plain_host.find('.');
  if (plain_pattern.rfind("*.", 0) != 0 || first_dot == std::string::npos ||
      plain_pattern.substr(2) != plain_host.substr(first_dot + 1) ||
      plain_pattern.find('.', 2) == std::string::npos) {
    __builtin_trap();
  }
  // Matching is a pure function of the names ignoring ASCII case: same answer with the host's
  // case flipped.
  std::string flipped(host);
  for (char& c : flipped) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (!mxtls::tls::dns_name_matches(pattern, flipped)) __builtin_trap();
  return 0;
}
