// The probe cache's packed results: every field of a result comes back as it went in, empty
// and absent parts included, and bytes pack_probe() did not write are refused.
#include "scan/probe_pack.hpp"
#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace mxtls;
using namespace mxtls::scan;

namespace {

// Every field set, none to its default, so a field the packer dropped shows up as a difference:
// the report tests' complete TLS session, plus what such a session leaves at its default.
ProbeResult everything_set() {
  ProbeResult p = report::testing::tls_probe("mx1.example.test", "::1", 10);
  p.port = 2525;
  p.status = Status::tls_error;
  p.failed_phase = Phase::verify;
  p.error = "certificate verify failed";
  p.used_helo = true;
  p.auth_before_tls = {"PLAIN", "LOGIN"};
  p.injected_after_starttls = "MAIL FROM:<x>\\r\\n";
  p.tls->verdict = CertVerdict::untrusted;
  p.tls->verify_error = "unable to get local issuer certificate (at depth 1)";
  p.tls->cert->sans.push_back("127.0.0.25");
  p.dnssec_addr = false;
  p.dane.state = DaneState::failed;
  p.dane.tlsa = {"3 1 1 " + std::string(64, 'c')};
  p.dane.matched_record = "3 1 1 " + std::string(64, 'd');
  p.dane.matched_depth = 0;
  p.dane.detail = "no TLSA record matched";
  p.dane.halfdane = true;
  p.attempts = 2;
  p.earlier_attempts = {"2026-11-23T17:59:00Z 421 busy"};
  return p;
}

}  // namespace

TEST_CASE("a packed probe result unpacks to every field it had") {
  const ProbeResult original = everything_set();
  const ProbeResult back = unpack_probe(pack_probe(original));
  CHECK(back == original);
  REQUIRE(back.tls);
  REQUIRE(back.tls->cert);
  CHECK(back.tls->cert->sans == original.tls->cert->sans);
  CHECK(back.dane.tlsa == original.dane.tlsa);
}

TEST_CASE("absent and empty parts stay absent and empty") {
  ProbeResult original = everything_set();
  original.failed_phase.reset();
  original.starttls.reset();
  original.dnssec_addr.reset();
  original.tls->cert.reset();
  original.ehlo_keywords.clear();
  original.banner.clear();
  CHECK(unpack_probe(pack_probe(original)) == original);

  ProbeResult no_tls;  // a probe that failed to connect
  no_tls.mx = "mx.example.test";
  const ProbeResult back = unpack_probe(pack_probe(no_tls));
  CHECK(back == no_tls);
  CHECK_FALSE(back.tls);
}

TEST_CASE("bytes pack_probe did not write are refused, not read past their end") {
  const std::string packed = pack_probe(everything_set());
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, packed.size() / 2, packed.size() - 1})
    CHECK_THROWS_AS(unpack_probe(std::string_view(packed).substr(0, cut)), std::runtime_error);
  CHECK_THROWS_AS(unpack_probe(packed + "x"), std::runtime_error);
  // A vector count far beyond the bytes left must not be trusted (nor reserve memory).
  CHECK_THROWS_AS(unpack_probe(std::string(16, '\xff')), std::runtime_error);
}
