// Table tests for dns_name_matches, the RFC 6125 rule behind the Verified/Trusted verdict:
// exact names, case, trailing dots, wildcards, IDN A-labels, malformed patterns, DNS limits.
#include "tls/certificate.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using mxtls::tls::dns_name_matches;

namespace {

struct NameCase {
  std::string_view pattern;  // presented identifier (from the certificate)
  std::string_view host;     // reference identifier (the MX host name)
  bool matches;
};

void check_table(std::initializer_list<NameCase> table) {
  for (const NameCase& row : table) {
    CAPTURE(row.pattern);
    CAPTURE(row.host);
    CHECK(dns_name_matches(row.pattern, row.host) == row.matches);
  }
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE("name match: exact names, case and trailing dots") {
  check_table({
      {"mx.example.test", "mx.example.test", true},
      {"MX.Example.TEST", "mx.example.test", true},
      {"mx.example.test", "MX.EXAMPLE.TEST", true},
      {"mx.example.test.", "mx.example.test", true},
      {"mx.example.test", "mx.example.test.", true},
      {"mx.example.test.", "MX.EXAMPLE.TEST.", true},
      {"localhost", "localhost", true},  // one label is fine without a wildcard
      {"_mta-sts.example.test", "_mta-sts.example.test", true},
      {"mx.example.test..", "mx.example.test", false},  // only one trailing dot is ignored
      {"mx.example.test", "mx.example.test..", false},
      {"mx.example.test", "mx2.example.test", false},
      {"example.test", "mx.example.test", false},        // a parent is not its children
      {"mx.example.test", "example.test", false},
      {"mx.example.test", "mx.example.test.evil.test", false},
      {"xample.test", "example.test", false},
      {"mx.example.tes", "mx.example.test", false},
  });
}

TEST_CASE("name match: wildcards only as the whole left-most label") {
  check_table({
      {"*.example.test", "mx.example.test", true},
      {"*.example.test", "MX.EXAMPLE.TEST.", true},
      {"*.EXAMPLE.test", "mx.example.TEST", true},
      {"*.example.test.", "mx.example.test", true},
      {"*.mail.example.test", "mx1.mail.example.test", true},
      {"*.example.test", "-.example.test", true},
      {"*.example.test", "example.test", false},          // not the bare parent
      {"*.example.test", "a.mx.example.test", false},     // never spans labels
      {"*.example.test", "mx.other.test", false},
      {"*.example.test", ".example.test", false},
      {"*.example.test", "*.example.test", false},        // a host is never a pattern
      {"*.example.test", "mx.example.test.evil.test", false},
      {"mx.*.test", "mx.example.test", false},            // not left-most
      {"mx.example.*", "mx.example.test", false},
      {"*.*.example.test", "a.b.example.test", false},
      {"**.example.test", "mx.example.test", false},
      {"mx*.example.test", "mx1.example.test", false},    // partial wildcards are refused
      {"*mx.example.test", "amx.example.test", false},
      {"f*o.example.test", "foo.example.test", false},
      {"m*.example.test", "m.example.test", false},
  });
}

TEST_CASE("name match: wildcards need at least two labels after them") {
  // "*" or "*.test" would claim a whole top-level domain (or everything).
  check_table({
      {"*", "mx", false},
      {"*", "mx.example.test", false},
      {"*.", "mx.", false},
      {"*.test", "example.test", false},
      {"*.test.", "example.test.", false},
      {"*.", "", false},
      // Without a public suffix list a two-label parent is accepted, like OpenSSL does.
      {"*.co.test", "example.co.test", true},
  });
}

TEST_CASE("name match: IDN A-labels compare as ASCII; U-labels and partial IDN wildcards never match") {
  check_table({
      {"xn--r8jz45g.test", "xn--r8jz45g.test", true},
      {"XN--R8JZ45G.TEST", "xn--r8jz45g.test", true},
      {"mx.xn--r8jz45g.test", "MX.XN--R8JZ45G.TEST", true},
      {"*.xn--r8jz45g.test", "mx.xn--r8jz45g.test", true},
      {"*.example.test", "xn--r8jz45g.example.test", true},   // the wildcard takes the whole label
      {"xn--*.example.test", "xn--r8jz45g.example.test", false},
      {"xn--r8jz45g*.example.test", "xn--r8jz45g1.example.test", false},
      {"*--r8jz45g.example.test", "xn--r8jz45g.example.test", false},
      {"xn--r8jz45g.test", "xn--r8jz45h.test", false},
      // U-labels (raw UTF-8) are not host names: compare A-labels only.
      {"\xe4\xbe\x8b\xe3\x81\x88.test", "\xe4\xbe\x8b\xe3\x81\x88.test", false},
      {"*.example.test", "\xe4\xbe\x8b.example.test", false},
      {"xn--r8jz45g.test", "\xe4\xbe\x8b\xe3\x81\x88.test", false},
      // No Unicode case folding: KELVIN SIGN is not "k".
      {"\xe2\x84\xaax.example.test", "kx.example.test", false},
  });
}

TEST_CASE("name match: malformed names never match") {
  using namespace std::string_view_literals;
  check_table({
      {"", "", false},
      {"", "mx.example.test", false},
      {"mx.example.test", "", false},
      {".", ".", false},
      {".example.test", ".example.test", false},
      {"mx..example.test", "mx..example.test", false},
      {"mx.example.test ", "mx.example.test ", false},
      {" mx.example.test", "mx.example.test", false},
      {"mx example.test", "mx example.test", false},
      {"mx.example.test/", "mx.example.test/", false},
      {"mx@example.test", "mx@example.test", false},
      // Embedded NUL: the classic "mx.example.test\0.evil.test" certificate trick.
      {"mx.example.test\0.evil.test"sv, "mx.example.test", false},
      {"mx.example.test\0"sv, "mx.example.test\0"sv, false},
      {"mx.example.test", "mx.example.test\0.evil.test"sv, false},
      {"mx.example.test\n", "mx.example.test\n", false},
  });
}

TEST_CASE("name match: DNS length limits (63 per label, 253 per name)") {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  CHECK(dns_name_matches(label63 + ".example.test", label63 + ".example.test"));
  CHECK_FALSE(dns_name_matches(label64 + ".example.test", label64 + ".example.test"));
  CHECK(dns_name_matches("*.example.test", label63 + ".example.test"));
  CHECK_FALSE(dns_name_matches("*.example.test", label64 + ".example.test"));

  // 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254.
  std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  REQUIRE(name253.size() == 253);
  CHECK(dns_name_matches(name253, name253));
  CHECK(dns_name_matches(name253 + ".", name253));  // the trailing dot does not count
  const std::string name254 = name253 + "b";
  CHECK_FALSE(dns_name_matches(name254, name254));
}

}  // TEST_SUITE("tls")
