// Plans the scale lab: names, host addresses, the personality of each host (exact proportions
// by smooth weighted round robin over a seeded shuffle) and the zone text, built by appending
// into one string because a 100 000-domain zone must take milliseconds, not seconds.
#include "lab/scale_zone.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace mxtls::lab {
namespace {

constexpr std::array<std::string_view, scale_personality_count> personality_names{
    "good", "no_starttls", "self_signed", "busy", "slow_banner", "tarpit", "silent", "refused", "tls_stall"};

// 127.64.0.0/10: 127.64.0.0 – 127.127.255.255.
constexpr std::uint32_t scale_range_first = (127u << 24) | (64u << 16);
constexpr std::uint32_t scale_range_last = (127u << 24) | (127u << 16) | 0xFFFFu;
constexpr std::size_t max_providers = 9999;  // p0000 … p9999

std::size_t index_of(ScalePersonality p) { return static_cast<std::size_t>(p); }

bool valid_apex(std::string_view apex) {
  if (apex.empty() || apex.size() > 200 || apex.front() == '.' || apex.back() == '.') return false;
  return std::all_of(apex.begin(), apex.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

void append_number(std::string& out, std::uint64_t value, int width) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;  // 24 characters always hold a 64-bit number
  for (int pad = width - static_cast<int>(end - digits); pad > 0; --pad) out += '0';
  out.append(digits, end);
}

void append_address(std::string& out, asio::ip::address_v4 address) {
  const auto bytes = address.to_bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += '.';
    append_number(out, bytes[i], 0);
  }
}

}  // namespace

std::string_view to_string(ScalePersonality p) { return personality_names[index_of(p)]; }

std::optional<ScalePersonality> scale_personality_from_string(std::string_view text) {
  for (std::size_t i = 0; i < personality_names.size(); ++i)
    if (personality_names[i] == text) return static_cast<ScalePersonality>(i);
  return std::nullopt;
}

const std::array<ScalePersonality, scale_personality_count>& all_scale_personalities() {
  static const std::array<ScalePersonality, scale_personality_count> all = [] {
    std::array<ScalePersonality, scale_personality_count> list{};
    for (std::size_t i = 0; i < list.size(); ++i) list[i] = static_cast<ScalePersonality>(i);
    return list;
  }();
  return all;
}

PersonalityMix default_personality_mix() {
  PersonalityMix mix{};
  mix[index_of(ScalePersonality::good)] = 70;
  mix[index_of(ScalePersonality::no_starttls)] = 8;
  mix[index_of(ScalePersonality::self_signed)] = 8;
  mix[index_of(ScalePersonality::busy)] = 4;
  mix[index_of(ScalePersonality::slow_banner)] = 3;
  mix[index_of(ScalePersonality::tarpit)] = 1;
  mix[index_of(ScalePersonality::silent)] = 2;
  mix[index_of(ScalePersonality::refused)] = 4;
  mix[index_of(ScalePersonality::tls_stall)] = 0;
  return mix;
}

PersonalityMix parse_personality_mix(std::string_view text) {
  if (text.empty() || text == "default") return default_personality_mix();
  PersonalityMix mix{};
  double total = 0;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto equals = item.find('=');
    if (equals == std::string_view::npos)
      throw std::invalid_argument("personality mix: '" + std::string(item) + "' is not NAME=WEIGHT");
    const auto personality = scale_personality_from_string(item.substr(0, equals));
    if (!personality)
      throw std::invalid_argument("personality mix: unknown personality '" + std::string(item.substr(0, equals)) + "'");
    const std::string weight_text(item.substr(equals + 1));
    std::size_t used = 0;
    double weight = -1;
    try {
      weight = std::stod(weight_text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != weight_text.size() || !std::isfinite(weight) || weight < 0)
      throw std::invalid_argument("personality mix: bad weight '" + weight_text + "'");
    mix[index_of(*personality)] = weight;
    total += weight;
  }
  if (total <= 0) throw std::invalid_argument("personality mix: every weight is zero");
  return mix;
}

std::string mix_text(const PersonalityMix& mix) {
  std::string text;
  for (std::size_t i = 0; i < mix.size(); ++i) {
    if (mix[i] <= 0) continue;
    if (!text.empty()) text += ',';
    char weight[32];
    auto [end, ec] = std::to_chars(weight, weight + sizeof weight, mix[i]);
    (void)ec;
    text += std::string(personality_names[i]) + "=" + std::string(weight, end);
  }
  return text;
}

std::chrono::microseconds parse_duration(std::string_view text) {
  const std::string whole(text);
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(whole, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string_view unit = text.substr(used);
  double micros_per_unit = 0;
  if (unit.empty() || unit == "ms") micros_per_unit = 1e3;
  else if (unit == "us") micros_per_unit = 1;
  else if (unit == "s") micros_per_unit = 1e6;
  else if (unit == "m" || unit == "min") micros_per_unit = 60e6;
  // A day is far beyond any lab delay; the bound also keeps the conversion finite.
  if (used == 0 || micros_per_unit == 0 || !std::isfinite(value) || value < 0 || value * micros_per_unit > 86400e6)
    throw std::invalid_argument("bad duration '" + whole + "' (e.g. 80ms, 1.5s, 250us)");
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(value * micros_per_unit)));
}

