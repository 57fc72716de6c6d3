// DANE: TLSA classification (RFC 7672: usages 2/3 only), the DNS-only states (not applicable,
// halfdane, no records, lookup error, unusable), and OpenSSL's matching on real handshakes
// against scripted fakes with certificates from the run-time PKI.
#include "tls/dane.hpp"

#include "fakes/scripted_smtp.hpp"
#include "scan/probe.hpp"
#include "tls/client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> unhex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

dns::TlsaRecord tlsa(int usage, int selector, int matching, std::vector<std::uint8_t> data) {
  return dns::TlsaRecord{static_cast<std::uint8_t>(usage), static_cast<std::uint8_t>(selector),
                         static_cast<std::uint8_t>(matching), std::move(data)};
}

dns::TlsaAnswer answer(dns::Outcome outcome, bool ad, std::vector<dns::TlsaRecord> records = {}) {
  dns::TlsaAnswer a;
  a.outcome = outcome;
  a.authenticated = ad;
  a.records = std::move(records);
  return a;
}

struct DanePki {
  tls::Credentials with_ta(tls::Credentials c) const {
    c.chain_pem += ca.cert_pem();
    return c;
  }
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls DANE test CA");
  tls::Credentials good = ca.issue({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"}});
  tls::Credentials renewed = ca.issue({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"}});
  tls::Credentials other_name = ca.issue({.common_name = "mx.other.test", .dns_names = {"mx.other.test"}});
  // The CA sent along: DANE-TA(2) with a digest needs the TA in the server's chain.
  tls::Credentials good_with_ta = with_ta(good);
  tls::Credentials other_name_with_ta = with_ta(other_name);
  tls::Credentials self = tls::self_signed({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"}});
};
const DanePki& pki() {
  static const DanePki instance;
  return instance;
}

dns::TlsaRecord ee_spki(const tls::Credentials& c) { return tlsa(3, 1, 1, unhex(tls::spki_sha256(c.cert_pem))); }

scan::ProbeSettings fast() {
  scan::ProbeSettings s;
  s.ehlo_name = "scanner.mxtls.test";
  s.timeouts.connect = s.timeouts.greeting = s.timeouts.command = s.timeouts.handshake = 2s;
  s.timeouts.quit = 1s;
  s.timeouts.probe = 10s;
  return s;
}

// One probe of mx.fake.test with secure addresses and the given secure TLSA RRset.
ProbeResult dane_probe(const tls::Credentials& served, std::vector<dns::TlsaRecord> records,
                       const std::string& mx = "mx.fake.test") {
  asio::io_context io;
  fakes::ScriptedSmtpOptions options;
  options.drain_timeout = 300ms;
  fakes::ScriptedSmtp fake(io.get_executor(), fakes::starttls_session(served, mx), options);
  fake.start();
  tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = pki().ca.cert_pem()});
  ProbeResult result;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    scan::ProbeTarget target{"fake.test", mx, 10, fake.endpoint().address(), fake.port()};
    tls::DaneLookup lookup;
    lookup.addresses_secure = true;
    lookup.looked_up = true;
    lookup.tlsa = answer(dns::Outcome::ok, true, std::move(records));
    target.dane = lookup;
    target.tlsa_lookup_ms = 3;
    result = co_await scan::run_probe(target, fast(), context);
    fake.stop();
  }, asio::detached);
  io.run();
  CHECK_FALSE(fake.client_sent_mail_commands());
  return result;
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE("TLSA classification: usages 2 and 3 only, fields and lengths checked") {
  using C = tls::TlsaClass;
  const std::vector<std::uint8_t> h256(32, 0xab), h512(64, 0xcd);
  CHECK(tls::classify_tlsa(tlsa(3, 1, 1, h256)) == C::usable);
  CHECK(tls::classify_tlsa(tlsa(2, 0, 2, h512)) == C::usable);
  CHECK(tls::classify_tlsa(tlsa(3, 0, 0, {0x30, 0x82})) == C::usable);  // full data: OpenSSL judges it
  CHECK(tls::classify_tlsa(tlsa(0, 0, 1, h256)) == C::unusable_usage);
  CHECK(tls::classify_tlsa(tlsa(1, 1, 1, h256)) == C::unusable_usage);
  CHECK(tls::classify_tlsa(tlsa(4, 1, 1, h256)) == C::unknown_usage);
  CHECK(tls::classify_tlsa(tlsa(3, 2, 1, h256)) == C::unknown_selector);
  CHECK(tls::classify_tlsa(tlsa(3, 1, 3, h256)) == C::unknown_matching);
  CHECK(tls::classify_tlsa(tlsa(3, 1, 1, h512)) == C::malformed);
  CHECK(tls::classify_tlsa(tlsa(3, 1, 2, h256)) == C::malformed);
  CHECK(tls::classify_tlsa(tlsa(3, 1, 0, {})) == C::malformed);
  CHECK(tls::tlsa_text(tlsa(3, 1, 1, {0x01, 0xfe})) == "3 1 1 01fe");
}

TEST_CASE("DANE states decided by DNS alone") {
  std::vector<dns::TlsaRecord> usable;
  const std::vector<std::uint8_t> h256(32, 0x11);
  tls::DaneLookup l;

  SUBCASE("insecure addresses: not applicable") {
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::not_applicable);
    CHECK_FALSE(f.halfdane);
  }
  SUBCASE("insecure addresses beside secure TLSA: halfdane") {
    l.tlsa = answer(dns::Outcome::ok, true, {tlsa(3, 1, 1, h256)});
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::not_applicable);
    CHECK(f.halfdane);
    CHECK(f.detail.find("halfdane") != std::string::npos);
    CHECK(usable.empty());
  }
  l.addresses_secure = true;
  SUBCASE("secure addresses, insecure TLSA: halfdane the other way, treated as none") {
    l.tlsa = answer(dns::Outcome::ok, false, {tlsa(3, 1, 1, h256)});
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::no_records);
    CHECK(f.halfdane);
    CHECK(usable.empty());
  }
  SUBCASE("no records") {
    l.tlsa = answer(dns::Outcome::nxdomain, true);
    CHECK(tls::dane_from_dns(l, usable).state == DaneState::no_records);
    l.tlsa = answer(dns::Outcome::nodata, true);
    CHECK(tls::dane_from_dns(l, usable).state == DaneState::no_records);
  }
  SUBCASE("SERVFAIL (bogus) and timeouts are lookup errors") {
    l.tlsa = answer(dns::Outcome::servfail, false);
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::lookup_error);
    CHECK(f.detail.find("servfail") != std::string::npos);
    l.tlsa = answer(dns::Outcome::timeout, false);
    CHECK(tls::dane_from_dns(l, usable).state == DaneState::lookup_error);
  }
  SUBCASE("only PKIX usages or malformed records: unusable") {
    l.tlsa = answer(dns::Outcome::ok, true, {tlsa(1, 1, 1, h256), tlsa(3, 1, 1, {1, 2, 3})});
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::unusable);
    CHECK(f.detail.find("usage 0/1") != std::string::npos);
    CHECK(f.detail.find("wrong length") != std::string::npos);
    CHECK(f.tlsa.size() == 2);
  }
  SUBCASE("usable records wait for the handshake") {
    l.tlsa = answer(dns::Outcome::ok, true, {tlsa(1, 1, 1, h256), tlsa(3, 1, 1, h256)});
    auto f = tls::dane_from_dns(l, usable);
    CHECK(f.state == DaneState::failed);
    CHECK(usable.size() == 1);
  }
}

