// JSON Lines output: exact records, the fixed key order of DESIGN.md §5, null/true/false,
// and escaping of hostile text (quotes, control bytes, ill-formed UTF-8).
#include "report/jsonl.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"
#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace mxtls;
using namespace mxtls::report;
using namespace mxtls::report::testing;
using namespace std::string_literals;

namespace {

// Keys of a flat-ish record in order: every "key": at nesting depth 1.
std::vector<std::string> top_level_keys(const std::string& json) {
  std::vector<std::string> keys;
  int depth = 0;
  bool in_string = false;
  std::string current;
  bool expecting_key = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        current += json[++i];
        continue;
      }
      if (c == '"') {
        in_string = false;
        if (expecting_key && depth == 1 && i + 1 < json.size() && json[i + 1] == ':') keys.push_back(current);
        continue;
      }
      current += c;
      continue;
    }
    if (c == '"') {
      in_string = true;
      current.clear();
    } else if (c == '{' || c == '[') {
      ++depth;
      expecting_key = c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',') {
      expecting_key = true;
    }
  }
  return keys;
}

}  // namespace

TEST_SUITE("report") {

TEST_CASE("json_string escapes quotes, backslashes and control characters") {
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("say \"hi\" \\o/") == R"("say \"hi\" \\o/")");
  CHECK(json_string("a\nb\r\tc\bd\fe") == R"("a\nb\r\tc\bd\fe")");
  CHECK(json_string("\x01\x1b[2J\x7f") == R"("\u0001\u001b[2J\u007f")");
  CHECK(json_string("nul\0byte"s) == R"("nul\u0000byte")");
  CHECK(json_string("C1 \xc2\x9b") == R"("C1 \u009b")");
  CHECK(json_string("line\xe2\x80\xa8sep") == R"("line\u2028sep")");
  CHECK(json_string("") == "\"\"");
}

TEST_CASE("json_string keeps valid UTF-8 and replaces ill-formed bytes with U+FFFD") {
  CHECK(json_string("例え.jp") == "\"例え.jp\"");
  CHECK(json_string("\xff") == "\"\xef\xbf\xbd\"");
  // Truncated 3-byte sequence: one replacement for the maximal subpart.
  CHECK(json_string("a\xe6\x97") == "\"a\xef\xbf\xbd\"");
  // Overlong "/" and a UTF-16 surrogate are not UTF-8.
  CHECK(json_string("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(json_string("\xed\xa0\x80") == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  // Above U+10FFFF.
  CHECK(json_string("\xf4\x90\x80\x80") ==
        "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  const std::string hostile = "220 \xfe\xff\x00\x1b]0;pwned\x07 \"x\"\xe3\x81"s;
  const std::string out = json_string(hostile);
  CHECK(sanitize_utf8(out) == out);  // always valid UTF-8
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\0') == std::string::npos);
}

TEST_CASE("probe record: exact JSON of a verified TLS probe") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  judge_domain(d);
  const std::string expected =
      R"({"schema_version":1,"domain":"example.test","mx":"mx1.example.test","preference":10,)"
      R"("ip":"127.0.0.10","port":25,"status":"ok","failed_phase":null,"error":null,)"
      R"("banner":"mx1.example.test ESMTP","starttls":true,"tls_version":"TLSv1.3",)"
      R"("cipher":"TLS_AES_256_GCM_SHA384","group":"X25519","cert_verdict":"verified",)"
      R"("cert_error":null,"cert_subject":"CN=mx1.example.test",)"
      R"("cert_issuer":"CN=mxtls test CA,O=mxtls","cert_sans":["mx1.example.test"],)"
      R"("cert_not_after":"2034-01-01T00:00:00Z","cert_sha256":"aa11","spki_sha256":"bb22",)"
      R"("auth_before_tls":[],"gmail_lock":"grey","elapsed_ms":10,"record":"probe",)"
      R"("started_at":"2024-05-01T00:00:00Z","greeting_code":220,"used_helo":false,)"
      R"("ehlo_keywords":["PIPELINING","SIZE 10240000","STARTTLS"],"starttls_code":220,)"
      R"("starttls_reply":"2.0.0 Ready to start TLS","injected_after_starttls":null,)"
      R"("cipher_bits":256,"cert_not_before":"2024-01-01T00:00:00Z","cert_key_type":"EC",)"
      R"("cert_key_bits":256,"cert_signature_algorithm":"ecdsa-with-SHA256",)"
      R"("cert_chain_length":2,"cert_name_match":true,)"
      R"("ehlo_after_tls":["PIPELINING","SIZE 10240000"],)"
      R"("phase_ms":{"connect":1,"greeting":2,"ehlo":1,"starttls":1,"handshake":5},)"
      R"("input":"example.test","dnssec_mx":false,"dnssec_addr":null,"dane":null,"dane_match":null,)"
      R"("mta_sts_mode":null,"mta_sts_mx_match":null,"mta_sts_verdict":"no-policy","tls_rpt":"absent",)"
      R"("dane_detail":null,"dane_record":null,"dane_depth":null,"dane_tlsa":null,"attempts":1,"earlier_attempts":[]})";
  CHECK(probe_record_json(d, d.probes[0]) == expected);
}

TEST_CASE("probe record: a refused connection has nulls for every absent fact") {
  DomainResult d = make_domain("example.test");
  d.input = "";
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  d.probes.push_back(refused_probe("mx2.example.test", "127.0.0.11", 20));
  judge_domain(d);
  REQUIRE_FALSE(d.gmail_lock.has_value());
  const std::string expected =
      R"({"schema_version":1,"domain":"example.test","mx":"mx2.example.test","preference":20,)"
      R"("ip":"127.0.0.11","port":25,"status":"refused","failed_phase":"connect",)"
      R"("error":"Connection refused","banner":null,"starttls":null,"tls_version":null,)"
      R"("cipher":null,"group":null,"cert_verdict":null,"cert_error":null,"cert_subject":null,)"
      R"("cert_issuer":null,"cert_sans":null,"cert_not_after":null,"cert_sha256":null,)"
      R"("spki_sha256":null,"auth_before_tls":null,"gmail_lock":null,"elapsed_ms":1,)"
      R"("record":"probe","started_at":null,"greeting_code":null,"used_helo":false,)"
      R"("ehlo_keywords":null,"starttls_code":null,"starttls_reply":null,)"
      R"("injected_after_starttls":null,"cipher_bits":null,"cert_not_before":null,)"
      R"("cert_key_type":null,"cert_key_bits":null,"cert_signature_algorithm":null,)"
      R"("cert_chain_length":null,"cert_name_match":null,"ehlo_after_tls":null,)"
      R"("phase_ms":{"connect":1},"input":null,"dnssec_mx":false,"dnssec_addr":null,"dane":null,"dane_match":null,)"
      R"("mta_sts_mode":null,"mta_sts_mx_match":null,"mta_sts_verdict":"no-policy","tls_rpt":"absent",)"
      R"("dane_detail":null,"dane_record":null,"dane_depth":null,"dane_tlsa":null,"attempts":1,"earlier_attempts":[]})";
  CHECK(probe_record_json(d, d.probes[0]) == expected);
}

TEST_CASE("probe record: the 25 fixed keys come first, in DESIGN.md order, then record") {
  DomainResult d = make_domain("example.test");
  d.probes.push_back(plain_probe("mx1.example.test", "127.0.0.10", 10));
  judge_domain(d);
  const auto keys = top_level_keys(probe_record_json(d, d.probes[0]));
  const std::vector<std::string> fixed{
      "schema_version", "domain", "mx", "preference", "ip", "port", "status", "failed_phase",
      "error", "banner", "starttls", "tls_version", "cipher", "group", "cert_verdict",
      "cert_error", "cert_subject", "cert_issuer", "cert_sans", "cert_not_after", "cert_sha256",
      "spki_sha256", "auth_before_tls", "gmail_lock", "elapsed_ms"};
  REQUIRE(keys.size() > fixed.size());
  CHECK(std::vector<std::string>(keys.begin(), keys.begin() + 25) == fixed);
  CHECK(keys[25] == "record");
  REQUIRE(jsonl_fixed_keys().size() == 25);
  for (std::size_t i = 0; i < 25; ++i) CHECK(jsonl_fixed_keys()[i] == fixed[i]);
}

TEST_CASE("probe record: STARTTLS not offered is false, lock red, AUTH as an array") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.auth_before_tls = {"PLAIN", "LOGIN"};
  d.probes.push_back(p);
  judge_domain(d);
  const std::string json = probe_record_json(d, d.probes[0]);
  CHECK(json.find(R"("starttls":false,"tls_version":null,)") != std::string::npos);
  CHECK(json.find(R"("auth_before_tls":["PLAIN","LOGIN"],"gmail_lock":"red",)") != std::string::npos);
  CHECK(json.find(R"("status":"not-offered")") != std::string::npos);
}

TEST_CASE("probe record: hostile banner and certificate text stay one valid JSON line") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
  p.banner = "evil \"quoted\", with\r\nnewline \x1b[31mred\x1b[0m \xff\xfe end";
  p.tls->cert->subject = "CN=a\"b\\c";
  p.tls->cert->sans = {"x,y", "\x01"};
  d.probes.push_back(p);
  judge_domain(d);
  const std::string json = probe_record_json(d, d.probes[0]);
  CHECK(json.find('\n') == std::string::npos);
  CHECK(json.find('\r') == std::string::npos);
  CHECK(json.find('\x1b') == std::string::npos);
  CHECK(sanitize_utf8(json) == json);
  CHECK(json.find(R"("banner":"evil \"quoted\", with\r\nnewline \u001b[31mred\u001b[0m )"
                  "\xef\xbf\xbd\xef\xbf\xbd end\",") != std::string::npos);
  CHECK(json.find(R"("cert_subject":"CN=a\"b\\c",)") != std::string::npos);
  CHECK(json.find(R"("cert_sans":["x,y","\u0001"],)") != std::string::npos);
}

TEST_CASE("probe record: handshake failure names the phase, TLS fields null") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.status = Status::tls_error;
  p.failed_phase = Phase::handshake;
  p.error = "sslv3 alert handshake failure";
  p.starttls = true;
  p.starttls_code = 220;
  d.probes.push_back(p);
  judge_domain(d);
  const std::string json = probe_record_json(d, d.probes[0]);
  CHECK(json.find(R"("status":"tls-error","failed_phase":"handshake","error":"sslv3 alert handshake failure",)") !=
        std::string::npos);
  CHECK(json.find(R"("starttls":true,"tls_version":null,"cipher":null,"group":null,"cert_verdict":null,)") !=
        std::string::npos);
  CHECK(json.find(R"("gmail_lock":"red")") != std::string::npos);
}