std::uint64_t scale_hash(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  // splitmix64 finaliser folded over the inputs: cheap, well mixed, stable across platforms.
  auto mix = [](std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  std::uint64_t h = mix(seed);
  h = mix(h ^ a);
  h = mix(h ^ b);
  return mix(h ^ c);
}

std::chrono::microseconds lognormal_delay(std::chrono::microseconds median, double spread, std::uint64_t key) {
  if (median.count() <= 0) return std::chrono::microseconds(0);
  if (spread <= 0) return median;
  // Box–Muller from two 53-bit uniforms taken from the key's hash; u1 is kept away from 0.
  const double u1 = (static_cast<double>(scale_hash(key, 1) >> 11) + 1.0) / 9007199254740993.0;
  const double u2 = static_cast<double>(scale_hash(key, 2) >> 11) / 9007199254740992.0;
  const double z = std::clamp(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2), -4.0, 4.0);
  return std::chrono::microseconds(
      static_cast<std::int64_t>(static_cast<double>(median.count()) * std::exp(spread * z)));
}

std::chrono::microseconds lognormal_mean(std::chrono::microseconds median, double spread) {
  if (spread <= 0) return median;
  return std::chrono::microseconds(
      static_cast<std::int64_t>(static_cast<double>(median.count()) * std::exp(spread * spread / 2)));
}

asio::ip::address_v4 scale_host_address(asio::ip::address_v4 first, std::size_t index) {
  // Walk the last octet through 1…254 only: .0 and .255 look like network/broadcast
  // addresses to people and to some tools, even on loopback.
  std::uint32_t value = first.to_uint();
  if ((value & 0xFF) == 0) ++value;
  if ((value & 0xFF) == 255) value += 2;
  const std::uint64_t offset_in_block = (value & 0xFF) - 1;  // 0…253
  const std::uint64_t position = offset_in_block + index;
  const std::uint64_t block = (value >> 8) + position / 254;
  return asio::ip::address_v4(static_cast<std::uint32_t>((block << 8) | (position % 254 + 1)));
}

ScaleZone::ScaleZone(ScaleZoneSpec spec) : spec_(std::move(spec)) {
  const ScaleZoneSpec& s = spec_;
  if (s.domains == 0) throw std::invalid_argument("scale lab: the number of domains must be at least 1");
  if (s.hosts == 0) throw std::invalid_argument("scale lab: the number of hosts must be at least 1");
  if (s.providers > s.hosts || s.providers > max_providers)
    throw std::invalid_argument("scale lab: providers must be at most the number of hosts (and 9999)");
  if (!(s.provider_share >= 0 && s.provider_share <= 1))
    throw std::invalid_argument("scale lab: the provider share must be between 0 and 1");
  if (!valid_apex(s.apex)) throw std::invalid_argument("scale lab: bad zone apex '" + s.apex + "'");
  if (std::none_of(s.mix.begin(), s.mix.end(), [](double w) { return w > 0; }) ||
      std::any_of(s.mix.begin(), s.mix.end(), [](double w) { return !(w >= 0) || !std::isfinite(w); }))
    throw std::invalid_argument("scale lab: the personality mix needs a positive weight");
  const std::uint32_t first = s.first_address.to_uint();
  const std::uint32_t last = scale_host_address(s.first_address, s.hosts - 1).to_uint();
  if (first < scale_range_first || last > scale_range_last || last < first)
    throw std::invalid_argument("scale lab: " + std::to_string(s.hosts) + " hosts from " +
                                s.first_address.to_string() + " do not fit in 127.64.0.0/10");

  digits_ = std::max(6, static_cast<int>(std::to_string(s.domains - 1).size()));

  hosts_.resize(s.hosts);
  for (std::size_t h = 0; h < s.hosts; ++h) hosts_[h].address = scale_host_address(s.first_address, h);

  // Personalities. Providers are good whenever the mix has good hosts at all (the large
  // hosters are the well-run part of the Internet); every other host is dealt a personality
  // by smooth weighted round robin, which hits the weights exactly (±1 per personality), over
  // a seeded shuffle, so neighbouring addresses do not share a pattern.
  const bool providers_good = s.mix[index_of(ScalePersonality::good)] > 0;
  std::vector<std::uint32_t> order;
  for (std::size_t h = 0; h < s.hosts; ++h) {
    if (h < s.providers && providers_good) {
      hosts_[h].personality = ScalePersonality::good;
    } else {
      order.push_back(static_cast<std::uint32_t>(h));
    }
  }
  std::mt19937_64 shuffle_random(scale_hash(s.seed, 0x5ca1e));
  for (std::size_t i = order.size(); i > 1; --i) {  // Fisher–Yates with our own index draw:
    const std::size_t j = static_cast<std::size_t>(shuffle_random() % i);  // portable across libstdc++/libc++
    std::swap(order[i - 1], order[j]);
  }
  const double total_weight = std::accumulate(s.mix.begin(), s.mix.end(), 0.0);
  std::array<double, scale_personality_count> credit{};
  for (std::uint32_t host : order) {
    std::size_t best = 0;
    for (std::size_t p = 0; p < credit.size(); ++p) {
      credit[p] += s.mix[p];
      if (credit[p] > credit[best]) best = p;
    }
    credit[best] -= total_weight;
    hosts_[host].personality = static_cast<ScalePersonality>(best);
  }

  for (std::size_t p = 0; p < s.providers; ++p) {
    std::string name = "p";
    append_number(name, p, 4);
    hosts_[p].mx_name = name + ".mx." + s.apex;
  }

  // Domains: exactly floor(N · share) use a provider (Bresenham spacing), the provider picked
  // by hash; the others are dealt to the remaining hosts in turn, each with its own MX name.
  domain_host_.resize(s.domains);
  const std::size_t own_hosts = s.hosts - s.providers;
  std::size_t own_counter = 0;
  for (std::size_t d = 0; d < s.domains; ++d) {
    const bool provider =
        s.providers > 0 && (own_hosts == 0 ||
                            std::floor(static_cast<double>(d + 1) * s.provider_share) !=
                                std::floor(static_cast<double>(d) * s.provider_share));
    const std::size_t host = provider ? scale_hash(s.seed, 0xd0, d) % s.providers
                                      : s.providers + (own_counter++ % own_hosts);
    domain_host_[d] = static_cast<std::uint32_t>(host);
    ++hosts_[host].domains;
  }
}

