// libFuzzer target for `--exclude` lists (scan::ExclusionList): each input line is one entry
// (address, ADDR/LEN network or domain, IDN included). What is accepted must then match:
// an accepted network matches its own address, an accepted domain its A-label and subdomains.
#include "core/domain_name.hpp"
#include "scan/exclude.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  mxtls::scan::ExclusionList list;
  std::size_t accepted = 0, number = 0;
  for (std::size_t start = 0; start <= input.size() && number < 64;) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view entry = input.substr(start, end - start);
    start = end + 1;
    ++number;
    const std::string problem = list.add(entry, "fuzz:" + std::to_string(number));
    if (!problem.empty()) continue;
    ++accepted;
    if (list.size() != accepted) std::abort();

    const auto slash = entry.find('/');
    asio::error_code ec;
    const auto address = asio::ip::make_address(std::string(entry.substr(0, slash)), ec);
    if (!ec) {
      if (!list.match_address(address)) std::abort();
    } else {
      const auto name = mxtls::normalize_domain(entry);
      const auto* ascii = std::get_if<std::string>(&name);
      if (ascii == nullptr) std::abort();  // add() accepted what normalize_domain rejects
      if (!list.match_domain(*ascii) || !list.match_domain("sub." + *ascii)) std::abort();
    }
  }
  // Lookups with names and addresses that come from the input too.
  asio::error_code ec;
  const auto probe = asio::ip::make_address(std::string(input.substr(0, input.find('\n'))), ec);
  if (!ec) (void)list.match_address(probe);
  (void)list.match_address(asio::ip::make_address("127.0.0.1"));
  (void)list.match_address(asio::ip::make_address("::ffff:127.0.0.1"));
  (void)list.match_domain(input.substr(0, 300));
  return 0;
}
