// Domain names as users type them → the A-label form the scanner uses: trimmed, lower-case,
// no trailing dot, IDNs converted with libidn2 (例え.jp → xn--r8jz45g.jp), lengths checked.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace mxtls {

struct NameError {
  std::string reason;
};

// Returns the A-label form or why the input is not a usable domain name.
std::variant<std::string, NameError> normalize_domain(std::string_view input);

// The U-label form for display (xn--r8jz45g.jp → 例え.jp); the input when not convertible.
std::string display_domain(const std::string& ascii);

}  // namespace mxtls