std::string ScaleZone::domain_name(std::size_t domain) const {
  std::string name = "d";
  append_number(name, domain, digits_);
  return name + "." + spec_.apex;
}

std::string ScaleZone::mx_name(std::size_t domain) const {
  if (uses_provider(domain)) return hosts_[domain_host_[domain]].mx_name;
  std::string name = "d";
  append_number(name, domain, digits_);
  return name + ".mx." + spec_.apex;
}

std::string ScaleZone::certificate_name() const { return "*.mx." + spec_.apex; }

std::size_t ScaleZone::distinct_mx_names() const {
  std::size_t providers_used = 0;
  std::size_t own = 0;
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    if (h < spec_.providers) providers_used += hosts_[h].domains > 0;
    else own += hosts_[h].domains;
  }
  return providers_used + own;
}

std::array<std::size_t, scale_personality_count> ScaleZone::hosts_per_personality() const {
  std::array<std::size_t, scale_personality_count> counts{};
  for (const auto& host : hosts_) ++counts[index_of(host.personality)];
  return counts;
}

std::array<std::size_t, scale_personality_count> ScaleZone::domains_per_personality() const {
  std::array<std::size_t, scale_personality_count> counts{};
  for (const auto& host : hosts_) counts[index_of(host.personality)] += host.domains;
  return counts;
}

std::string ScaleZone::zone_text() const {
  const std::string& apex = spec_.apex;
  std::string text;
  text.reserve(64 * domain_host_.size() + 48 * spec_.providers + 256);
  text += "$ORIGIN " + apex + ".\n$TTL 3600\n";
  text += "@ IN SOA ns." + apex + ". hostmaster." + apex + ". 1 3600 600 86400 300\n";
  for (std::size_t p = 0; p < spec_.providers; ++p) {
    text += "p";
    append_number(text, p, 4);
    text += ".mx IN A ";
    append_address(text, hosts_[p].address);
    text += '\n';
  }
  for (std::size_t d = 0; d < domain_host_.size(); ++d) {
    const std::uint32_t host = domain_host_[d];
    text += 'd';
    append_number(text, d, digits_);
    if (host < spec_.providers) {
      text += " IN MX 10 p";
      append_number(text, host, 4);
      text += ".mx\n";
    } else {
      text += " IN MX 10 d";
      append_number(text, d, digits_);
      text += ".mx\nd";
      append_number(text, d, digits_);
      text += ".mx IN A ";
      append_address(text, hosts_[host].address);
      text += '\n';
    }
  }
  return text;
}

void ScaleZone::write_domains(std::ostream& out) const {
  std::string buffer;
  for (std::size_t d = 0; d < domain_host_.size(); ++d) {
    buffer += domain_name(d);
    buffer += '\n';
    if (buffer.size() > 60000) {
      out << buffer;
      buffer.clear();
    }
  }
  out << buffer;
}

void ScaleZone::write_targets(std::ostream& out, std::uint16_t port) const {
  std::string line;
  auto emit = [&](const ScaleHost& host, const std::string& name) {
    line.clear();
    append_address(line, host.address);
    line += ' ';
    append_number(line, port, 0);
    line += ' ' + name + ' ' + std::string(to_string(host.personality)) + '\n';
    out << line;
  };
  for (std::size_t p = 0; p < spec_.providers; ++p)
    if (hosts_[p].domains > 0) emit(hosts_[p], hosts_[p].mx_name);
  for (std::size_t d = 0; d < domain_host_.size(); ++d)
    if (!uses_provider(d)) emit(hosts_[domain_host_[d]], mx_name(d));
}

}  // namespace mxtls::lab