TEST_CASE("anonymous TLS: verdict anonymous, certificate fields null, chain length 0") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = tls_probe("mx1.example.test", "127.0.0.10", 10);
  p.tls->cert.reset();
  p.tls->verdict = CertVerdict::anonymous;
  p.tls->group.clear();
  d.probes.push_back(p);
  judge_domain(d);
  const std::string json = probe_record_json(d, d.probes[0]);
  CHECK(json.find(R"("group":null,"cert_verdict":"anonymous","cert_error":null,"cert_subject":null,)"
                  R"("cert_issuer":null,"cert_sans":null,"cert_not_after":null,"cert_sha256":null,)"
                  R"("spki_sha256":null,)") != std::string::npos);
  CHECK(json.find(R"("cert_chain_length":0,"cert_name_match":null,)") != std::string::npos);
}

TEST_CASE("phase_ms sums a phase recorded twice and keeps first-seen order") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = refused_probe("mx1.example.test", "127.0.0.10", 10);
  p.phase_ms = {{Phase::connect, 3}, {Phase::greeting, 4}, {Phase::connect, 2}};
  d.probes.push_back(p);
  const std::string json = probe_record_json(d, d.probes[0]);
  CHECK(json.find(R"("phase_ms":{"connect":5,"greeting":4})") != std::string::npos);
}

