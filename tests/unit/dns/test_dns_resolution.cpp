// Unit tests for dns/resolution: the packed form the resolver's cache keeps answers in gives
// back exactly what went in, and a damaged one is refused with an exception, never misread.
#include "dns/resolution.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

namespace {

using namespace mxtls::dns;

void check_same(const Resolution& a, const Resolution& b) {
  CHECK(a.answer.outcome == b.answer.outcome);
  CHECK(a.answer.authenticated == b.answer.authenticated);
  CHECK(a.answer.detail == b.answer.detail);
  CHECK(a.answer.cnames == b.answer.cnames);
  CHECK(a.answer.canonical_name == b.answer.canonical_name);
  REQUIRE(a.mx.size() == b.mx.size());
  for (std::size_t i = 0; i < a.mx.size(); ++i) {
    CHECK(a.mx[i].preference == b.mx[i].preference);
    CHECK(a.mx[i].host == b.mx[i].host);
  }
  CHECK(a.addresses == b.addresses);
  CHECK(a.texts == b.texts);
  REQUIRE(a.tlsa.size() == b.tlsa.size());
  for (std::size_t i = 0; i < a.tlsa.size(); ++i) {
    CHECK(a.tlsa[i].usage == b.tlsa[i].usage);
    CHECK(a.tlsa[i].selector == b.tlsa[i].selector);
    CHECK(a.tlsa[i].matching_type == b.tlsa[i].matching_type);
    CHECK(a.tlsa[i].data == b.tlsa[i].data);
  }
}

Resolution everything() {
  Resolution r;
  r.answer.outcome = Outcome::ok;
  r.answer.authenticated = true;
  r.answer.detail = "";
  r.answer.cnames = {"alias.example.test", "alias2.example.test"};
  r.answer.canonical_name = "mx.example.test";
  r.mx = {{0, ""}, {10, "mx1.example.test"}, {65535, "mx2.example.test"}, {256, "xn--r8jz45g.test"}};
  r.addresses = {asio::ip::make_address("127.0.0.1"), asio::ip::make_address("::1"),
                 asio::ip::make_address("2001:db8::25"), asio::ip::make_address("255.255.255.255")};
  r.texts = {"v=STSv1; id=20261123", std::string("nul\0inside", 10), std::string(300, 'x'), std::string(70000, 'y'), ""};
  TlsaRecord t;
  t.usage = 3;
  t.selector = 1;
  t.matching_type = 1;
  t.data = std::vector<std::uint8_t>(32, 0xAB);
  r.tlsa = {t, TlsaRecord{2, 0, 0, {}}};
  return r;
}

TEST_CASE("a packed answer unpacks to the same answer, every field and length") {
  check_same(unpack(pack(Resolution{})), Resolution{});
  const Resolution full = everything();
  check_same(unpack(pack(full)), full);

  for (const Outcome outcome : {Outcome::ok, Outcome::nodata, Outcome::nxdomain, Outcome::servfail, Outcome::refused,
                                Outcome::timeout, Outcome::error}) {
    Resolution r;
    r.answer.outcome = outcome;
    r.answer.detail = "SERVFAIL from 127.0.0.53:53";
    check_same(unpack(pack(r)), r);
  }
}

TEST_CASE("a typical address answer packs into a few dozen bytes") {
  Resolution r;
  r.answer.outcome = Outcome::ok;
  r.answer.canonical_name = "mx1.example.test";
  r.addresses = {asio::ip::make_address("127.0.0.25")};
  // outcome, AD, detail, cnames, name (1 + 16), mx, addresses (1 + family + 1 + 4), texts, tlsa
  CHECK(pack(r).size() == 31);
}

TEST_CASE("a damaged packed answer is refused, never read past its end") {
  const std::string good = pack(everything());
  // Every cut: something is missing, so unpack must throw (and ASan watches the reads).
  for (std::size_t size = 0; size < good.size(); size += (size < 400 ? 1 : 997))
    CHECK_THROWS_AS(unpack(std::string_view(good).substr(0, size)), std::invalid_argument);
  CHECK_THROWS_AS(unpack(good + "x"), std::invalid_argument);

  std::string bad_outcome = pack(Resolution{});
  bad_outcome[0] = 7;
  CHECK_THROWS_AS(unpack(bad_outcome), std::invalid_argument);

  // A count far beyond the bytes present, and one that never ends.
  std::string huge = pack(Resolution{});
  huge[2] = '\xFF';
  huge.insert(3, "\xFF\xFF\xFF\x0F");
  CHECK_THROWS_AS(unpack(huge), std::invalid_argument);
  CHECK_THROWS_AS(unpack(std::string(2, '\0') + std::string(12, '\x80')), std::invalid_argument);

  Resolution odd_address;
  odd_address.addresses = {asio::ip::make_address("127.0.0.1")};
  std::string wrong_family = pack(odd_address);
  const std::size_t family_at = wrong_family.size() - 8;  // family, length, 4 bytes, texts, tlsa
  REQUIRE(wrong_family[family_at] == 4);
  wrong_family[family_at] = 6;
  CHECK_THROWS_AS(unpack(wrong_family), std::invalid_argument);
}

}  // namespace
