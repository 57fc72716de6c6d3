// Domain scan: MX rules of RFC 5321 §5.1 (implicit MX) and RFC 7505 (null MX), address
// resolution per MX, then every probe of the domain at once.
#include "scan/domain.hpp"

#include "core/gather.hpp"
#include "core/text.hpp"
#include "dns/resolver.hpp"
#include "policy/mta_sts.hpp"
#include "policy/tls_rpt.hpp"
#include "tls/https_client.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>

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

// One MX host after resolve_addr and resolve_tlsa.
struct ResolvedHost {
  MxHost host;
  tls::DaneLookup dane;
  std::int64_t tlsa_ms = -1;
};

// All A and AAAA of one host (as allowed by -4/-6); an error text when there are none.
asio::awaitable<ResolvedHost> resolve_host(dns::Resolver& resolver, MxHost host, const DomainScanSettings& settings,
                                           bool dnssec_mx) {
  std::vector<asio::awaitable<dns::AddressAnswer>> lookups;
  std::vector<const char*> types;
  if (settings.ipv4) lookups.push_back(resolver.a(host.name)), types.push_back("A");
  if (settings.ipv6) lookups.push_back(resolver.aaaa(host.name)), types.push_back("AAAA");
  const auto answers = co_await gather(std::move(lookups));
  std::vector<std::string> problems;
  bool nxdomain = false;
  // Postfix's rule: the address is secure when every A/AAAA answer (records or denial)
  // carried AD; one insecure answer lets an attacker steer the sender elsewhere.
  bool all_secure = !answers.empty();
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const auto& answer = answers[i];
    all_secure = all_secure && answer.authenticated &&
                 (answer.outcome == dns::Outcome::ok || answer.outcome == dns::Outcome::nodata);
    for (const auto& address : answer.addresses) host.addresses.push_back(address.to_string());
    if (answer.outcome == dns::Outcome::nxdomain) nxdomain = true;
    else if (answer.outcome != dns::Outcome::ok && answer.outcome != dns::Outcome::nodata)
      problems.push_back(describe(answer, host.name, types[i]));
  }
  if (host.addresses.size() > settings.max_addresses_per_host) {
    host.error = "only the first " + std::to_string(settings.max_addresses_per_host) + " of " +
                 std::to_string(host.addresses.size()) + " addresses are probed";
    host.addresses.resize(settings.max_addresses_per_host);
  }
  if (host.addresses.empty()) {
    if (nxdomain) host.error = host.name + ": no such host (NXDOMAIN)";
    else if (!problems.empty()) host.error = problems.front();
    else host.error = host.name + std::string(": no ") + (settings.ipv4 && settings.ipv6 ? "A or AAAA" : settings.ipv4 ? "A" : "AAAA") + " records";
  }
  ResolvedHost out;
  out.dane.addresses_secure = all_secure && !host.addresses.empty();
  // resolve_tlsa: only for secure addresses (RFC 7672 §2.2.2, as Postfix does). In a signed
  // domain (secure MX RRset) the TLSA is also fetched for an insecure host, only to tell the
  // admin that senders ignore it ("halfdane").
  if (settings.dane && !host.addresses.empty() && (out.dane.addresses_secure || dnssec_mx)) {
    const auto started = std::chrono::steady_clock::now();
    const std::string prefix = "_" + std::to_string(settings.port) + "._tcp.";
    // RFC 7672 §2.2.2: when the host name is a secure CNAME, TLSA records at the fully expanded
    // name come first (their owner is then the base domain); only without any there does the
    // original name count. A failed lookup at the expanded name is a failure, not a fallback.
    std::string expanded;
    for (const auto& answer : answers)
      if (answer.outcome == dns::Outcome::ok && ascii_lower(answer.canonical_name) != ascii_lower(host.name))
        expanded = ascii_lower(answer.canonical_name);
    std::optional<dns::TlsaAnswer> tlsa;
    if (!expanded.empty() && out.dane.addresses_secure) {
      auto at_target = co_await resolver.tlsa(prefix + expanded);
      // Insecure records there count as none (RFC 7672 §2.2); a lookup failure does not.
      const bool none_there = at_target.outcome == dns::Outcome::nodata || at_target.outcome == dns::Outcome::nxdomain ||
                              (at_target.outcome == dns::Outcome::ok && !at_target.authenticated);
      if (!none_there) {
        out.dane.base_domain = expanded;
        tlsa = std::move(at_target);
      }
    }
    if (!tlsa) {
      auto at_host = co_await resolver.tlsa(prefix + host.name);
      tlsa = std::move(at_host);
    }
    out.tlsa_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    out.dane.looked_up = true;
    out.dane.tlsa = std::move(*tlsa);  // set by one of the two lookups above
  }
  out.host = std::move(host);
  co_return out;
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

