// Domain verdicts: the Gmail lock in delivery order, and each finding with its fix text.
#include "report/verdict.hpp"
#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace mxtls;
using namespace mxtls::report;
using namespace mxtls::report::testing;

namespace {

bool contains(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// The single finding whose `what` contains `needle`; fails the test if there is not exactly one.
const Finding& finding_about(const DomainResult& d, std::string_view needle) {
  const Finding* found = nullptr;
  int count = 0;
  for (const auto& f : d.findings)
    if (contains(f.what, needle)) {
      found = &f;
      ++count;
    }
  std::string all;
  for (const auto& f : d.findings) all += "\n  " + f.subject + ": " + f.what;
  INFO("looking for: " << needle << " among:" << all);
  REQUIRE(count == 1);
  return *found;
}

bool has_finding(const DomainResult& d, std::string_view needle) {
  return std::any_of(d.findings.begin(), d.findings.end(),
                     [&](const Finding& f) { return contains(f.what, needle); });
}

DomainResult judged(DomainResult d) {
  judge_domain(d);
  return d;
}

DomainResult one_probe_domain(const ProbeResult& p) {
  DomainResult d = make_domain("example.test");
  add_mx(d, p.mx, p.preference, {p.ip});
  d.probes.push_back(p);
  return judged(d);
}

}  // namespace

TEST_SUITE("report") {

TEST_CASE("lock: first MX refused, second MX with TLS -> grey") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  d.probes.push_back(refused_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(tls_probe("mx2.example.test", "127.0.0.11", 20));
  d = judged(d);
  REQUIRE(d.gmail_lock.has_value());
  CHECK(*d.gmail_lock == GmailLock::grey);
  const Finding& f = finding_about(d, "connection refused on port 25");
  CHECK(f.severity == Finding::Severity::warning);
  CHECK(f.subject == "mx1.example.test[127.0.0.10]");
  CHECK(contains(f.what, "not every MX accepts mail"));
  CHECK(contains(f.fix, "`inet_interfaces = all`"));
  CHECK(d.findings.size() == 1);
  CHECK(has_problems(d));
}

TEST_CASE("lock: first MX answers without STARTTLS -> red, even if a backup MX has TLS") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  d.probes.push_back(tls_probe("mx2.example.test", "127.0.0.11", 20));
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  d = judged(d);
  REQUIRE(d.gmail_lock.has_value());
  CHECK(*d.gmail_lock == GmailLock::red);
  const Finding& f = finding_about(d, "STARTTLS not offered");
  CHECK(f.severity == Finding::Severity::critical);
  CHECK(f.subject == "mx1.example.test[127.0.0.10]");
  CHECK(contains(f.what, "cleartext"));
  CHECK(contains(f.fix, "`smtpd_tls_security_level = may`"));
  CHECK(contains(f.fix, "smtpd_tls_chain_files"));
  CHECK(contains(f.fix, "`smtpd_tls_cert_file` + `smtpd_tls_key_file`"));
  CHECK(contains(f.fix, "smtp_tls_security_level is for sending"));
  CHECK(contains(f.fix, "Other MTAs: enable STARTTLS"));
}

TEST_CASE("lock: null MX, NXDOMAIN, DNS error and all-unreachable give no lock") {
  SUBCASE("null MX: info only, no problem") {
    DomainResult d = judged(make_domain("nomail.test", DomainKind::null_mx));
    CHECK_FALSE(d.gmail_lock.has_value());
    const Finding& f = finding_about(d, "accepts no mail");
    CHECK(f.severity == Finding::Severity::info);
    CHECK(f.subject == "nomail.test");
    CHECK(contains(f.fix, "replace the null MX with MX records"));
    CHECK_FALSE(has_problems(d));
  }
  SUBCASE("NXDOMAIN") {
    DomainResult d = make_domain("missing.test", DomainKind::nxdomain);
    d.error = "NXDOMAIN";
    d = judged(d);
    CHECK_FALSE(d.gmail_lock.has_value());
    const Finding& f = finding_about(d, "does not exist");
    CHECK(f.severity == Finding::Severity::critical);
    CHECK(contains(f.fix, "delegation"));
    CHECK(has_problems(d));
  }
  SUBCASE("DNS error") {
    DomainResult d = make_domain("broken.test", DomainKind::dns_error);
    d.error = "SERVFAIL";
    d = judged(d);
    CHECK_FALSE(d.gmail_lock.has_value());
    const Finding& f = finding_about(d, "MX lookup failed: SERVFAIL");
    CHECK(f.severity == Finding::Severity::warning);
    CHECK(contains(f.fix, "DNSSEC"));
  }
  SUBCASE("every MX unreachable") {
    DomainResult d = make_domain("example.test");
    add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
    add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
    d.probes.push_back(refused_probe("mx1.example.test", "127.0.0.10", 10));
    ProbeResult tarpit = refused_probe("mx2.example.test", "127.0.0.11", 20);
    tarpit.status = Status::timeout;
    tarpit.failed_phase = Phase::greeting;
    d.probes.push_back(tarpit);
    d = judged(d);
    CHECK_FALSE(d.gmail_lock.has_value());
    const Finding& all = finding_about(d, "no MX host answered with an SMTP greeting");
    CHECK(all.severity == Finding::Severity::critical);
    CHECK(all.subject == "example.test");
    CHECK(d.findings.front().severity == Finding::Severity::critical);  // sorted first
    CHECK(finding_about(d, "no SMTP greeting before the deadline").subject == "mx2.example.test[127.0.0.11]");
    CHECK(has_finding(d, "connection refused"));
  }
  SUBCASE("no MX host has an address") {
    DomainResult d = make_domain("example.test", DomainKind::no_mx_hosts);
    add_mx(d, "mx1.example.test", 10, {}, "mx1.example.test: no such host");
    d = judged(d);
    CHECK_FALSE(d.gmail_lock.has_value());
    CHECK(finding_about(d, "no MX host has an address").severity == Finding::Severity::critical);
    const Finding& host = finding_about(d, "MX host has no address");
    CHECK(host.subject == "mx1.example.test");
    CHECK(contains(host.fix, "Publish A/AAAA records for mx1.example.test"));
  }
}

TEST_CASE("lock: preference, then MX name, then address order decide") {
  DomainResult d = make_domain("example.test");
  // Same preference: "a.example.test" sorts before "b.example.test" whatever the vector order.
  d.probes.push_back(plain_probe("b.example.test", "127.0.0.20", 10));
  d.probes.push_back(tls_probe("a.example.test", "127.0.0.21", 10));
  CHECK(gmail_lock_for(d) == GmailLock::grey);
  // Within one MX the given address order counts: the first address answered in cleartext.
  DomainResult e = make_domain("example.test");
  e.probes.push_back(plain_probe("a.example.test", "127.0.0.22", 10));
  e.probes.push_back(tls_probe("a.example.test", "127.0.0.21", 10));
  CHECK(gmail_lock_for(e) == GmailLock::red);
  const auto order = delivery_order(d);
  REQUIRE(order.size() == 2);
  CHECK(order[0] == 1);
  CHECK(order[1] == 0);
}

TEST_CASE("lock: a rejected greeting is skipped like an unreachable host") {
  DomainResult d = make_domain("example.test");
  ProbeResult rejected = plain_probe("mx1.example.test", "127.0.0.10", 10);
  rejected.status = Status::smtp_reject;
  rejected.failed_phase = Phase::greeting;
  rejected.greeting_code = 554;
  rejected.banner = "5.7.1 no service for you";
  rejected.starttls.reset();
  d.probes.push_back(rejected);
  d.probes.push_back(tls_probe("mx2.example.test", "127.0.0.11", 20));
  d = judged(d);
  CHECK(d.gmail_lock == GmailLock::grey);
  const Finding& f = finding_about(d, "greeting rejected with 554");
  CHECK(f.severity == Finding::Severity::warning);
  CHECK(contains(f.what, "no service for you"));
  CHECK(contains(f.fix, "smtpd_client_restrictions"));
}

TEST_CASE("lock: greeting 2xx then EHLO stalls -> red, finding names the phase") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.status = Status::timeout;
  p.failed_phase = Phase::ehlo;
  p.starttls.reset();
  DomainResult d = one_probe_domain(p);
  CHECK(d.gmail_lock == GmailLock::red);
  const Finding& f = finding_about(d, "probe stopped at ehlo: timeout");
  CHECK(f.severity == Finding::Severity::warning);
  CHECK(contains(f.fix, "log"));
}

