// Domain name normalisation with libidn2 (IDNA 2008, non-transitional, as browsers and
// modern MTAs do). Every rejection says why, so `scan` can report file:line and go on.
#include "core/domain_name.hpp"

#include "core/text.hpp"

#include <idn2.h>

#include <cstdlib>
#include <memory>
#include <optional>

namespace mxtls {
namespace {

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<std::string> check_ascii_name(const std::string& name) {
  if (name.size() > 253) return "longer than 253 characters";
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      const std::size_t len = i - label_start;
      if (len == 0) return "empty label";
      if (len > 63) return "label longer than 63 characters";
      if (name[label_start] == '-' || name[i - 1] == '-') return "label starts or ends with '-'";
      label_start = i + 1;
    } else if (!is_ldh(name[i])) {
      return "character '" + printable(std::string_view(&name[i], 1)) + "' not allowed in a host name";
    }
  }
  if (name.find('.') == std::string::npos) return "not a fully qualified domain name";
  return std::nullopt;
}

}  // namespace

std::variant<std::string, NameError> normalize_domain(std::string_view input) {
  std::string_view name = trim(input);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return NameError{"empty domain name"};
  if (name.size() > 1024) return NameError{"longer than 1024 bytes"};

  bool ascii = true;
  for (char c : name) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  std::string out;
  if (ascii) {
    out = ascii_lower(name);
  } else {
    char* converted = nullptr;
    const std::string owned(name);
    const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(owned.c_str()),
                                  reinterpret_cast<uint8_t**>(&converted), IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    std::unique_ptr<char, decltype(&idn2_free)> holder(converted, &idn2_free);
    if (rc != IDN2_OK) return NameError{std::string("not a valid internationalised domain name: ") + idn2_strerror(rc)};
    out = ascii_lower(converted);
  }
  if (auto why = check_ascii_name(out)) return NameError{*why};
  return out;
}

std::string display_domain(const std::string& ascii) {
  if (ascii.find("xn--") == std::string::npos) return ascii;
  char* unicode = nullptr;
  if (idn2_to_unicode_8z8z(ascii.c_str(), &unicode, 0) != IDN2_OK) return ascii;
  std::unique_ptr<char, decltype(&idn2_free)> holder(unicode, &idn2_free);
  return unicode;
}

}  // namespace mxtls