TEST_CASE("DANE-EE 3 1 1 of the served key matches at depth 0") {
  const auto r = dane_probe(pki().good, {ee_spki(pki().renewed), ee_spki(pki().good)});
  CHECK(r.status == Status::ok);
  CHECK(r.dnssec_addr == true);
  CHECK(r.dane.state == DaneState::matched);
  CHECK(r.dane.matched_depth == 0);
  CHECK(r.dane.matched_record == "3 1 1 " + tls::spki_sha256(pki().good.cert_pem));
  REQUIRE(r.tls);
  CHECK(r.tls->verdict == CertVerdict::verified);
  bool timed = false;
  for (const auto& t : r.phase_ms) timed = timed || t.phase == Phase::resolve_tlsa;
  CHECK(timed);
}

TEST_CASE("DANE-EE 3 0 1 matches a self-signed certificate; the PKIX verdict stays Untrusted") {
  const auto r = dane_probe(pki().self, {tlsa(3, 0, 1, unhex(tls::certificate_sha256(pki().self.cert_pem)))});
  CHECK(r.dane.state == DaneState::matched);
  CHECK(r.dane.matched_depth == 0);
  REQUIRE(r.tls);
  CHECK(r.tls->verdict == CertVerdict::untrusted);
  CHECK_FALSE(r.tls->verify_error.empty());
}