// The _mta-sts TXT, then the policy over HTTPS (RFC 8461 §3). Every failure becomes text in
// the facts: for a sender it means "no policy", for the admin it is a finding.
asio::awaitable<MtaStsFacts> lookup_mta_sts(dns::Resolver& resolver, const std::string& domain,
                                            const DomainScanSettings& settings) {
  MtaStsFacts f;
  const std::string txt_name = "_mta-sts." + domain;
  const dns::TxtAnswer txt = co_await resolver.txt(txt_name);
  if (txt.outcome == dns::Outcome::nxdomain || txt.outcome == dns::Outcome::nodata) co_return f;
  if (txt.outcome != dns::Outcome::ok) {
    f.verdict = MtaStsVerdict::error;
    f.error = describe(txt, txt_name, "TXT");
    co_return f;
  }
  std::string chosen, error;
  const auto record = policy::select_sts_record(txt.texts, chosen, error);
  f.txt = printable(chosen, 512);
  if (!record) {
    // TXT records that are not STS at all (a wildcard, SPF at the wrong name) mean no policy.
    if (chosen.empty() && error.rfind("no TXT record", 0) == 0) co_return f;
    f.verdict = MtaStsVerdict::error;
    f.error = txt_name + " TXT: " + error;
    co_return f;
  }
  f.id = record->id;
  const std::string host = "mta-sts." + domain;
  f.policy_url = "https://" + host + (settings.mta_sts_port == 443 ? "" : ":" + std::to_string(settings.mta_sts_port)) +
                 "/.well-known/mta-sts.txt";
  f.verdict = MtaStsVerdict::error;  // until a valid policy is in hand

  tls::HttpsRequest request;
  request.host = host;
  request.path = "/.well-known/mta-sts.txt";
  request.port = settings.mta_sts_port;
  request.timeout = settings.mta_sts_timeout;
  request.max_body = policy::max_policy_bytes;
  if (settings.ipv4) {
    const auto a = co_await resolver.a(host);
    request.addresses.insert(request.addresses.end(), a.addresses.begin(), a.addresses.end());
  }
  if (settings.ipv6) {
    const auto aaaa = co_await resolver.aaaa(host);
    request.addresses.insert(request.addresses.end(), aaaa.addresses.begin(), aaaa.addresses.end());
  }
  if (request.addresses.empty()) {
    f.error = "policy host " + host + " has no address";
    co_return f;
  }
  SlotLease fetch_lease;
  if (settings.policy_fetches) {
    co_await settings.policy_fetches->acquire();
    fetch_lease = SlotLease(*settings.policy_fetches);
  }
  const tls::HttpsResponse response = co_await tls::https_get(*settings.https, std::move(request));
  if (!response.ok) {
    f.error = "fetching " + f.policy_url + ": " + response.error;
    co_return f;
  }
  const policy::PolicyParse parsed = policy::parse_sts_policy(response.body);
  for (const auto& problem : parsed.problems) f.problems.push_back(problem.text());
  if (!parsed.valid()) {
    for (const auto& problem : parsed.problems)
      if (problem.fatal) {
        f.error = "policy invalid: " + problem.text();
        break;
      }
    co_return f;
  }
  f.mode = parsed.policy.mode;
  f.mx_patterns = parsed.policy.mx;
  f.max_age = parsed.policy.max_age;
  f.verdict = *f.mode == MtaStsMode::none ? MtaStsVerdict::none : MtaStsVerdict::pass;  // judged per MX later
  co_return f;
}

asio::awaitable<TlsRptFacts> lookup_tls_rpt(dns::Resolver& resolver, const std::string& domain) {
  TlsRptFacts f;
  const std::string name = "_smtp._tls." + domain;
  const dns::TxtAnswer txt = co_await resolver.txt(name);
  if (txt.outcome == dns::Outcome::nxdomain || txt.outcome == dns::Outcome::nodata) co_return f;
  if (txt.outcome != dns::Outcome::ok) {
    f.state = TlsRptState::dns_error;
    f.error = describe(txt, name, "TXT");
    co_return f;
  }
  std::string chosen, error;
  const auto record = policy::select_tls_rpt_record(txt.texts, chosen, error);
  f.txt = printable(chosen, 512);
  if (!record) {
    if (chosen.empty() && error.rfind("no TXT record", 0) == 0) co_return f;
    f.state = TlsRptState::invalid;
    f.error = name + " TXT: " + error;
    co_return f;
  }
  f.state = TlsRptState::valid;
  f.rua = record->rua;
  co_return f;
}

