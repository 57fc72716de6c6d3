// Domain scan: MX rules of RFC 5321 §5.1 (implicit MX) and RFC 7505 (null MX), address
// resolution per MX, then every probe of the domain at once.
#include "scan/domain.hpp"

#include "core/gather.hpp"
#include "core/text.hpp"
#include "dns/resolver.hpp"

#include <algorithm>

namespace mxtls::scan {
namespace {

std::string describe(const dns::Answer& answer, const std::string& name, const char* type) {
  switch (answer.outcome) {
    case dns::Outcome::nxdomain: return name + ": no such domain (NXDOMAIN)";
    case dns::Outcome::nodata: return name + ": no " + type + " records";
    default: break;
  }
  return name + ": " + type + " lookup failed: " + dns::to_string(answer.outcome) +
         (answer.detail.empty() ? "" : " (" + answer.detail + ")");
}

// All A and AAAA of one host (as allowed by -4/-6); an error text when there are none.
asio::awaitable<MxHost> resolve_host(dns::Resolver& resolver, MxHost host, const DomainScanSettings& settings) {
  std::vector<asio::awaitable<dns::AddressAnswer>> lookups;
  std::vector<const char*> types;
  if (settings.ipv4) lookups.push_back(resolver.a(host.name)), types.push_back("A");
  if (settings.ipv6) lookups.push_back(resolver.aaaa(host.name)), types.push_back("AAAA");
  const auto answers = co_await gather(std::move(lookups));
  std::vector<std::string> problems;
  bool nxdomain = false;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto& answer = answers[i];
    for (const auto& address : answer.addresses) host.addresses.push_back(address.to_string());
    if (answer.outcome == dns::Outcome::nxdomain) nxdomain = true;
    else if (answer.outcome != dns::Outcome::ok && answer.outcome != dns::Outcome::nodata)
      problems.push_back(describe(answer, host.name, types[i]));
  }
  if (host.addresses.empty()) {
    if (nxdomain) host.error = host.name + ": no such host (NXDOMAIN)";
    else if (!problems.empty()) host.error = problems.front();
    else host.error = host.name + std::string(": no ") + (settings.ipv4 && settings.ipv6 ? "A or AAAA" : settings.ipv4 ? "A" : "AAAA") + " records";
  }
  co_return host;
}

// The record for a lookup that stopped the domain or one MX before any connection: a probe
// that failed in a DNS phase, so CSV and JSON Lines readers see every domain and MX host.
ProbeResult dns_failure(const DomainResult& d, const std::string& mx, int preference, Phase phase,
                        const std::string& error, std::uint16_t port) {
  ProbeResult r;
  r.domain = d.domain;
  r.mx = mx;
  r.preference = preference;
  r.port = port;
  r.status = Status::dns_error;
  r.failed_phase = phase;
  r.error = error;
  r.started_at = rfc3339_utc(std::chrono::system_clock::now());
  return r;
}

}  // namespace

asio::awaitable<DomainResult> scan_domain(std::string input, std::string ascii_domain, dns::Resolver& resolver,
                                          const DomainScanSettings& settings, ProbeRunner run_probe) {
  DomainResult d;
  d.input = std::move(input);
  d.domain = std::move(ascii_domain);

  // resolve_mx
  const dns::MxAnswer mx = co_await resolver.mx(d.domain);
  d.dnssec_mx = mx.authenticated;
  std::vector<MxHost> hosts;
  switch (mx.outcome) {
    case dns::Outcome::ok: {
      const bool only_null = std::all_of(mx.records.begin(), mx.records.end(), [](const auto& r) { return r.host.empty(); });
      if (only_null) {
        d.kind = DomainKind::null_mx;  // RFC 7505: the domain accepts no mail; nothing to probe
        co_return d;
      }
      d.kind = DomainKind::mx;
      for (const auto& record : mx.records)
        if (!record.host.empty()) hosts.push_back(MxHost{record.host, record.preference, {}, {}});
      break;
    }
    case dns::Outcome::nodata:
      // RFC 5321 §5.1: no MX, so the domain itself is the mail host (preference 0).
      d.kind = DomainKind::implicit_mx;
      hosts.push_back(MxHost{d.domain, 0, {}, {}});
      break;
    case dns::Outcome::nxdomain:
    default:
      d.kind = mx.outcome == dns::Outcome::nxdomain ? DomainKind::nxdomain : DomainKind::dns_error;
      d.error = describe(mx, d.domain, "MX");
      d.probes.push_back(dns_failure(d, "", 0, Phase::resolve_mx, d.error, settings.port));
      co_return d;
  }

  // resolve_addr, every MX host at once
  std::vector<asio::awaitable<MxHost>> lookups;
  for (auto& host : hosts) lookups.push_back(resolve_host(resolver, std::move(host), settings));
  d.mx_hosts = co_await gather(std::move(lookups));

  // connect … quit, every (MX, address) at once
  std::vector<asio::awaitable<ProbeResult>> probes;
  for (const auto& host : d.mx_hosts) {
    for (const auto& address : host.addresses) {
      ProbeTarget target{d.domain, host.name, host.preference, asio::ip::make_address(address), settings.port};
      probes.push_back(run_probe(std::move(target)));
    }
  }
  d.probes = co_await gather(std::move(probes));
  if (d.probes.empty()) {
    if (d.kind == DomainKind::mx) d.kind = DomainKind::no_mx_hosts;
    if (d.error.empty() && !d.mx_hosts.empty()) d.error = d.mx_hosts.front().error;
  }
  for (const auto& host : d.mx_hosts)
    if (host.addresses.empty())
      d.probes.push_back(dns_failure(d, host.name, host.preference, Phase::resolve_addr, host.error, settings.port));
  co_return d;
}

}  // namespace mxtls::scan
