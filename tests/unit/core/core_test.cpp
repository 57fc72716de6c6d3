// Core helpers: domain name normalisation (IDN, trailing dots, bad names with reasons),
// printable() on hostile bytes, endpoints as text, and the stable names of statuses and phases.
#include "core/domain_name.hpp"
#include "core/endpoint_text.hpp"
#include "core/result.hpp"
#include "core/text.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <doctest/doctest.h>

using namespace mxtls;

namespace {
std::string ok_name(std::string_view in) {
  auto r = normalize_domain(in);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}
std::string bad_reason(std::string_view in) {
  auto r = normalize_domain(in);
  REQUIRE(std::holds_alternative<NameError>(r));
  return std::get<NameError>(r).reason;
}
}  // namespace

TEST_SUITE("core") {

TEST_CASE("domain names are normalised to lower-case A-labels") {
  CHECK(ok_name("Example.JP.") == "example.jp");
  CHECK(ok_name("  mail.example.com\r") == "mail.example.com");
  CHECK(ok_name("例え.jp") == "xn--r8jz45g.jp");
  CHECK(ok_name("ＥＸＡＭＰＬＥ.jp") == "example.jp");  // NFC/width mapping by IDNA
  CHECK(ok_name("xn--r8jz45g.jp") == "xn--r8jz45g.jp");
  CHECK(display_domain("xn--r8jz45g.jp") == "例え.jp");
  CHECK(display_domain("example.jp") == "example.jp");
}

TEST_CASE("bad domain names are rejected with a reason") {
  CHECK(bad_reason("") == "empty domain name");
  CHECK(bad_reason("a..b") == "empty label");
  CHECK(bad_reason("localhost") == "not a fully qualified domain name");
  CHECK(bad_reason("-bad.jp").find("'-'") != std::string::npos);
  CHECK(bad_reason("bad domain.jp").find("not allowed") != std::string::npos);
  CHECK(bad_reason(std::string(64, 'a') + ".jp") == "label longer than 63 characters");
  CHECK(bad_reason("\xff\xfe.jp").find("internationalised") != std::string::npos);
}

TEST_CASE("printable keeps UTF-8 and escapes everything else, within a bound") {
  CHECK(printable("plain") == "plain");
  CHECK(printable("日本語") == "日本語");
  CHECK(printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(printable("\xc0\xaf") == "\\xC0\\xAF");  // overlong encoding of '/'
  CHECK(printable("\xed\xa0\x80") == "\\xED\\xA0\\x80");  // surrogate
  CHECK(printable(std::string(1000, 'x'), 10) == std::string(10, 'x') + "…");
}

TEST_CASE("endpoints are written address:port, IPv6 in brackets") {
  CHECK(mxtls::endpoint_text(asio::ip::make_address("127.0.0.1"), 25) == "127.0.0.1:25");
  CHECK(mxtls::endpoint_text(asio::ip::make_address("::1"), 25) == "[::1]:25");
  CHECK(mxtls::endpoint_text(asio::ip::tcp::endpoint(asio::ip::make_address("2001:db8::25"), 587)) ==
        "[2001:db8::25]:587");
  CHECK(mxtls::endpoint_text(asio::ip::udp::endpoint(asio::ip::make_address("127.53.0.53"), 5353)) ==
        "127.53.0.53:5353");
}

TEST_CASE("status and phase names are the schema's") {
  CHECK(to_string(Status::not_offered) == "not-offered");
  CHECK(to_string(Status::protocol_error) == "protocol-error");
  CHECK(to_string(Phase::ehlo_after_tls) == "ehlo_after_tls");
  CHECK(status_from_string("tls-error") == Status::tls_error);
  CHECK(phase_from_string("handshake") == Phase::handshake);
  CHECK_FALSE(status_from_string("nonsense").has_value());
  CHECK(to_string(CertVerdict::untrusted) == "untrusted");
}

}  // TEST_SUITE