TEST_CASE("domain record: exact summary with MX list, lock and findings") {
  DomainResult d = make_domain("example.test");
  d.input = "Example.TEST.";
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10", "::1"});
  add_mx(d, "mx2.example.test", 20, {}, "mx2.example.test: no such host");
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(tls_probe("mx1.example.test", "::1", 10));
  judge_domain(d);
  REQUIRE(d.findings.size() == 1);
  const std::string expected =
      R"({"schema_version":1,"record":"domain","domain":"example.test","input":"Example.TEST.",)"
      R"("kind":"mx","error":null,"dnssec_mx":false,"gmail_lock":"grey",)"
      R"("mx":[{"name":"mx1.example.test","preference":10,"addresses":["127.0.0.10","::1"],"error":null,)"
      R"("mta_sts_match":null},)"
      R"({"name":"mx2.example.test","preference":20,"addresses":[],"error":"mx2.example.test: no such host",)"
      R"("mta_sts_match":null}],)"
      R"("probes":2,"findings":[{"severity":"warning","subject":"mx2.example.test",)"
      R"("what":"MX host has no address (no A/AAAA record): mx2.example.test: no such host",)"
      R"("fix":"Publish A/AAAA records for mx2.example.test, or correct the MX record: it must )"
      R"(name a host with addresses (not an IP address, not a missing name)."}],)"
      R"("mta_sts_mode":null,"mta_sts_mx_match":null,"mta_sts_verdict":"no-policy","mta_sts_txt":null,)"
      R"("mta_sts_id":null,"mta_sts_url":null,"mta_sts_mx":null,"mta_sts_max_age":null,"mta_sts_error":null,)"
      R"("mta_sts_problems":[],"tls_rpt":"absent","tls_rpt_txt":null,"tls_rpt_rua":[],"tls_rpt_error":null,)"
      R"("dane":[]})";
  CHECK(domain_record_json(d) == expected);
}

TEST_CASE("write_jsonl: probes in delivery order, then the domain record, one per line") {
  DomainResult d = make_domain("example.test", DomainKind::mx);
  d.probes.push_back(plain_probe("mx2.example.test", "127.0.0.11", 20));
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  judge_domain(d);
  std::ostringstream out;
  write_jsonl(out, d);
  std::istringstream in(out.str());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find(R"("mx":"mx1.example.test")") != std::string::npos);
  CHECK(lines[1].find(R"("mx":"mx2.example.test")") != std::string::npos);
  CHECK(lines[2].rfind(R"({"schema_version":1,"record":"domain",)", 0) == 0);
  CHECK(out.str().back() == '\n');
}

TEST_CASE("null MX domain record: kind, null lock, info finding") {
  DomainResult d = make_domain("nomail.test", DomainKind::null_mx);
  judge_domain(d);
  const std::string json = domain_record_json(d);
  CHECK(json.find(R"("kind":"null-mx","error":null,"dnssec_mx":false,"gmail_lock":null,"mx":[],"probes":0,)") !=
        std::string::npos);
  CHECK(json.find(R"("severity":"info","subject":"nomail.test")") != std::string::npos);
}

}  // TEST_SUITE
