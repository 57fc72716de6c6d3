// The scale lab's plan, computed before anything listens: N domains named d000123.scale.test,
// H MX hosts on 127.64.0.0/10 with a weighted personality mix, shared "provider" hosts, and the
// DNS zone text tying them together. Pure and deterministic (same spec, same plan), so tests and
// benchmarks can reason about exactly what the fleet will serve.
#pragma once

#include <asio/ip/address_v4.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::lab {

// What one simulated MX host does with a connection. Cheap on the server side by design.
enum class ScalePersonality {
  good,         // STARTTLS, ECDSA P-256 certificate from the scale lab CA (*.mx.scale.test)
  no_starttls,  // plain ESMTP, STARTTLS not advertised
  self_signed,  // STARTTLS, self-signed certificate
  busy,         // "421 busy" to `busy_rejects` connections out of every busy_rejects + 1, else good
  slow_banner,  // good, but the banner comes only after the slow-banner delay
  tarpit,       // an endless "220-" banner dripped one byte per drip interval
  silent,       // accepts the connection and never says anything
  refused,      // nothing listens: connections are refused
  tls_stall,    // completes the TLS handshake, then never answers (memory "during TLS")
};
inline constexpr std::size_t scale_personality_count = 9;

std::string_view to_string(ScalePersonality);
std::optional<ScalePersonality> scale_personality_from_string(std::string_view);
const std::array<ScalePersonality, scale_personality_count>& all_scale_personalities();

// Relative weights per personality (indexed by the enum); zero means never used.
using PersonalityMix = std::array<double, scale_personality_count>;
// The default mix: mostly good, a realistic tail of broken and hostile hosts.
PersonalityMix default_personality_mix();
// "good=60,silent=3" (unnamed personalities get 0) or "default". Throws std::invalid_argument.
PersonalityMix parse_personality_mix(std::string_view text);
std::string mix_text(const PersonalityMix& mix);

// "80ms", "1.5s", "250us", "2m" or a bare number of milliseconds. Throws std::invalid_argument.
std::chrono::microseconds parse_duration(std::string_view text);

struct ScaleZoneSpec {
  std::size_t domains = 1000;
  std::size_t hosts = 2000;
  // The first `providers` hosts are shared providers (big mail hosters: always good, so the
  // bulk of domains looks like the real Internet); `provider_share` of the domains use one.
  std::size_t providers = 5;
  double provider_share = 0.6;
  std::uint64_t seed = 1;
  PersonalityMix mix = default_personality_mix();
  std::string apex = "scale.test";
  // Hosts are numbered from here, skipping .0 and .255 in the last octet. Must stay inside
  // 127.64.0.0/10 (the rest of 127/8 belongs to other labs and tests).
  asio::ip::address_v4 first_address = asio::ip::make_address_v4("127.64.0.1");
};

struct ScaleHost {
  asio::ip::address_v4 address;
  ScalePersonality personality = ScalePersonality::good;
  std::string mx_name;          // providers: p0003.mx.scale.test; others: "" (one name per domain)
  std::uint32_t domains = 0;    // domains whose MX points here
};

class ScaleZone {
 public:
  // Validates the spec (throws std::invalid_argument) and assigns every domain to a host and
  // every host a personality. O(domains + hosts).
  explicit ScaleZone(ScaleZoneSpec spec);

  const ScaleZoneSpec& spec() const { return spec_; }
  std::size_t domain_count() const { return domain_host_.size(); }
  const std::vector<ScaleHost>& hosts() const { return hosts_; }

  std::string domain_name(std::size_t domain) const;  // d000123.scale.test
  // The domain's MX host name: its provider's (p0003.mx.scale.test) or its own
  // (d000123.mx.scale.test). Every MX name is covered by the wildcard *.mx.scale.test.
  std::string mx_name(std::size_t domain) const;
  std::uint32_t host_of(std::size_t domain) const { return domain_host_[domain]; }
  bool uses_provider(std::size_t domain) const { return domain_host_[domain] < spec_.providers; }
  std::string certificate_name() const;  // "*.mx.scale.test"

  // Distinct (address, MX name) pairs: what a deduplicating scanner probes.
  std::size_t distinct_mx_names() const;
  std::array<std::size_t, scale_personality_count> hosts_per_personality() const;
  std::array<std::size_t, scale_personality_count> domains_per_personality() const;

  // Master-file text of the whole zone: SOA, one MX per domain, one A per MX name.
  std::string zone_text() const;
  void write_domains(std::ostream& out) const;  // one domain per line
  // One line per distinct MX name: "IP PORT MXNAME PERSONALITY" (the first three are what
  // bench/minimal_client reads).
  void write_targets(std::ostream& out, std::uint16_t port) const;

 private:
  ScaleZoneSpec spec_;
  std::vector<ScaleHost> hosts_;
  std::vector<std::uint32_t> domain_host_;  // host index per domain
  int digits_ = 6;                          // width of the domain number
};

// The address of host `index` counted from `first`, skipping .0 and .255 in the last octet.
asio::ip::address_v4 scale_host_address(asio::ip::address_v4 first, std::size_t index);

// A deterministic per-event hash (splitmix64 over the arguments): delays and choices depend
// on the seed and on what is being decided, never on timing or on the order of events.
std::uint64_t scale_hash(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

// Lognormal per-reply delay: median · exp(spread · Z), Z standard normal from the hash of the
// key, Z clamped to ±4 so one unlucky draw cannot stall a benchmark.
std::chrono::microseconds lognormal_delay(std::chrono::microseconds median, double spread, std::uint64_t key);
// The mean of that distribution (median · exp(spread²/2), ignoring the clamp).
std::chrono::microseconds lognormal_mean(std::chrono::microseconds median, double spread);

}  // namespace mxtls::lab
