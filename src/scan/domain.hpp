// Scanning one domain: its MX hosts (or the implicit MX), their addresses, one probe per
// (MX, address), all concurrent. The verdicts (Gmail lock, findings) are judged afterwards.
#pragma once

#include "core/result.hpp"
#include "core/waiting.hpp"
#include "scan/probe.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace mxtls::dns {
class Resolver;
}
namespace mxtls::tls {
class HttpsContext;
}

namespace mxtls::scan {

struct DomainScanSettings {
  ProbeSettings probe;
  std::uint16_t port = 25;
  bool ipv4 = true;
  bool ipv6 = true;
  bool dane = true;  // resolve_tlsa for MX hosts with DNSSEC-secure addresses
  // MTA-STS policy fetches (verifying trust store). nullptr: MTA-STS and TLS-RPT are not
  // looked up at all (their fields stay "no-policy"/"absent").
  std::shared_ptr<const tls::HttpsContext> https;
  std::uint16_t mta_sts_port = 443;  // the lab and tests serve policies on other ports
  std::chrono::milliseconds mta_sts_timeout{10'000};
  // Bulk scans: MTA-STS fetches in flight across all domains (each is an HTTPS connection the
  // probe scheduler does not see). null: unbounded (`check`, one domain).
  std::shared_ptr<Slots> policy_fetches;
  // Domains in their DNS phase (MX, A/AAAA, TLSA) at once; nullptr: no limit. Bounds the
  // memory of a bulk scan's start, when every domain slot begins with DNS.
  std::shared_ptr<Slots> resolving;
  // A hostile zone can publish a thousand MX hosts with a thousand addresses each: one domain
  // must not become a million lookups and connections. The most preferred ones are probed; the
  // rest are listed with a note (Postfix itself tries at most 5 addresses per delivery).
  std::size_t max_mx_hosts = 16;
  std::size_t max_addresses_per_host = 8;
};

// RFC 8461 §4: each MX host's name against the policy's patterns (MxHost::mta_sts_match) and
// the domain's verdict: pass when every MX name matches and every probe that reached a
// greeting shows a Verified certificate. Needs d.mta_sts filled and every probe in.
void judge_mta_sts(DomainResult& d);

// How a probe is run: directly in `check`, through a shared scheduler in bulk scans. It writes
// into the result it is given (the target outlives it).
using ProbeRunner = std::function<asio::awaitable<void>(const ProbeTarget&, ProbeResult&)>;

// Resolves and probes the domain d.domain (A-label; d.input as the user wrote it) into `d`,
// in place. A bulk scan has thousands of domains waiting on their probes, so nothing on the way
// is held by value in a coroutine frame: not the DomainResult (half a kilobyte), not the
// names, not the runner. `d` and `run_probe` must outlive the coroutine.
asio::awaitable<void> scan_domain(DomainResult& d, dns::Resolver& resolver, const DomainScanSettings& settings,
                                  const ProbeRunner& run_probe);
// The same, returning the result.
asio::awaitable<DomainResult> scan_domain(std::string input, std::string ascii_domain, dns::Resolver& resolver,
                                          const DomainScanSettings& settings, ProbeRunner run_probe);

}  // namespace mxtls::scan