TEST_CASE("finding: STARTTLS advertised but answered 454") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.starttls = true;
  p.status = Status::smtp_reject;
  p.failed_phase = Phase::starttls;
  p.starttls_code = 454;
  p.starttls_reply = "4.7.0 TLS not available due to local problem";
  DomainResult d = one_probe_domain(p);
  CHECK(d.gmail_lock == GmailLock::red);
  const Finding& f = finding_about(d, "STARTTLS advertised, then answered 454 4.7.0 TLS not available");
  CHECK(f.severity == Finding::Severity::critical);
  CHECK(contains(f.what, "senders fall back to cleartext"));
  CHECK(contains(f.fix, "`smtpd_tls_loglevel = 1`"));
  CHECK(contains(f.fix, "readable"));
  CHECK(contains(f.fix, "smtpd_tls_chain_files"));
  CHECK(d.findings.size() == 1);
}

TEST_CASE("finding: STARTTLS advertised but the handshake fails") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.starttls = true;
  p.starttls_code = 220;
  p.status = Status::tls_error;
  p.failed_phase = Phase::handshake;
  p.error = "TLS handshake failed: unexpected eof while reading";
  DomainResult d = one_probe_domain(p);
  CHECK(d.gmail_lock == GmailLock::red);
  const Finding& f =
      finding_about(d, "STARTTLS advertised, then tls-error (TLS handshake failed: unexpected eof while reading)");
  CHECK(f.severity == Finding::Severity::critical);
  CHECK(contains(f.fix, "`smtpd_tls_loglevel = 1`"));
}

