// libFuzzer target for `mxtls scan` input: the bytes are a domain list file read by
// DomainListReader (comments, CRLF, "RANK,domain" lines, IDNs through libidn2, over-long
// lines), and each line on its own through normalize_domain / display_domain.
#include "core/domain_name.hpp"
#include "scan/input.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

namespace {

// What every accepted A-label must look like, whatever the input was.
void check_ascii_name(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.find('.') == std::string::npos) std::abort();
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) std::abort();
  std::size_t label = 0;
  for (const char c : name) {
    if (c == '.') {
      label = 0;
      continue;
    }
    if (++label > 63) std::abort();
    const bool ldh = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ldh) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  std::istringstream in(bytes);
  mxtls::scan::DomainListReader reader(in, "fuzz.txt");
  std::size_t last_line = 0;
  for (;;) {
    auto item = reader.next();
    using Kind = mxtls::scan::DomainListReader::Item::Kind;
    if (item.kind == Kind::end) break;
    if (item.kind == Kind::domain) {
      if (item.domain.line <= last_line) std::abort();
      last_line = item.domain.line;
      check_ascii_name(item.domain.ascii);
      // Normalising is idempotent: the A-label is its own normal form.
      const auto again = mxtls::normalize_domain(item.domain.ascii);
      if (!std::holds_alternative<std::string>(again) || std::get<std::string>(again) != item.domain.ascii)
        std::abort();
      (void)mxtls::display_domain(item.domain.ascii);
    } else {
      // Problems quote the line made printable and cut at 80 bytes plus "…" (3 bytes).
      if (item.problem.text.size() > 80 + 3 || item.problem.reason.empty()) std::abort();
    }
  }
  if (reader.lines_read() > size + 1) std::abort();

  // The same bytes as one name, as --exclude entries and `mxtls check DOMAIN` see them.
  const auto single = mxtls::normalize_domain(bytes);
  if (const auto* ascii = std::get_if<std::string>(&single)) {
    check_ascii_name(*ascii);
    (void)mxtls::display_domain(*ascii);
  }
  (void)mxtls::display_domain(bytes.substr(0, bytes.find('\0')));
  return 0;
}
