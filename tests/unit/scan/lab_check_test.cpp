// End to end on the built-in lab fleet, in-process: DNS from the lab zone, one SMTP server
// per personality on 127.25.0.x, scanned exactly as `mxtls check`/`mxtls demo` do. Every lab
// domain must get its expected lock, and the deciding probe its expected status and verdict.
#include "cli/lab.hpp"
#include "lab/fleet.hpp"
#include "report/verdict.hpp"

#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <map>

using namespace mxtls;

namespace {

struct Expect {
  std::optional<DomainKind> kind;
  std::optional<Status> status;  // of the probe to the most-preferred MX
  std::optional<Phase> phase;
  std::optional<CertVerdict> verdict;
};

const ProbeResult* first_probe(const DomainResult& d) {
  if (d.probes.empty()) return nullptr;
  return &d.probes[report::delivery_order(d).front()];
}

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("every lab personality gets its expected verdict") {
  asio::io_context io(1);
  lab::FleetOptions options;
  options.smtp_port = 0;
  options.dns_port = 0;
  options.https_port = 0;
  options.drip_interval = std::chrono::milliseconds(200);
  lab::Fleet fleet(io.get_executor(), options);
  fleet.start();

  const auto results = cli::check_lab_domains(io, fleet);
  REQUIRE(results.size() == fleet.domains().size());

  using S = Status;
  using V = CertVerdict;
  using P = Phase;
  const std::map<std::string, Expect> expected{
      {"good.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"nostarttls.test", {DomainKind::mx, S::not_offered, P::ehlo, {}}},
      {"selfsigned.test", {DomainKind::mx, S::ok, {}, V::untrusted}},
      {"wrongname.test", {DomainKind::mx, S::ok, {}, V::trusted}},
      {"expired.test", {DomainKind::mx, S::ok, {}, V::untrusted}},
      {"tls12.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"starttls454.test", {DomainKind::mx, S::smtp_reject, P::starttls, {}}},
      {"tarpit.test", {DomainKind::mx, S::timeout, P::greeting, {}}},
      {"multi.test", {DomainKind::mx, S::refused, P::connect, {}}},
      {"nullmx.test", {DomainKind::null_mx, {}, {}, {}}},
      {"implicit.test", {DomainKind::implicit_mx, S::ok, {}, V::verified}},
      {"missinghost.test", {DomainKind::no_mx_hosts, S::dns_error, P::resolve_addr, {}}},
      {"auth.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"injection.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"garbage.test", {DomainKind::mx, S::protocol_error, P::greeting, {}}},
      {"drip.test", {DomainKind::mx, S::timeout, P::greeting, {}}},
      {"closemid.test", {DomainKind::mx, S::tls_error, P::handshake, {}}},
      {"greeting554.test", {DomainKind::mx, S::smtp_reject, P::greeting, {}}},
      {"例え.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"nosuchdomain.test", {DomainKind::nxdomain, S::dns_error, P::resolve_mx, {}}},
      {"dane.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"danestale.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"stsnotlisted.test", {DomainKind::mx, S::ok, {}, V::verified}},
      {"ststesting.test", {DomainKind::mx, S::ok, {}, V::untrusted}},
  };

  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& d = results[i];
    const auto& want = fleet.domains()[i];
    CAPTURE(want.domain);
    CHECK(d.input == want.domain);
    CHECK(d.gmail_lock == want.expected_lock);
    const auto e = expected.find(want.domain);
    REQUIRE_MESSAGE(e != expected.end(), "lab domain without an expectation in this test");
    if (e->second.kind) CHECK(d.kind == *e->second.kind);
    const ProbeResult* p = first_probe(d);
    if (!e->second.status) {
      CHECK(p == nullptr);
      continue;
    }
    REQUIRE(p != nullptr);
    CHECK(p->status == *e->second.status);
    CHECK(p->failed_phase == e->second.phase);
    if (e->second.verdict) {
      REQUIRE(p->tls.has_value());
      CHECK(p->tls->verdict == *e->second.verdict);
    }
    if (want.expected_dane) CHECK(p->dane.state == *want.expected_dane);
    if (want.expected_mta_sts) CHECK(d.mta_sts.verdict == *want.expected_mta_sts);
  }

  // A few specifics beyond status and verdict.
  auto find = [&](const std::string& name) -> const DomainResult& {
    for (const auto& d : results)
      if (d.input == name) return d;
    FAIL("no result for " << name);
    return results.front();
  };
  CHECK(find("tls12.test").probes.at(0).tls->version == "TLSv1.2");
  CHECK(find("good.test").probes.at(0).tls->version == "TLSv1.3");
  CHECK(find("auth.test").probes.at(0).auth_before_tls.size() >= 2);
  CHECK_FALSE(find("injection.test").probes.at(0).injected_after_starttls.empty());
  CHECK(find("multi.test").probes.size() == 2);
  CHECK(find("multi.test").gmail_lock == GmailLock::grey);
  CHECK(find("missinghost.test").mx_hosts.at(0).error.find("no such host") != std::string::npos);
  CHECK(find("nosuchdomain.test").error.find("NXDOMAIN") != std::string::npos);
  // DNS failures are records too: one per domain or MX host, so CSV readers see them.
  const auto& missing = find("missinghost.test").probes.at(0);
  CHECK(missing.mx == "mx.missinghost.test");
  CHECK(missing.ip.empty());
  CHECK(missing.error.find("no such host") != std::string::npos);
  CHECK(find("nosuchdomain.test").probes.at(0).mx.empty());
  CHECK(find("nullmx.test").probes.empty());  // a null MX is an answer, not a failure
  // DANE and MTA-STS personalities, beyond their states.
  const auto& dane = find("dane.test");
  CHECK(dane.dnssec_mx);
  CHECK(dane.probes.at(0).dnssec_addr == true);
  CHECK(dane.probes.at(0).dane.matched_depth == 0);
  CHECK(dane.mta_sts.mode == MtaStsMode::enforce);
  CHECK(dane.tls_rpt.state == TlsRptState::valid);
  CHECK(find("danestale.test").probes.at(0).dane.detail.find("TLSA") != std::string::npos);
  CHECK(find("stsnotlisted.test").mx_hosts.at(0).mta_sts_match == false);
  CHECK(find("ststesting.test").mta_sts.mode == MtaStsMode::testing);
  CHECK(find("ststesting.test").tls_rpt.state == TlsRptState::invalid);
  CHECK_FALSE(find("good.test").probes.at(0).dnssec_addr.value_or(true));
  CHECK(find("good.test").mta_sts.verdict == MtaStsVerdict::no_policy);
  CHECK(fleet.totals().mail_commands == 0);
  fleet.stop();
}

}  // TEST_SUITE