TEST_CASE("finding: legacy protocol TLSv1 and TLSv1.1") {
  for (const char* version : {"TLSv1", "TLSv1.1"}) {
    ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
    p.tls->version = version;
    p.tls->cipher = "ECDHE-RSA-AES128-SHA";
    DomainResult d = one_probe_domain(p);
    CHECK(d.gmail_lock == GmailLock::grey);
    const Finding& f = finding_about(d, std::string("only ") + version + " negotiated");
    CHECK(f.severity == Finding::Severity::warning);
    CHECK(contains(f.fix, "`smtpd_tls_protocols = >=TLSv1.2`"));
    CHECK_FALSE(has_finding(d, "weak cipher"));
  }
  CHECK(is_legacy_protocol("SSLv3"));
  CHECK_FALSE(is_legacy_protocol("TLSv1.2"));
  CHECK_FALSE(is_legacy_protocol("TLSv1.3"));
}

TEST_CASE("finding: weak ciphers by name and by bits") {
  CHECK(is_weak_cipher("RC4-SHA", 128));
  CHECK(is_weak_cipher("DES-CBC3-SHA", 112));
  CHECK(is_weak_cipher("ECDHE-RSA-DES-CBC3-SHA", 0));
  CHECK(is_weak_cipher("EXP-RC4-MD5", 0));
  CHECK(is_weak_cipher("EXP1024-DES-CBC-SHA", 0));
  CHECK(is_weak_cipher("NULL-SHA", 0));
  CHECK(is_weak_cipher("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0));
  CHECK(is_weak_cipher("AES128-SHA", 56));
  CHECK_FALSE(is_weak_cipher("ECDHE-RSA-AES256-GCM-SHA384", 256));
  CHECK_FALSE(is_weak_cipher("ECDHE-ECDSA-CHACHA20-POLY1305", 256));
  CHECK_FALSE(is_weak_cipher("TLS_AES_128_GCM_SHA256", 128));
  CHECK_FALSE(is_weak_cipher("DHE-RSA-AES128-SHA", 128));

  ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
  p.tls->version = "TLSv1.2";
  p.tls->cipher = "RC4-SHA";
  p.tls->cipher_bits = 128;
  DomainResult d = one_probe_domain(p);
  const Finding& f = finding_about(d, "weak cipher RC4-SHA (128 bits) negotiated");
  CHECK(f.severity == Finding::Severity::warning);
  CHECK(contains(f.fix, "smtpd_tls_exclude_ciphers"));
  CHECK(contains(f.fix, "RC4"));
  CHECK(contains(f.fix, "under 128 bits"));
}

TEST_CASE("finding: certificate problems by OpenSSL reason") {
  auto with_error = [](CertVerdict verdict, const char* error, bool name_matched) {
    ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
    p.tls->verdict = verdict;
    p.tls->verify_error = error;
    p.tls->name_matched = name_matched;
    return one_probe_domain(p);
  };
  SUBCASE("expired") {
    DomainResult d = with_error(CertVerdict::untrusted, "certificate has expired", true);
    CHECK(d.gmail_lock == GmailLock::grey);  // opportunistic TLS takes any certificate
    const Finding& f = finding_about(d, "certificate expired (not after 2034-01-01T00:00:00Z)");
    CHECK(f.severity == Finding::Severity::warning);
    CHECK(contains(f.fix, "Renew the certificate"));
    CHECK(contains(f.fix, "Let's Encrypt"));
    CHECK(d.findings.size() == 1);
  }
  SUBCASE("self-signed (OpenSSL 3 and 1.1 spellings)") {
    for (const char* e : {"self-signed certificate", "self signed certificate"}) {
      DomainResult d = with_error(CertVerdict::untrusted, e, true);
      const Finding& f = finding_about(d, "self-signed certificate (CN=mx1.example.test)");
      CHECK(contains(f.fix, "public CA such as Let's Encrypt"));
      CHECK(contains(f.fix, "mx1.example.test in subjectAltName"));
    }
  }
  SUBCASE("unknown issuer or private CA") {
    for (const char* e : {"unable to get local issuer certificate",
                          "self-signed certificate in certificate chain"}) {
      DomainResult d = with_error(CertVerdict::untrusted, e, true);
      const Finding& f = finding_about(d, "certificate issuer unknown");
      CHECK(contains(f.fix, "intermediate"));
      CHECK(contains(f.fix, "smtpd_tls_chain_files"));
    }
  }
  SUBCASE("other chain failure") {
    DomainResult d = with_error(CertVerdict::untrusted, "certificate signature failure", true);
    finding_about(d, "certificate does not verify: certificate signature failure");
  }
  SUBCASE("wrong name (Trusted)") {
    DomainResult d = with_error(CertVerdict::trusted, "", false);
    const Finding& f = finding_about(d, "certificate does not name mx1.example.test");
    CHECK(contains(f.what, "subjectAltName: mx1.example.test"));
    CHECK(contains(f.fix, "mx1.example.test (the name the MX record points to) in subjectAltName"));
    CHECK(f.severity == Finding::Severity::warning);
  }
  SUBCASE("self-signed with the wrong name: both findings") {
    DomainResult d = with_error(CertVerdict::untrusted, "self-signed certificate", false);
    CHECK(has_finding(d, "self-signed"));
    CHECK(has_finding(d, "does not name mx1.example.test"));
  }
  SUBCASE("anonymous") {
    ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
    p.tls->cert.reset();
    p.tls->verdict = CertVerdict::anonymous;
    p.tls->cipher = "ADH-AES256-GCM-SHA384";
    DomainResult d = one_probe_domain(p);
    CHECK(d.gmail_lock == GmailLock::grey);
    const Finding& f = finding_about(d, "TLS without a certificate");
    CHECK(contains(f.fix, "`smtpd_tls_exclude_ciphers = aNULL`"));
  }
  SUBCASE("verified: no findings at all") {
    DomainResult d = with_error(CertVerdict::verified, "", true);
    CHECK(d.findings.empty());
    CHECK_FALSE(has_problems(d));
  }
}

TEST_CASE("finding: AUTH offered before TLS") {
  ProbeResult with_tls = tls_probe("mx1.example.test", "127.0.0.10", 10);
  with_tls.auth_before_tls = {"PLAIN", "LOGIN"};
  DomainResult d = one_probe_domain(with_tls);
  const Finding& f = finding_about(d, "AUTH PLAIN LOGIN offered before STARTTLS");
  CHECK(f.severity == Finding::Severity::warning);
  CHECK(contains(f.fix, "`smtpd_tls_auth_only = yes`"));

  ProbeResult no_tls = plain_probe("mx1.example.test", "127.0.0.10", 10);
  no_tls.auth_before_tls = {"PLAIN"};
  DomainResult e = one_probe_domain(no_tls);
  const Finding& g = finding_about(e, "AUTH PLAIN offered before STARTTLS");
  CHECK(g.severity == Finding::Severity::critical);
  CHECK(contains(g.what, "cleartext"));
}

TEST_CASE("finding: bytes injected after the STARTTLS 220") {
  ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
  p.injected_after_starttls = "250 evil\\r\\n";
  DomainResult d = one_probe_domain(p);
  const Finding& f = finding_about(d, "bytes sent after the 220 reply to STARTTLS");
  CHECK(f.severity == Finding::Severity::critical);
  CHECK(contains(f.what, "CVE-2011-0411"));
  CHECK(contains(f.what, "250 evil"));
  CHECK(contains(f.fix, "upgrade the MTA"));
}

TEST_CASE("finding: implicit MX is information, with the MX record to publish") {
  DomainResult d = make_domain("example.test", DomainKind::implicit_mx);
  add_mx(d, "example.test", 0, {"127.0.0.10"});
  ProbeResult p = tls_probe("example.test", "127.0.0.10", 0);
  d.probes.push_back(p);
  d = judged(d);
  CHECK(d.gmail_lock == GmailLock::grey);
  const Finding& f = finding_about(d, "implicit MX");
  CHECK(f.severity == Finding::Severity::info);
  CHECK(contains(f.fix, "Publish an MX record"));
  CHECK(contains(f.fix, "example.test. IN MX 10 mx.example.test."));
  CHECK_FALSE(has_problems(d));
}

TEST_CASE("finding: one MX host without address among working ones") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "gone.example.test", 20, {}, "gone.example.test: NXDOMAIN");
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  d = judged(d);
  CHECK(d.gmail_lock == GmailLock::grey);
  const Finding& f = finding_about(d, "MX host has no address");
  CHECK(f.subject == "gone.example.test");
  CHECK(contains(f.what, "gone.example.test: NXDOMAIN"));
  CHECK(d.findings.size() == 1);
}

