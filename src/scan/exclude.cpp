// Exclusion list parsing and matching: see exclude.hpp.
#include "scan/exclude.hpp"

#include "core/domain_name.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace mxtls::scan {
namespace {

std::array<std::uint8_t, 16> address_bytes(const asio::ip::address& address) {
  std::array<std::uint8_t, 16> out{};
  if (address.is_v4()) {
    const auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.begin());
  } else {
    const auto v6 = address.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), out.begin());
  }
  return out;
}

std::array<std::uint8_t, 16> masked(std::array<std::uint8_t, 16> bytes, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);
    bytes[static_cast<std::size_t>(i)] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xFF << (8 - keep));
  }
  return bytes;
}

// IPv4-mapped IPv6 (::ffff:192.0.2.1) is the IPv4 address for matching purposes.
asio::ip::address plain(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  return address;
}

}  // namespace

std::size_t ExclusionList::KeyHash::operator()(const Key& key) const {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const auto b : key.bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return static_cast<std::size_t>(hash);
}

std::string ExclusionList::add(std::string_view entry, const std::string& where) {
  const std::string label = where + " " + std::string(entry);
  const auto slash = entry.find('/');
  asio::error_code ec;
  const auto address = asio::ip::make_address(std::string(entry.substr(0, slash)), ec);
  if (!ec) {
    const asio::ip::address ip = plain(address);
    const int max_prefix = ip.is_v4() ? 32 : 128;
    int prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const auto digits = entry.substr(slash + 1);
      const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() || prefix < 0 ||
          prefix > max_prefix)
        return "bad prefix length (0-" + std::to_string(max_prefix) + ")";
    }
    const int table = ip.is_v4() ? prefix : 33 + prefix;
    networks_[table].emplace(Key{masked(address_bytes(ip), prefix)}, label);
    ++size_;
    return {};
  }
  if (slash != std::string_view::npos) return "not an address or network";
  auto normalised = normalize_domain(entry);
  if (auto* error = std::get_if<NameError>(&normalised)) return "neither an address nor a domain: " + error->reason;
  domains_.emplace(std::get<std::string>(normalised), label);
  ++size_;
  return {};
}

void ExclusionList::load(const std::string& path, std::vector<InputProblem>& problems) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open exclude list '" + path + "'");
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text(line);
    if (const auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    if (text.empty()) continue;
    const std::string where = path + ":" + std::to_string(number);
    const std::string problem = add(text, where);
    if (!problem.empty()) problems.push_back({where, printable(text, 80), problem});
  }
}

std::optional<std::string> ExclusionList::match_address(const asio::ip::address& address) const {
  if (networks_.empty()) return std::nullopt;
  const asio::ip::address ip = plain(address);
  const auto bytes = address_bytes(ip);
  for (const auto& [table, entries] : networks_) {
    const bool v4_table = table <= 32;
    if (v4_table != ip.is_v4()) continue;
    const int prefix = v4_table ? table : table - 33;
    if (const auto it = entries.find(Key{masked(bytes, prefix)}); it != entries.end()) return it->second;
  }
  return std::nullopt;
}

std::optional<std::string> ExclusionList::match_domain(std::string_view ascii_domain) const {
  if (domains_.empty()) return std::nullopt;
  std::string_view name = ascii_domain;
  for (;;) {  // the name itself, then each parent: "a.b.c", "b.c", "c"
    if (const auto it = domains_.find(std::string(name)); it != domains_.end()) return it->second;
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    name.remove_prefix(dot + 1);
  }
}

}  // namespace mxtls::scan
