// CSV output: RFC 4180 quoting, the documented column order, exact rows, hostile text.
#include "report/csv.hpp"
#include "report/jsonl.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"
#include "unit/report/builders.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

using namespace mxtls;
using namespace mxtls::report;
using namespace mxtls::report::testing;
using namespace std::string_literals;

TEST_SUITE("report") {

TEST_CASE("csv_field quotes commas, quotes, CR and LF, doubling quotes") {
  CHECK(csv_field("plain text") == "plain text");
  CHECK(csv_field("") == "");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("line1\r\nline2") == "\"line1\r\nline2\"");
  CHECK(csv_field("lf\nonly") == "\"lf\nonly\"");
  CHECK(csv_field("tab\there") == "tab\there");
  CHECK(csv_field("\"") == "\"\"\"\"");
}

TEST_CASE("csv_field replaces control bytes and ill-formed UTF-8 with U+FFFD") {
  CHECK(csv_field("\x1b[31mred") == "\xef\xbf\xbd[31mred");
  CHECK(csv_field("nul\0x"s) == "nul\xef\xbf\xbdx");
  CHECK(csv_field("\xff,x") == "\"\xef\xbf\xbd,x\"");
  CHECK(csv_field("\xc2\x9b") == "\xef\xbf\xbd");  // C1 CSI
  CHECK(csv_field("例え.jp") == "例え.jp");
  const std::string out = csv_field("\xe3\x81 \x7f \"\x01\"");
  CHECK(sanitize_utf8(out) == out);
  CHECK(out == "\"\xef\xbf\xbd \xef\xbf\xbd \"\"\xef\xbf\xbd\"\"\"");
}

TEST_CASE("CSV header: the 25 fixed columns in order, then the extras") {
  std::ostringstream out;
  write_csv_header(out);
  CHECK(out.str() ==
        "schema_version,domain,mx,preference,ip,port,status,failed_phase,error,banner,starttls,"
        "tls_version,cipher,group,cert_verdict,cert_error,cert_subject,cert_issuer,cert_sans,"
        "cert_not_after,cert_sha256,spki_sha256,auth_before_tls,gmail_lock,elapsed_ms,"
        "started_at,greeting_code,used_helo,starttls_code,starttls_reply,injected_after_starttls,"
        "cipher_bits,cert_not_before,cert_key_type,cert_key_bits,cert_signature_algorithm,"
        "cert_chain_length,cert_name_match,input,dnssec_mx,dnssec_addr,dane,dane_match,mta_sts_mode,"
        "mta_sts_mx_match,mta_sts_verdict,tls_rpt,dane_detail,dane_record,dane_depth,attempts\r\n");
  const auto& columns = csv_columns();
  REQUIRE(columns.size() >= 25);
  for (std::size_t i = 0; i < 25; ++i) CHECK(columns[i] == jsonl_fixed_keys()[i]);
}

TEST_CASE("CSV rows: exact TLS and refused rows, arrays joined, null empty, booleans") {
  DomainResult d = make_domain("example.test");
  add_mx(d, "mx1.example.test", 10, {"127.0.0.10"});
  add_mx(d, "mx2.example.test", 20, {"127.0.0.11"});
  ProbeResult tls = tls_probe("mx1.example.test", "127.0.0.10", 10);
  tls.tls->cert->sans = {"mx1.example.test", "mail.example.test"};
  d.probes.push_back(refused_probe("mx2.example.test", "127.0.0.11", 20));
  d.probes.push_back(tls);
  judge_domain(d);
  std::ostringstream out;
  write_csv_rows(out, d);
  CHECK(out.str() ==
        "1,example.test,mx1.example.test,10,127.0.0.10,25,ok,,,mx1.example.test ESMTP,true,"
        "TLSv1.3,TLS_AES_256_GCM_SHA384,X25519,verified,,CN=mx1.example.test,"
        "\"CN=mxtls test CA,O=mxtls\",mx1.example.test mail.example.test,2034-01-01T00:00:00Z,"
        "aa11,bb22,,grey,10,2024-05-01T00:00:00Z,220,false,220,2.0.0 Ready to start TLS,,256,"
        "2024-01-01T00:00:00Z,EC,256,ecdsa-with-SHA256,2,true,example.test,false,,,,,,no-policy,absent,,,,1\r\n"
        "1,example.test,mx2.example.test,20,127.0.0.11,25,refused,connect,Connection refused,,,"
        ",,,,,,,,,,,,grey,1,,,false,,,,,,,,,,,example.test,false,,,,,,no-policy,absent,,,,1\r\n");
}

TEST_CASE("CSV row: not offered, AUTH joined by spaces, hostile banner quoted") {
  DomainResult d = make_domain("example.test");
  ProbeResult p = plain_probe("mx1.example.test", "127.0.0.10", 10);
  p.auth_before_tls = {"PLAIN", "LOGIN"};
  p.banner = "hi, \"there\"\r\n\x1b";
  d.probes.push_back(p);
  judge_domain(d);
  const auto values = csv_values(d, d.probes[0]);
  REQUIRE(values.size() == csv_columns().size());
  CHECK(values[6] == "not-offered");
  CHECK(values[10] == "false");
  CHECK(values[22] == "PLAIN LOGIN");
  CHECK(values[23] == "red");
  std::ostringstream out;
  write_csv_rows(out, d);
  CHECK(out.str().find(",\"hi, \"\"there\"\"\r\n\xef\xbf\xbd\",false,") != std::string::npos);
}

TEST_CASE("every CSV row has as many fields as the header") {
  DomainResult d = make_domain("example.test");
  d.probes.push_back(tls_probe("mx1.example.test", "127.0.0.10", 10));
  d.probes.push_back(plain_probe("mx2.example.test", "127.0.0.11", 20));
  d.probes.push_back(refused_probe("mx3.example.test", "127.0.0.12", 30));
  judge_domain(d);
  for (const auto& p : d.probes) CHECK(csv_values(d, p).size() == csv_columns().size());
}

}  // TEST_SUITE

TEST_SUITE("report") {

// Deterministic pseudo-random bytes (fixed seed): every writer must turn any input into valid
// UTF-8 without raw control characters (CSV keeps TAB/CR/LF, inside quotes for CR/LF).
TEST_CASE("writers produce valid UTF-8 for arbitrary bytes") {
  std::uint32_t state = 0x2545F491u;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(next() % 40, '\0');
    for (char& c : bytes) {
      // Bias towards interesting bytes: controls, quotes, UTF-8 lead/continuation bytes.
      static constexpr unsigned char pool[] = {0x00, 0x07, 0x0A, 0x0D, 0x1B, '"', ',', '\\', 0x7F,
                                               0x80, 0xBF, 0xC2, 0xE2, 0xED, 0xF0, 0xF4, 0xFF, 'a'};
      c = static_cast<char>(next() % 3 == 0 ? pool[next() % sizeof pool] : next() & 0xFF);
    }
    const std::string json = json_string(bytes);
    CHECK(sanitize_utf8(json) == json);
    CHECK(std::none_of(json.begin(), json.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
    const std::string field = csv_field(bytes);
    CHECK(sanitize_utf8(field) == field);
    CHECK(std::none_of(field.begin(), field.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7F;
    }));
    if (field.find_first_of(",\"\r\n") != std::string::npos) CHECK(field.front() == '"');
    const std::string shown = terminal_safe(bytes);
    CHECK(sanitize_utf8(shown) == shown);
    CHECK(std::none_of(shown.begin(), shown.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u < 0x20 || u == 0x7F;
    }));
  }
}

}  // TEST_SUITE