TEST_CASE("findings: one per MX when every address has it, per address otherwise") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10", "127.0.0.11"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.12", "127.0.0.13"});
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.11", 10));
  d.probes.push_back(tls_probe("mx2.example.test", "127.0.0.12", 20));
  d.probes.push_back(refused_probe("mx2.example.test", "127.0.0.13", 20));
  d = judged(d);
  CHECK(finding_about(d, "STARTTLS not offered").subject == "mx1.example.test");
  CHECK(finding_about(d, "connection refused").subject == "mx2.example.test[127.0.0.13]");
  CHECK(d.findings.size() == 2);
  CHECK(d.findings[0].severity == Finding::Severity::critical);
}

TEST_CASE("findings: a non-standard port appears in the subject") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.port = 2525;
  CHECK(probe_subject(p) == "mx1.example.test[127.0.0.10]:2525");
  DomainResult d = one_probe_domain(p);
  CHECK(finding_about(d, "STARTTLS not offered").subject == "mx1.example.test[127.0.0.10]:2525");
}

TEST_CASE("findings: HELO fallback is reported as no STARTTLS") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.used_helo = true;
  p.ehlo_keywords.clear();
  DomainResult d = one_probe_domain(p);
  CHECK(d.gmail_lock == GmailLock::red);
  CHECK(contains(finding_about(d, "only HELO answered").what, "STARTTLS cannot be offered"));
}