struct Policies {
  MtaStsFacts mta_sts;
  TlsRptFacts tls_rpt;
};

asio::awaitable<Policies> lookup_policies(dns::Resolver& resolver, std::string domain, const DomainScanSettings& settings) {
  using namespace asio::experimental::awaitable_operators;
  auto [mta_sts, tls_rpt] = co_await (lookup_mta_sts(resolver, domain, settings) && lookup_tls_rpt(resolver, domain));
  co_return Policies{std::move(mta_sts), std::move(tls_rpt)};
}

// Every probe of the domain at once, each writing into its own element of `results` (on the
// heap): no probe's result is copied through a coroutine frame on its way here.
asio::awaitable<std::vector<ProbeResult>> run_probes(std::vector<ProbeTarget> targets, const ProbeRunner& run_probe) {
  std::vector<ProbeResult> results(targets.size());
  std::vector<asio::awaitable<void>> probes;
  probes.reserve(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) probes.push_back(run_probe(targets[i], results[i]));
  co_await gather_all(std::move(probes));
  co_return results;
}

}  // namespace

void judge_mta_sts(DomainResult& d) {
  MtaStsFacts& m = d.mta_sts;
  for (auto& host : d.mx_hosts) host.mta_sts_match.reset();
  if (!m.mode) return;
  for (auto& host : d.mx_hosts) host.mta_sts_match = policy::mx_matches_any(m.mx_patterns, host.name);
  if (*m.mode == MtaStsMode::none) {
    m.verdict = MtaStsVerdict::none;
    return;
  }
  bool fail = std::any_of(d.mx_hosts.begin(), d.mx_hosts.end(), [](const MxHost& h) { return h.mta_sts_match == false; });
  for (const auto& p : d.probes) {
    // A probe that never got a 2xx greeting tells nothing about the policy: a sender would
    // move on to the next MX for reasons that have nothing to do with MTA-STS.
    if (p.greeting_code < 200 || p.greeting_code > 299) continue;
    if (!p.tls || p.tls->verdict != CertVerdict::verified) fail = true;
  }
  m.verdict = fail ? MtaStsVerdict::fail : MtaStsVerdict::pass;
}

namespace {

// resolve_mx, then resolve_addr and resolve_tlsa for every MX host at once: fills d's kind,
// error, dnssec_mx and mx_hosts and returns the probe targets; hosts beyond max_mx_hosts go
// to `not_probed`. False when there is nothing to probe (null MX, NXDOMAIN, DNS failure).
// A coroutine of its own so that the DNS answers live only while it runs, not in the frame
// of a domain that then waits for its probes.
asio::awaitable<bool> resolve_domain(DomainResult& d, dns::Resolver& resolver, const DomainScanSettings& settings,
                                     std::vector<ProbeTarget>& targets, std::vector<MxHost>& not_probed) {
  const dns::MxAnswer mx = co_await resolver.mx(d.domain);
  d.dnssec_mx = mx.authenticated;
  std::vector<MxHost> hosts;
  switch (mx.outcome) {
    case dns::Outcome::ok: {
      const bool only_null = std::all_of(mx.records.begin(), mx.records.end(), [](const auto& r) { return r.host.empty(); });
      if (only_null) {
        d.kind = DomainKind::null_mx;  // RFC 7505: the domain accepts no mail; nothing to probe
        co_return false;
      }
      d.kind = DomainKind::mx;
      for (const auto& record : mx.records)
        if (!record.host.empty()) hosts.push_back(MxHost{record.host, record.preference, {}, {}, {}});
      break;
    }
    case dns::Outcome::nodata:
      // RFC 5321 §5.1: no MX, so the domain itself is the mail host (preference 0).
      d.kind = DomainKind::implicit_mx;
      hosts.push_back(MxHost{d.domain, 0, {}, {}, {}});
      break;
    case dns::Outcome::nxdomain:
    default:
      d.kind = mx.outcome == dns::Outcome::nxdomain ? DomainKind::nxdomain : DomainKind::dns_error;
      d.error = describe(mx, d.domain, "MX");
      d.probes.push_back(dns_failure(d, "", 0, Phase::resolve_mx, d.error, settings.port));
      co_return false;
  }

  // The most preferred MX hosts only (the resolver sorts by preference); the others are listed.
  if (hosts.size() > settings.max_mx_hosts) {
    const std::string note = "not probed: only the " + std::to_string(settings.max_mx_hosts) + " most preferred of " +
                             std::to_string(hosts.size()) + " MX hosts are probed";
    for (std::size_t i = settings.max_mx_hosts; i < hosts.size(); ++i) {
      hosts[i].error = note;
      not_probed.push_back(std::move(hosts[i]));
    }
    hosts.resize(settings.max_mx_hosts);
  }

  std::vector<asio::awaitable<ResolvedHost>> lookups;
  for (auto& host : hosts) lookups.push_back(resolve_host(resolver, std::move(host), settings, d.dnssec_mx));
  const std::vector<ResolvedHost> resolved = co_await gather(std::move(lookups));
  for (const auto& r : resolved) {
    d.mx_hosts.push_back(r.host);
    for (const auto& address : r.host.addresses) {
      ProbeTarget target{d.domain, r.host.name, r.host.preference, asio::ip::make_address(address), settings.port};
      target.dane = r.dane;
      target.tlsa_lookup_ms = r.tlsa_ms;
      targets.push_back(std::move(target));
    }
  }
  co_return true;
}

// The probes beside the domain's MTA-STS and TLS-RPT lookups: a coroutine of its own, so the
// pair of results the && hands back lives only while it runs.
asio::awaitable<void> probe_with_policies(DomainResult& d, std::vector<ProbeTarget> targets, const ProbeRunner& run_probe,
                                          dns::Resolver& resolver, const DomainScanSettings& settings) {
  using namespace asio::experimental::awaitable_operators;
  auto [probes, policies] = co_await (run_probes(std::move(targets), run_probe) &&
                                      lookup_policies(resolver, d.domain, settings));
  d.probes = std::move(probes);
  d.mta_sts = std::move(policies.mta_sts);
  d.tls_rpt = std::move(policies.tls_rpt);
}

}  // namespace

