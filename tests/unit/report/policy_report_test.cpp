// Policies in the reports: the side-by-side table (opportunistic / verify / MTA-STS / DANE),
// the findings with their fixes, the policy fields of JSON Lines and CSV, and the text lines.
#include "report/csv.hpp"
#include "report/jsonl.hpp"
#include "report/text.hpp"
#include "report/verdict.hpp"
#include "scan/domain.hpp"

#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

using namespace mxtls;
using namespace mxtls::report;
using namespace mxtls::report::testing;

namespace {

bool has_finding(const DomainResult& d, Finding::Severity s, const std::string& what, const std::string& fix = "") {
  return std::any_of(d.findings.begin(), d.findings.end(), [&](const Finding& f) {
    return f.severity == s && f.what.find(what) != std::string::npos && f.fix.find(fix) != std::string::npos;
  });
}

const PolicyOutcome& row(const std::vector<PolicyOutcome>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.policy == name) return r;
  FAIL("no row " << name);
  return rows.front();
}

// Two MX hosts, both verified TLS; DNSSEC-secure addresses.
DomainResult two_mx() {
  DomainResult d = make_domain("example.test");
  d.dnssec_mx = true;
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(tls_probe("mx2.example.test", "127.0.0.11", 20));
  for (auto& p : d.probes) {
    p.dnssec_addr = true;
    p.dane.state = DaneState::matched;
    p.dane.matched_record = "3 1 1 aa";
    p.dane.matched_depth = 0;
  }
  return d;
}

void enforce(DomainResult& d, std::vector<std::string> patterns) {
  d.mta_sts.mode = MtaStsMode::enforce;
  d.mta_sts.verdict = MtaStsVerdict::pass;
  d.mta_sts.mx_patterns = std::move(patterns);
  d.mta_sts.policy_url = "https://mta-sts.example.test/.well-known/mta-sts.txt";
  scan::judge_mta_sts(d);
}

}  // namespace