TEST_CASE("findings: a scanner-internal failure is information, not a server problem") {
  ProbeResult p = refused_probe("mx1.example.test", "127.0.0.10", 10);
  p.status = Status::internal;
  p.error = "too many open files";
  DomainResult d = one_probe_domain(p);
  CHECK_FALSE(d.gmail_lock.has_value());
  const Finding& f = finding_about(d, "the scanner itself failed at connect: too many open files");
  CHECK(f.severity == Finding::Severity::info);
  CHECK_FALSE(has_problems(d));
}

TEST_CASE("findings are replaced, not appended, when judged twice") {
  DomainResult d = make_domain("example.test");
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  judge_domain(d);
  const auto first = d.findings.size();
  judge_domain(d);
  CHECK(d.findings.size() == first);
}

TEST_CASE("postfix_word and greeting_accepted") {
  CHECK(postfix_word(CertVerdict::verified) == "Verified");
  CHECK(postfix_word(CertVerdict::trusted) == "Trusted");
  CHECK(postfix_word(CertVerdict::untrusted) == "Untrusted");
  CHECK(postfix_word(CertVerdict::anonymous) == "Anonymous");
  ProbeResult p = base_probe("mx.example.test", "127.0.0.1", 0);
  CHECK_FALSE(greeting_accepted(p));
  p.greeting_code = 220;
  CHECK(greeting_accepted(p));
  p.greeting_code = 421;
  CHECK_FALSE(greeting_accepted(p));
  p.greeting_code = 0;
  p.starttls = false;  // EHLO answered: the greeting was fine even if its code was not kept
  CHECK(greeting_accepted(p));
  CHECK(issue_label(Issue::starttls_not_offered) == "no STARTTLS");
}

}  // TEST_SUITE