asio::awaitable<void> scan_domain(DomainResult& d, dns::Resolver& resolver, const DomainScanSettings& settings,
                                  const ProbeRunner& run_probe) {
  std::vector<ProbeTarget> targets;
  std::vector<MxHost> not_probed;
  bool resolved = false;
  {
    // A bulk scan starts thousands of domains at once; only so many resolve at a time, so the
    // start does not hold every domain's DNS lookups in memory together.
    SlotLease resolving;
    if (settings.resolving) {
      co_await settings.resolving->acquire();
      resolving = SlotLease(*settings.resolving);
    }
    resolved = co_await resolve_domain(d, resolver, settings, targets, not_probed);
  }
  if (!resolved) co_return;

  // connect … quit, every (MX, address) at once, beside the domain's policy lookups
  if (settings.https) {
    co_await probe_with_policies(d, std::move(targets), run_probe, resolver, settings);
  } else if (targets.size() == 1) {
    // Most domains have one MX address: awaited right here, the probe needs neither
    // run_probes' frame nor gather_all's, which a bulk scan would hold per domain for as long
    // as the probe waits. It is shielded from our cancellation and its exceptions as
    // gather_all shields its tasks (see detail::await_shielded).
    d.probes.resize(1);
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    try {
      co_await run_probe(targets.front(), d.probes.front());
    } catch (...) {
      // The probe records its own outcome.
    }
    co_await asio::this_coro::reset_cancellation_state();
  } else {
    d.probes = co_await run_probes(std::move(targets), run_probe);
  }
  if (d.probes.empty()) {
    if (d.kind == DomainKind::mx) d.kind = DomainKind::no_mx_hosts;
    if (d.error.empty() && !d.mx_hosts.empty()) d.error = d.mx_hosts.front().error;
  }
  for (const auto& host : d.mx_hosts)
    if (host.addresses.empty())
      d.probes.push_back(dns_failure(d, host.name, host.preference, Phase::resolve_addr, host.error, settings.port));
  for (auto& host : not_probed) d.mx_hosts.push_back(std::move(host));
  judge_mta_sts(d);
}

asio::awaitable<DomainResult> scan_domain(std::string input, std::string ascii_domain, dns::Resolver& resolver,
                                          const DomainScanSettings& settings, ProbeRunner run_probe) {
  DomainResult d;
  d.input = std::move(input);
  d.domain = std::move(ascii_domain);
  co_await scan_domain(d, resolver, settings, run_probe);
  co_return d;
}

}  // namespace mxtls::scan