TEST_CASE("DANE-TA 2 0 1 of the CA matches at depth 1 when the server sends the CA") {
  const auto r = dane_probe(pki().good_with_ta, {tlsa(2, 0, 1, unhex(tls::certificate_sha256(pki().ca.cert_pem())))});
  CHECK(r.dane.state == DaneState::matched);
  CHECK(r.dane.matched_depth == 1);
  CHECK(r.dane.matched_record.rfind("2 0 1 ", 0) == 0);
}

TEST_CASE("DANE-TA 2 0 1 of a CA the server does not send: failed") {
  const auto r = dane_probe(pki().good, {tlsa(2, 0, 1, unhex(tls::certificate_sha256(pki().ca.cert_pem())))});
  CHECK(r.dane.state == DaneState::failed);
  CHECK(r.dane.detail == "no matching DANE TLSA records");
}

TEST_CASE("TLSA for the old key after a certificate change: failed, and the handshake completes") {
  const auto r = dane_probe(pki().renewed, {ee_spki(pki().good)});
  CHECK(r.status == Status::ok);  // DANE never aborts the probe
  CHECK(r.dane.state == DaneState::failed);
  CHECK(r.dane.detail.find("TLSA") != std::string::npos);
  REQUIRE(r.tls);
  CHECK(r.tls->verdict == CertVerdict::verified);  // PKIX is still fine
}

TEST_CASE("DANE-TA with a certificate for another name: failed on the name check") {
  const auto r = dane_probe(pki().other_name_with_ta, {tlsa(2, 0, 1, unhex(tls::certificate_sha256(pki().ca.cert_pem())))});
  CHECK(r.dane.state == DaneState::failed);
  CHECK(r.dane.detail.find("ostname") != std::string::npos);
  REQUIRE(r.tls);
  CHECK(r.tls->verdict == CertVerdict::trusted);
}

TEST_CASE("usable TLSA but no STARTTLS: DANE failed, with the reason") {
  asio::io_context io;
  fakes::ScriptedSmtpOptions options;
  options.drain_timeout = 300ms;
  fakes::ScriptedSmtp fake(io.get_executor(), fakes::plain_session(), options);
  fake.start();
  tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = pki().ca.cert_pem()});
  ProbeResult r;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    scan::ProbeTarget target{"fake.test", "mx.fake.test", 10, fake.endpoint().address(), fake.port()};
    tls::DaneLookup lookup;
    lookup.addresses_secure = true;
    lookup.tlsa = answer(dns::Outcome::ok, true, {ee_spki(pki().good)});
    target.dane = lookup;
    r = co_await scan::run_probe(target, fast(), context);
    fake.stop();
  }, asio::detached);
  io.run();
  CHECK(r.status == Status::not_offered);
  CHECK(r.dane.state == DaneState::failed);
  CHECK(r.dane.detail.find("no TLS connection") != std::string::npos);
}

}  // TEST_SUITE