TEST_SUITE("report") {

TEST_CASE("side by side: everything published and passing") {
  auto d = two_mx();
  enforce(d, {"*.example.test"});
  d.tls_rpt.state = TlsRptState::valid;
  judge_domain(d);
  CHECK(d.mta_sts.verdict == MtaStsVerdict::pass);
  const auto rows = side_by_side(d);
  REQUIRE(rows.size() == 4);
  for (const auto& r : rows) {
    CHECK(r.delivered);
    CHECK(r.encrypted);
    CHECK(r.every_mx);
  }
  CHECK_FALSE(row(rows, "opportunistic").authenticated);
  CHECK(row(rows, "verify").authenticated);
  CHECK(row(rows, "MTA-STS").authenticated);
  CHECK(row(rows, "DANE").authenticated);
  CHECK(d.findings.empty());
}

TEST_CASE("side by side: MX not in the MTA-STS policy, TLSA stale on the other MX") {
  auto d = two_mx();
  d.probes[1].dane.state = DaneState::failed;
  d.probes[1].dane.detail = "no matching DANE TLSA records";
  enforce(d, {"mx1.example.test"});
  judge_domain(d);
  CHECK(d.mta_sts.verdict == MtaStsVerdict::fail);
  CHECK(d.mx_hosts[1].mta_sts_match == false);
  const auto rows = side_by_side(d);
  CHECK(row(rows, "MTA-STS").delivered);
  CHECK_FALSE(row(rows, "MTA-STS").every_mx);
  CHECK(row(rows, "DANE").delivered);
  CHECK_FALSE(row(rows, "DANE").every_mx);
  CHECK(has_finding(d, Finding::Severity::critical, "MTA-STS: the MX is not listed", "mx: mx2.example.test"));
  CHECK(has_finding(d, Finding::Severity::critical, "TLSA records no longer match", "publish a TLSA record for the new one"));
  CHECK(has_finding(d, Finding::Severity::info, "MTA-STS without TLS-RPT"));
  CHECK(has_problems(d));
}

TEST_CASE("side by side: untrusted certificates under enforce and verify; testing mode advice") {
  auto d = two_mx();
  for (auto& p : d.probes) {
    p.tls->verdict = CertVerdict::untrusted;
    p.tls->verify_error = "certificate has expired";
    p.dane = {};
    p.dnssec_addr = false;
  }
  enforce(d, {"*.example.test"});
  judge_domain(d);
  const auto rows = side_by_side(d);
  CHECK_FALSE(row(rows, "verify").delivered);
  CHECK_FALSE(row(rows, "MTA-STS").delivered);
  CHECK(row(rows, "opportunistic").delivered);
  CHECK_FALSE(row(rows, "DANE").applies);
  CHECK(has_finding(d, Finding::Severity::critical, "MTA-STS: the certificate is not Verified (Untrusted)", "Renew"));

  auto t = two_mx();
  t.mta_sts.mode = MtaStsMode::testing;
  t.mta_sts.mx_patterns = {"*.example.test"};
  scan::judge_mta_sts(t);
  t.tls_rpt.state = TlsRptState::valid;
  judge_domain(t);
  CHECK(t.mta_sts.verdict == MtaStsVerdict::pass);
  CHECK(has_finding(t, Finding::Severity::info, "testing mode", "mode: enforce"));
}

TEST_CASE("DANE findings: publish TLSA, unusable records, halfdane, lookup error") {
  auto d = two_mx();
  d.probes[0].dane = {};
  d.probes[0].dane.state = DaneState::no_records;
  d.probes[1].dane = {};
  d.probes[1].dane.state = DaneState::unusable;
  d.probes[1].dane.detail = "no usable TLSA record: usage 0/1";
  judge_domain(d);
  CHECK(has_finding(d, Finding::Severity::info, "publishes no TLSA", "_25._tcp.mx1.example.test. IN TLSA 3 1 1"));
  CHECK(has_finding(d, Finding::Severity::warning, "none is usable for SMTP"));

  auto h = two_mx();
  h.probes[0].dane = {};
  h.probes[0].dnssec_addr = false;
  h.probes[0].dane.halfdane = true;
  h.probes[0].dane.detail = "the MX host's address records are not DNSSEC-validated; its TLSA records are";
  h.probes[1].dane = {};
  h.probes[1].dane.state = DaneState::lookup_error;
  h.probes[1].dane.detail = "TLSA lookup failed: servfail";
  judge_domain(h);
  CHECK(has_finding(h, Finding::Severity::warning, "not DNSSEC-validated", "Sign the zone"));
  CHECK(has_finding(h, Finding::Severity::critical, "TLSA lookup failed"));
  CHECK_FALSE(row(side_by_side(h), "DANE").every_mx);
}

TEST_CASE("DANE row: a failed TLSA lookup is named as such, not as a stale record") {
  auto d = two_mx();
  for (auto& p : d.probes) {
    p.dane = {};
    p.dane.state = DaneState::lookup_error;
    p.dane.detail = "TLSA lookup failed: servfail";
  }
  judge_domain(d);
  const auto rows = side_by_side(d);
  const auto& dane = row(rows, "DANE");
  CHECK_FALSE(dane.delivered);
  CHECK(dane.note == "TLSA lookup failed: mail is deferred");

  d.probes[0].dane.state = DaneState::failed;
  CHECK(row(side_by_side(d), "DANE").note == "TLSA lookup failed: mail is deferred");
  for (auto& p : d.probes) p.dane.state = DaneState::failed;
  CHECK(row(side_by_side(d), "DANE").note == "TLSA do not match: mail is deferred");
}

TEST_CASE("self-signed certificate with a matching TLSA: no advice to publish what is published") {
  auto d = two_mx();
  for (auto& p : d.probes) p.tls->verdict = CertVerdict::untrusted;
  for (auto& p : d.probes) p.tls->verify_error = "self-signed certificate";
  judge_domain(d);
  CHECK(has_finding(d, Finding::Severity::warning, "DANE senders authenticate it by its TLSA record", "Keep the TLSA record"));
  CHECK_FALSE(has_finding(d, Finding::Severity::warning, "self-signed", "or publish a DANE TLSA record"));

  auto plain = two_mx();
  for (auto& p : plain.probes) {
    p.tls->verdict = CertVerdict::untrusted;
    p.tls->verify_error = "self-signed certificate";
    p.dane = {};
  }
  judge_domain(plain);
  CHECK(has_finding(plain, Finding::Severity::warning, "self-signed certificate", "publish a DANE TLSA record (3 1 1)"));
}

TEST_CASE("policy fields in JSON Lines, CSV and text") {
  auto d = two_mx();
  d.probes[1].dane.state = DaneState::failed;
  enforce(d, {"mx1.example.test"});
  d.tls_rpt.state = TlsRptState::valid;
  d.tls_rpt.rua = {"mailto:tls@example.test"};
  judge_domain(d);
  const std::string json = probe_record_json(d, d.probes[1]);
  CHECK(json.find(R"("dnssec_mx":true,"dnssec_addr":true,"dane":"failed","dane_match":false,)"
                  R"("mta_sts_mode":"enforce","mta_sts_mx_match":false,"mta_sts_verdict":"fail","tls_rpt":"valid")") !=
        std::string::npos);
  const std::string first = probe_record_json(d, d.probes[0]);
  CHECK(first.find(R"("dane":"matched","dane_match":true,)") != std::string::npos);
  CHECK(first.find(R"("dane_record":"3 1 1 aa","dane_depth":0)") != std::string::npos);
  const std::string summary = domain_record_json(d);
  CHECK(summary.find(R"("mta_sts_mode":"enforce","mta_sts_mx_match":false,"mta_sts_verdict":"fail")") != std::string::npos);
  CHECK(summary.find(R"("tls_rpt":"valid")") != std::string::npos);
  CHECK(summary.find(R"("dane":["matched","failed"])") != std::string::npos);

  const auto columns = csv_columns();
  const auto values = csv_values(d, d.probes[1]);
  auto value = [&](std::string_view column) {
    const auto at = std::find(columns.begin(), columns.end(), column);
    REQUIRE(at != columns.end());
    return values[static_cast<std::size_t>(at - columns.begin())];
  };
  CHECK(value("dnssec_mx") == "true");
  CHECK(value("dane") == "failed");
  CHECK(value("dane_match") == "false");
  CHECK(value("mta_sts_mx_match") == "false");
  CHECK(value("mta_sts_verdict") == "fail");
  CHECK(value("tls_rpt") == "valid");
  const auto at = std::find(columns.begin(), columns.end(), std::string_view("dnssec_mx"));
  const std::vector<std::string_view> order(at, at + 8);
  CHECK(order == std::vector<std::string_view>{"dnssec_mx", "dnssec_addr", "dane", "dane_match", "mta_sts_mode",
                                               "mta_sts_mx_match", "mta_sts_verdict", "tls_rpt"});

  std::ostringstream text;
  write_domain_report(text, d, {});
  CHECK(text.str().find("DANE      matched") != std::string::npos);
  CHECK(text.str().find("MTA-STS   fail, mode enforce") != std::string::npos);
  CHECK(text.str().find("Policy          delivered encrypted authenticated every MX") != std::string::npos);
}

}  // TEST_SUITE
