// MTA-STS and TLS-RPT parsers: every rule of RFC 8461 §3.1, §3.2 and §4.1 and of RFC 8460 §3,
// including the hostile cases (oversized bodies, control bytes, duplicates), each error
// checked for the line it names.
#include "policy/mta_sts.hpp"
#include "policy/tls_rpt.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace mxtls;
using namespace mxtls::policy;

namespace {

bool has_problem(const PolicyParse& p, int line, const std::string& fragment, bool fatal = true) {
  return std::any_of(p.problems.begin(), p.problems.end(), [&](const PolicyProblem& x) {
    return x.line == line && x.fatal == fatal && x.what.find(fragment) != std::string::npos;
  });
}

std::string all_problems(const PolicyParse& p) {
  std::string s;
  for (const auto& x : p.problems) s += x.text() + (x.fatal ? " [fatal]\n" : "\n");
  return s;
}

}  // namespace

TEST_SUITE("policy") {

TEST_CASE("STS TXT: valid records, with and without spaces and a trailing delimiter") {
  std::string error;
  auto r = parse_sts_txt("v=STSv1; id=20160831085700Z;", error);
  REQUIRE(r);
  CHECK(r->id == "20160831085700Z");
  r = parse_sts_txt("v=STSv1;id=abc", error);
  REQUIRE(r);
  CHECK(r->id == "abc");
  r = parse_sts_txt("v=STSv1 ;\tid=X1 ; ext-field.1=val ", error);
  REQUIRE(r);
  CHECK(r->id == "X1");
}

TEST_CASE("STS TXT: malformed records say why") {
  std::string error;
  CHECK_FALSE(parse_sts_txt("v=STSv2; id=1", error));
  CHECK(error.find("v=STSv1") != std::string::npos);
  CHECK_FALSE(parse_sts_txt("V=STSv1; id=1", error));  // %s: case-sensitive
  CHECK_FALSE(parse_sts_txt("v=STSv1", error));
  CHECK(error == "no id= field");
  CHECK_FALSE(parse_sts_txt("v=STSv1 id=1", error));
  CHECK_FALSE(parse_sts_txt("v=STSv1; id=", error));
  CHECK(error.find("1 to 32") != std::string::npos);
  CHECK_FALSE(parse_sts_txt("v=STSv1; id=abc-def", error));
  CHECK_FALSE(parse_sts_txt("v=STSv1; id=" + std::string(33, 'a'), error));
  CHECK(parse_sts_txt("v=STSv1; id=" + std::string(32, 'a'), error));
  CHECK_FALSE(parse_sts_txt("v=STSv1; id=1; id=2", error));
  CHECK(error.find("twice") != std::string::npos);
  CHECK_FALSE(parse_sts_txt("v=STSv1; id=1; novalue", error));
  CHECK_FALSE(parse_sts_txt(std::string("v=STSv1; id=1; x=\x01"), error));  // a control character
}

TEST_CASE("STS TXT selection: other TXT discarded, more than one STS record means none") {
  std::string chosen, error;
  auto r = select_sts_record({"google-site-verification=abc", "v=STSv1; id=7"}, chosen, error);
  REQUIRE(r);
  CHECK(r->id == "7");
  CHECK(chosen == "v=STSv1; id=7");
  CHECK_FALSE(select_sts_record({"v=STSv1; id=7", "v=STSv1; id=8"}, chosen, error));
  CHECK(error.find("2 TXT records") != std::string::npos);
  CHECK_FALSE(select_sts_record({"spf"}, chosen, error));
  CHECK(error.find("no TXT record") != std::string::npos);
  CHECK_FALSE(select_sts_record({}, chosen, error));
}

TEST_CASE("policy: a valid enforce policy with CRLF and one with LF") {
  for (const std::string eol : {"\r\n", "\n"}) {
    const std::string body = "version: STSv1" + eol + "mode: enforce" + eol + "mx: mail.example.com" + eol +
                             "mx: *.Example.NET" + eol + "max_age: 604800" + eol;
    const auto p = parse_sts_policy(body);
    CHECK_MESSAGE(p.valid(), all_problems(p));
    CHECK(p.problems.empty());
    CHECK(p.policy.mode == MtaStsMode::enforce);
    CHECK(p.policy.max_age == 604800);
    CHECK(p.policy.mx == std::vector<std::string>{"mail.example.com", "*.example.net"});
  }
  // No final line end, white space around the value, unknown extension keys ignored.
  const auto p = parse_sts_policy("version:STSv1\nmode:   testing  \nfoo_bar: anything goes\nmx: a.example\nmax_age: 86400");
  CHECK_MESSAGE(p.valid(), all_problems(p));
  CHECK(p.policy.mode == MtaStsMode::testing);
}

TEST_CASE("policy: mode none may come without mx") {
  const auto p = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
  CHECK_MESSAGE(p.valid(), all_problems(p));
  CHECK(p.policy.mode == MtaStsMode::none);
}

TEST_CASE("policy: required fields missing") {
  const auto p = parse_sts_policy("mx: a.example\n");
  CHECK_FALSE(p.valid());
  CHECK(has_problem(p, 0, "no version"));
  CHECK(has_problem(p, 0, "no mode"));
  CHECK(has_problem(p, 0, "no max_age"));
  const auto q = parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 86400\n");
  CHECK(has_problem(q, 0, "no valid mx"));
}

TEST_CASE("policy: bad values name their line") {
  const auto p = parse_sts_policy(
      "version: STSv2\n"          // 1
      "mode: Enforced\n"          // 2
      "max_age: 31557601\n"       // 3
      "mx: mail.*.example.com\n"  // 4
      "mx: example.com.\n"        // 5
      "this line has no colon\n"  // 6
      "mx: ok.example\n");        // 7
  CHECK_FALSE(p.valid());
  CHECK(has_problem(p, 1, "version must be STSv1"));
  CHECK(has_problem(p, 2, "mode must be"));
  CHECK(has_problem(p, 3, "above the limit"));
  CHECK(has_problem(p, 4, "wildcard"));
  CHECK(has_problem(p, 5, "ends in a dot"));
  CHECK(has_problem(p, 6, "not a \"key: value\" line"));
  CHECK(p.policy.mx == std::vector<std::string>{"ok.example"});
  CHECK(p.problems.front().text().rfind("line 1: ", 0) == 0);
}

TEST_CASE("policy: max_age bounds") {
  auto age = [](const std::string& v) {
    return parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: " + v + "\n");
  };
  CHECK(age("31557600").valid());
  CHECK(age("31557600").policy.max_age == 31557600);
  CHECK(age("0").valid());  // allowed, but a warning
  CHECK(has_problem(age("0"), 4, "under a day", false));
  CHECK_FALSE(age("31557601").valid());
  CHECK_FALSE(age("-1").valid());
  CHECK_FALSE(age("12345678901").valid());  // 11 digits
  CHECK_FALSE(age("1e6").valid());
  CHECK_FALSE(age("").valid());
}

TEST_CASE("policy: duplicates, white space, empty lines, control bytes") {
  const auto p = parse_sts_policy(
      "version: STSv1\n"      // 1
      "mode: enforce\n"       // 2
      "mode: testing\n"       // 3
      "\n"                    // 4
      " mx: a.example\n"      // 5
      "mx : b.example\n"      // 6
      "max_age: 86400\n"      // 7
      "max_age: 86400\n"      // 8
      "mx: c.example\x07\n"   // 9
      "mx: d.example\n");     // 10
  CHECK_FALSE(p.valid());
  CHECK(has_problem(p, 3, "first on line 2"));
  CHECK(p.policy.mode == MtaStsMode::enforce);  // the first one stays
  CHECK(has_problem(p, 4, "empty line", false));
  CHECK(has_problem(p, 5, "starts with white space"));
  CHECK(has_problem(p, 6, "white space before"));
  CHECK(has_problem(p, 8, "first on line 7"));
  CHECK(has_problem(p, 9, "control character"));
  CHECK(p.policy.mx == std::vector<std::string>{"d.example"});
}

TEST_CASE("policy: a lone CR is not a line end, an oversized body is refused") {
  const auto p = parse_sts_policy("version: STSv1\rmode: enforce\nmx: a.example\nmax_age: 86400\n");
  CHECK_FALSE(p.valid());
  CHECK(has_problem(p, 1, "control character"));
  const auto big = parse_sts_policy(std::string(max_policy_bytes + 1, 'a'));
  CHECK_FALSE(big.valid());
  CHECK(has_problem(big, 0, "larger than 64 KiB"));
}

TEST_CASE("MX patterns: RFC 8461 4.1 wildcard rule") {
  CHECK(mx_pattern_matches("mail.example.com", "mail.example.com"));
  CHECK(mx_pattern_matches("mail.example.com", "MAIL.Example.COM."));
  CHECK_FALSE(mx_pattern_matches("mail.example.com", "mail2.example.com"));
  CHECK(mx_pattern_matches("*.example.com", "mx1.example.com"));
  CHECK_FALSE(mx_pattern_matches("*.example.com", "example.com"));
  CHECK_FALSE(mx_pattern_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(mx_pattern_matches("*.example.com", ".example.com"));
  CHECK_FALSE(mx_pattern_matches("*.example.com", "mx1.example.com.evil"));
  CHECK_FALSE(mx_pattern_matches("*.example.com", "mx1example.com"));
  CHECK_FALSE(mx_pattern_matches("", "mx.example.com"));
  CHECK(mx_matches_any({"a.example", "*.mx.example"}, "b.mx.example"));
  CHECK_FALSE(mx_matches_any({}, "b.mx.example"));
  CHECK(check_mx_pattern("*.example.com").empty());
  CHECK(check_mx_pattern("mx-1.example.com").empty());
  CHECK_FALSE(check_mx_pattern("*").empty());
  CHECK_FALSE(check_mx_pattern("*.").empty());
  CHECK_FALSE(check_mx_pattern("*mx.example.com").empty());
  CHECK_FALSE(check_mx_pattern("-mx.example.com").empty());
  CHECK_FALSE(check_mx_pattern("mx..example.com").empty());
  CHECK_FALSE(check_mx_pattern("mx_1.example.com").empty());
}

TEST_CASE("TLS-RPT: valid records") {
  std::string error;
  auto r = parse_tls_rpt_txt("v=TLSRPTv1; rua=mailto:tls@example.com", error);
  REQUIRE(r);
  CHECK(r->rua == std::vector<std::string>{"mailto:tls@example.com"});
  r = parse_tls_rpt_txt("v=TLSRPTv1;rua=mailto:a@example.com, https://reports.example.com/tlsrpt;ext=1;", error);
  REQUIRE(r);
  CHECK(r->rua == std::vector<std::string>{"mailto:a@example.com", "https://reports.example.com/tlsrpt"});
}

TEST_CASE("TLS-RPT: malformed records say why") {
  std::string error;
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv2; rua=mailto:a@example.com", error));
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1", error));
  CHECK(error.find("no rua") != std::string::npos);
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1; rua=http://example.com/", error));
  CHECK(error.find("mailto: or https:") != std::string::npos);
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1; rua=mailto:nobody", error));
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1; rua=mailto:a@example.com,", error));
  CHECK(error == "empty URI in rua=");
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1; rua=https://", error));
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1; rua=mailto:a@x.example; rua=mailto:b@x.example", error));
  CHECK_FALSE(parse_tls_rpt_txt("v=TLSRPTv1 rua=mailto:a@x.example", error));
  std::string chosen;
  CHECK_FALSE(select_tls_rpt_record({"v=TLSRPTv1; rua=mailto:a@x.example", "v=TLSRPTv1; rua=mailto:b@x.example"},
                                    chosen, error));
  CHECK(select_tls_rpt_record({"other", "v=TLSRPTv1; rua=mailto:a@x.example"}, chosen, error));
  CHECK(chosen == "v=TLSRPTv1; rua=mailto:a@x.example");
}

}  // TEST_SUITE
