// Human report and summary table: lock, phases, certificate words, escaping of hostile
// text, colour only on request, and column alignment with wide (CJK) characters.
#include "report/text.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"
#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace mxtls;
using namespace mxtls::report;
using namespace mxtls::report::testing;

namespace {

bool contains(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

std::string report_of(DomainResult d, bool color = false) {
  judge_domain(d);
  std::ostringstream out;
  write_domain_report(out, d, TextOptions{color});
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_SUITE("report") {

TEST_CASE("utf8: decoding, sanitising and display width") {
  CHECK(display_width("abc") == 3);
  CHECK(display_width("例え.jp") == 7);
  CHECK(display_width("한국.kr") == 7);
  CHECK(display_width("ＡＢ") == 4);  // fullwidth forms
  CHECK(display_width("e\xcc\x81") == 1);  // e + combining acute
  CHECK(display_width("\xff") == 1);
  CHECK(pad_to_width("例え", 6) == "例え  ");
  CHECK(pad_to_width("toolong", 3) == "toolong");
  CHECK(sanitize_utf8("ok \xe2\x82") == "ok \xef\xbf\xbd");
  const auto d = decode_utf8("\xf0\x9f\x98\x80", 0);
  CHECK(d.valid);
  CHECK(d.length == 4);
  CHECK(d.code_point == 0x1F600);
  CHECK_FALSE(decode_utf8("\xe0\x80\x80", 0).valid);  // overlong
  CHECK(terminal_safe("a\x1b[2Jb") == "a\\x1B[2Jb");
  CHECK(terminal_safe("\xe2\x80\xae" "evil") == "\\u{202E}evil");  // right-to-left override
  CHECK(terminal_safe("\xc2\x9b") == "\\u{009B}");
  CHECK(terminal_safe(std::string(600, 'x')).size() < 600);
}

TEST_CASE("text report: grey lock, MX, phases, TLS facts and the Postfix verdict word") {
  DomainResult d = make_domain("xn--r8jz45g.test");
  d.input = "例え.test";
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  const std::string out = report_of(d);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() > 5);
  CHECK(lines[0] == "xn--r8jz45g.test  (例え.test)");
  CHECK(lines[1] ==
        "  Gmail lock:  grey   mail to this domain travels over TLS (decided by "
        "mx1.example.test[127.0.0.10])");
  CHECK(contains(out, "  MX 10 mx1.example.test\n"));
  CHECK(contains(out, "    127.0.0.10:25  ok, 10 ms, 2024-05-01T00:00:00Z\n"));
  CHECK(contains(out, "      phases    connect ok 1 ms → greeting ok 2 ms → EHLO ok 1 ms → "
                      "STARTTLS ok 1 ms → TLS ok 5 ms → verify Verified\n"));
  CHECK(contains(out, "      banner    220 mx1.example.test ESMTP\n"));
  CHECK(contains(out, "      STARTTLS  offered, reply 220 2.0.0 Ready to start TLS\n"));
  CHECK(contains(out, "      TLS       TLSv1.3, TLS_AES_256_GCM_SHA384 (256 bits), group X25519\n"));
  CHECK(contains(out, "      cert      Verified: chain to a trusted root, name matches mx1.example.test\n"));
  CHECK(contains(out, "subject  CN=mx1.example.test\n"));
  CHECK(contains(out, "issuer   CN=mxtls test CA,O=mxtls\n"));
  CHECK(contains(out, "SANs     mx1.example.test\n"));
  CHECK(contains(out, "valid    2024-01-01T00:00:00Z … 2034-01-01T00:00:00Z\n"));
  CHECK(contains(out, "key      EC 256 bits, ecdsa-with-SHA256, chain of 2\n"));
  CHECK(contains(out, "  Findings: none\n"));
  CHECK_FALSE(contains(out, "\x1b"));
}

TEST_CASE("text report: red lock, not offered, findings with fixes") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(refused_probe("mx2.example.test", "127.0.0.11", 20));
  const std::string out = report_of(d);
  CHECK(contains(out, "Gmail lock:  RED   mail to this domain travels in cleartext"));
  CHECK(contains(out, "connect ok 1 ms → greeting ok 2 ms → EHLO ok 1 ms → STARTTLS not offered → TLS - → verify -"));
  CHECK(contains(out, "      STARTTLS  not offered\n"));
  CHECK(contains(out, "connect FAILED 1 ms → greeting - → EHLO - → STARTTLS - → TLS - → verify -"));
  CHECK(contains(out, "      error     Connection refused\n"));
  CHECK(contains(out, "  Findings\n    CRITICAL mx1.example.test[127.0.0.10]: STARTTLS not offered"));
  CHECK(contains(out, "             fix: On Postfix in main.cf set `smtpd_tls_security_level = may`"));
  CHECK(contains(out, "    WARNING  mx2.example.test[127.0.0.11]: connection refused on port 25"));
}

TEST_CASE("text report: untrusted certificate shows OpenSSL's reason") {
  ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
  p.tls->verdict = CertVerdict::untrusted;
  p.tls->verify_error = "certificate has expired";
  DomainResult d = make_domain("example.test");
  d.probes.push_back(p);
  const std::string out = report_of(d);
  CHECK(contains(out, "      cert      Untrusted: certificate has expired\n"));
  CHECK(contains(out, "verify Untrusted"));
  CHECK(contains(out, "WARNING  mx1.example.test[127.0.0.10]: certificate expired"));
}

TEST_CASE("text report: no lock for null MX and NXDOMAIN") {
  const std::string null_mx = report_of(make_domain("nomail.test", DomainKind::null_mx));
  CHECK(contains(null_mx, "Gmail lock: —  no mail can be delivered: null MX, the domain accepts no mail"));
  CHECK(contains(null_mx, "INFO     nomail.test: null MX"));
  DomainResult nx = make_domain("missing.test", DomainKind::nxdomain);
  nx.error = "NXDOMAIN";
  const std::string out = report_of(nx);
  CHECK(contains(out, "no mail can be delivered: the domain does not exist"));
  CHECK(contains(out, "  DNS: NXDOMAIN\n"));
}

TEST_CASE("text report: hostile banner cannot inject terminal escapes") {
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.banner = "evil\x1b]0;owned\x07 \xe2\x80\xae\r\nsecond line \xff";
  p.auth_before_tls = {"PLAIN\x1b[31m"};
  DomainResult d = make_domain("example.test");
  d.probes.push_back(p);
  const std::string out = report_of(d);
  CHECK_FALSE(contains(out, "\x1b"));
  CHECK_FALSE(contains(out, "\x07"));
  CHECK_FALSE(contains(out, "\r"));
  CHECK(sanitize_utf8(out) == out);
  CHECK(contains(out, "      banner    220 evil\\x1B]0;owned\\x07 \\u{202E}\n"));
  CHECK(contains(out, "                second line \xef\xbf\xbd\n"));
  CHECK(contains(out, "offered before TLS: PLAIN\\x1B[31m"));
}

TEST_CASE("text report: ANSI colour only when enabled") {
  DomainResult d = make_domain("example.test");
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  CHECK_FALSE(contains(report_of(d, false), "\x1b["));
  const std::string coloured = report_of(d, true);
  CHECK(contains(coloured, "\x1b[1;31m RED \x1b[0m"));
  CHECK(contains(coloured, "\x1b[0m"));
}

TEST_CASE("summary table: one row per domain, aligned with CJK names, lock tally") {
  std::vector<DomainResult> domains;
  {
    DomainResult d = make_domain("xn--r8jz45g.test");
    d.input = "例え.test";
    add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
    d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
    domains.push_back(d);
  }
  {
    DomainResult d = make_domain("plain.test");
    add_mx(d, "mx1.plain.test", 10, {"127.0.0.11"});
    add_mx(d, "mx2.plain.test", 20, {"127.0.0.12"});
    d.probes.push_back(plain_probe("mx1.plain.test", "127.0.0.11", 10));
    d.probes.push_back(tls_probe("mx2.plain.test", "127.0.0.12", 20));
    domains.push_back(d);
  }
  domains.push_back(make_domain("nomail.test", DomainKind::null_mx));
  {
    ProbeResult p = tls_probe("mx.old.test", "127.0.0.13", 5);
    p.tls->version = "TLSv1";
    p.tls->verdict = CertVerdict::untrusted;
    p.tls->verify_error = "self-signed certificate";
    DomainResult d = make_domain("old.test");
    add_mx(d, "mx.old.test", 5, {"127.0.0.13"});
    d.probes.push_back(p);
    domains.push_back(d);
  }
  for (auto& d : domains) judge_domain(d);

  std::ostringstream out;
  write_summary_table(out, domains, TextOptions{});
  const auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 7);  // header, rule, 4 rows, tally
  CHECK(lines[0].rfind("Domain", 0) == 0);
  CHECK(contains(lines[2], "例え.test"));
  CHECK(contains(lines[3], "plain.test"));
  CHECK(contains(lines[3], "1/2"));  // STARTTLS on one of two MX
  CHECK(contains(lines[3], "no STARTTLS"));
  CHECK(contains(lines[4], "null MX"));
  CHECK(contains(lines[5], "TLSv1"));
  CHECK(contains(lines[5], "untrusted"));
  CHECK(contains(lines[5], "old TLS"));
  CHECK(contains(lines[5], "self-signed"));
  CHECK(lines[6] == "4 domains: grey (TLS) 2 (50%), red (cleartext) 1 (25%), no mail delivery 1 (25%)");

  // Every column starts at the same display column on every line: check "MX" and "Lock".
  auto column_of = [](const std::string& line, std::string_view cell) {
    const auto pos = line.find(cell);
    REQUIRE(pos != std::string::npos);
    return display_width(line.substr(0, pos));
  };
  const std::size_t lock_col = column_of(lines[0], "Lock");
  CHECK(column_of(lines[2], "grey") == lock_col);
  CHECK(column_of(lines[3], "red") == lock_col);
  CHECK(display_width(lines[4].substr(0, lines[4].rfind("—"))) == lock_col);  // STARTTLS, TLS, cert are — too
  CHECK(column_of(lines[5], "grey") == lock_col);
  const std::size_t mx_col = column_of(lines[0], "MX");
  CHECK(column_of(lines[2], " 1 ") + 1 == mx_col);
  CHECK(column_of(lines[3], " 2 ") + 1 == mx_col);
  CHECK_FALSE(contains(out.str(), "\x1b"));

  std::ostringstream coloured;
  write_summary_table(coloured, domains, TextOptions{true});
  CHECK(contains(coloured.str(), "\x1b[1;31mred "));
}

}  // TEST_SUITE
