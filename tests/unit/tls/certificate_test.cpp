// Tests for describe_certificate (every CertFacts field, exact) and certificate_matches_host
// (SAN before CN, wildcards), including hostile certificate text: controls, NULs, huge SAN lists.
#include "ossl/digest.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"
#include "tls/certificate.hpp"
#include "tls/pki.hpp"
#include "unit/tls/tls_test_support.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <span>
#include <string>
#include <vector>

using mxtls::CertFacts;
using mxtls::tls::CertSpec;
using mxtls::tls::certificate_matches_host;
using mxtls::tls::describe_certificate;
using mxtls::tls::KeyType;
using mxtls::tls::test::edited_certificate;
using mxtls::tls::test::shared_ec_ca;
using mxtls::tls::test::shared_rsa_ca;
namespace ossl = mxtls::ossl;

namespace {

CertSpec mx_spec(KeyType key_type = KeyType::ecdsa_p256) {
  CertSpec spec;
  spec.common_name = "mx.example.test";
  spec.dns_names = {"mx.example.test", "mail.example.test"};
  spec.ip_addresses = {"127.0.0.25", "::1"};
  spec.key_type = key_type;
  return spec;
}

void set_validity(X509* certificate, const char* not_before, const char* not_after) {
  REQUIRE(ASN1_TIME_set_string_X509(X509_getm_notBefore(certificate), not_before) == 1);
  REQUIRE(ASN1_TIME_set_string_X509(X509_getm_notAfter(certificate), not_after) == 1);
}

std::string openssl_sha256(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(X509_digest(certificate, EVP_sha256(), digest, &length) == 1);
  return ossl::to_hex(std::span<const unsigned char>(digest, length));
}

std::string openssl_spki_sha256(X509* certificate) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(X509_get0_pubkey(certificate), &der);
  REQUIRE(length > 0);
  const ossl::OpensslBytesPtr owned{der};
  return ossl::sha256_hex(std::span<const unsigned char>(der, static_cast<std::size_t>(length)));
}

// Replaces the subject with the given (field, UTF-8 bytes) entries, in order.
void set_subject(X509* certificate, std::initializer_list<std::pair<int, std::string>> entries) {
  ossl::X509NamePtr name{X509_NAME_new()};
  for (const auto& [nid, value] : entries) {
    REQUIRE(X509_NAME_add_entry_by_NID(name.get(), nid, V_ASN1_UTF8STRING,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) == 1);
  }
  REQUIRE(X509_set_subject_name(certificate, name.get()) == 1);
}

void replace_sans(X509* certificate, GENERAL_NAMES* names) {
  const int index = X509_get_ext_by_NID(certificate, NID_subject_alt_name, -1);
  if (index >= 0) X509_EXTENSION_free(X509_delete_ext(certificate, index));
  REQUIRE(X509_add1_ext_i2d(certificate, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1);
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE("describe: every field of an EC leaf, exact") {
  const ossl::X509Ptr leaf = edited_certificate(
      shared_ec_ca().issue(mx_spec()).cert_pem, shared_ec_ca(), [](X509* certificate) {
        // UTCTime before 2050, GeneralizedTime from 2050 on: both forms must convert.
        set_validity(certificate, "20261122130837Z", "20510101000000Z");
      });
  const CertFacts facts = describe_certificate(leaf.get(), 3);
  CHECK(facts.subject == "CN=mx.example.test");
  CHECK(facts.issuer == "CN=mxtls test root EC");
  CHECK(facts.sans == std::vector<std::string>{"mx.example.test", "mail.example.test", "127.0.0.25", "::1"});
  CHECK(facts.not_before == "2026-11-22T13:08:37Z");
  CHECK(facts.not_after == "2051-01-01T00:00:00Z");
  CHECK(facts.key_type == "EC");
  CHECK(facts.key_bits == 256);
  CHECK(facts.signature_algorithm == "ecdsa-with-SHA256");
  CHECK(facts.chain_length == 3);
  CHECK(facts.sha256 == openssl_sha256(leaf.get()));
  CHECK(facts.spki_sha256 == openssl_spki_sha256(leaf.get()));
  CHECK(facts.sha256.size() == 64);
  CHECK(facts.sha256 != facts.spki_sha256);
}

TEST_CASE("describe: an RSA leaf from an RSA CA") {
  const ossl::X509Ptr leaf = edited_certificate(
      shared_rsa_ca().issue(mx_spec(KeyType::rsa2048)).cert_pem, shared_rsa_ca(),
      [](X509* certificate) { set_validity(certificate, "20250101000000Z", "20260401235959Z"); });
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  CHECK(facts.issuer == "CN=mxtls test root RSA");
  CHECK(facts.key_type == "RSA");
  CHECK(facts.key_bits == 2048);
  CHECK(facts.signature_algorithm == "sha256WithRSAEncryption");
  CHECK(facts.not_before == "2025-01-01T00:00:00Z");
  CHECK(facts.not_after == "2026-04-01T23:59:59Z");
  CHECK(facts.sha256 == openssl_sha256(leaf.get()));
  CHECK(facts.spki_sha256 == openssl_spki_sha256(leaf.get()));
}

TEST_CASE("describe: the PKI's own fingerprints agree with describe_certificate") {
  const auto issued = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(issued.cert_pem);
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  CHECK(facts.sha256 == mxtls::tls::certificate_sha256(issued.cert_pem));
  CHECK(facts.spki_sha256 == mxtls::tls::spki_sha256(issued.cert_pem));
}

TEST_CASE("describe: RFC 2253 names list the most specific RDN first and escape specials") {
  const ossl::X509Ptr leaf = edited_certificate(
      shared_ec_ca().issue(mx_spec()).cert_pem, shared_ec_ca(), [](X509* certificate) {
        set_subject(certificate, {{NID_countryName, "JP"},
                                  {NID_organizationName, "Example, Inc."},
                                  {NID_commonName, "mx.example.test"}});
      });
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  CHECK(facts.subject == "CN=mx.example.test,O=Example\\, Inc.,C=JP");
}

TEST_CASE("describe: control characters and non-ASCII from the certificate are escaped") {
  const ossl::X509Ptr leaf = edited_certificate(
      shared_ec_ca().issue(mx_spec()).cert_pem, shared_ec_ca(), [](X509* certificate) {
        set_subject(certificate, {{NID_commonName, "evil\x1b[31m\r\nX: \xe4\xbe\x8b"}});
      });
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  // X509_NAME_print_ex (RFC 2253 flags) escapes controls and UTF-8 bytes as \XX.
  CHECK(facts.subject == "CN=evil\\1B[31m\\0D\\0AX: \\E4\\BE\\8B");

  CertSpec spec;
  spec.common_name = "mx.example.test";
  spec.dns_names = {std::string("mx.example.test\0.evil.test", 26), "bell\x07name",
                    "del\x7f" "and\xff" "high"};
  const ossl::X509Ptr hostile = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
  const CertFacts hostile_facts = describe_certificate(hostile.get(), 1);
  CHECK(hostile_facts.sans == std::vector<std::string>{"mx.example.test\\x00.evil.test",
                                                       "bell\\x07name", "del\\x7fand\\xffhigh"});
}

TEST_CASE("describe: names are bounded to 1024 characters") {
  CertSpec spec;
  spec.common_name = "mx.example.test";
  spec.dns_names = {std::string(3000, 'a'), std::string(1024, 'b'), std::string(1000, '\x01')};
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  REQUIRE(facts.sans.size() == 3);
  CHECK(facts.sans[0] == std::string(1021, 'a') + "...");
  CHECK(facts.sans[1] == std::string(1024, 'b'));  // exactly at the limit: kept whole
  // Escapes are never cut in half: 255 whole "\x01" (1020 chars) then the marker.
  std::string escaped;
  for (int i = 0; i < 255; ++i) escaped += "\\x01";
  CHECK(facts.sans[2] == escaped + "...");
}

TEST_CASE("describe: at most 100 SANs are recorded, DNS names first, and the rest is counted") {
  CertSpec spec;
  spec.common_name = "mx.example.test";
  for (int i = 0; i < 150; ++i) spec.dns_names.push_back("mx" + std::to_string(i) + ".example.test");
  spec.ip_addresses = {"127.0.0.1"};
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
  const CertFacts facts = describe_certificate(leaf.get(), 1);
  REQUIRE(facts.sans.size() == 101);
  CHECK(facts.sans.front() == "mx0.example.test");
  CHECK(facts.sans[99] == "mx99.example.test");
  CHECK(facts.sans[100] == "(51 more subjectAltName entries not recorded)");

  CertSpec few;
  few.common_name = "mx.example.test";
  few.ip_addresses = {"127.0.0.2", "127.0.0.3"};
  few.dns_names = {"b.example.test", "a.example.test"};  // order as presented, DNS before IP
  const ossl::X509Ptr small = ossl::read_certificate_pem(shared_ec_ca().issue(few).cert_pem);
  CHECK(describe_certificate(small.get(), 1).sans ==
        std::vector<std::string>{"b.example.test", "a.example.test", "127.0.0.2", "127.0.0.3"});
}

TEST_CASE("describe: malformed IP SANs, a missing certificate, and a clean error queue") {
  const ossl::X509Ptr leaf = edited_certificate(
      shared_ec_ca().issue(mx_spec()).cert_pem, shared_ec_ca(), [](X509* certificate) {
        ossl::GeneralNamesPtr names{GENERAL_NAMES_new()};
        GENERAL_NAME* entry = GENERAL_NAME_new();
        ASN1_OCTET_STRING* five_bytes = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(five_bytes, reinterpret_cast<const unsigned char*>("\x7f\0\0\x01\x02"), 5);
        GENERAL_NAME_set0_value(entry, GEN_IPADD, five_bytes);
        sk_GENERAL_NAME_push(names.get(), entry);
        replace_sans(certificate, names.get());
      });
  CHECK(describe_certificate(leaf.get(), 1).sans ==
        std::vector<std::string>{"(invalid IP address of 5 bytes)"});

  const CertFacts nothing = describe_certificate(nullptr, 0);
  CHECK(nothing.subject.empty());
  CHECK(nothing.sans.empty());
  CHECK(nothing.key_bits == 0);
  CHECK(nothing.sha256.empty());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("host match: DNS SANs decide; the CN counts only without any DNS SAN") {
  CertSpec spec;
  spec.common_name = "cn.example.test";
  spec.dns_names = {"mx.example.test", "*.relay.example.test"};
  const ossl::X509Ptr with_sans = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
  CHECK(certificate_matches_host(with_sans.get(), "mx.example.test"));
  CHECK(certificate_matches_host(with_sans.get(), "MX.EXAMPLE.TEST."));
  CHECK(certificate_matches_host(with_sans.get(), "out1.relay.example.test"));
  CHECK_FALSE(certificate_matches_host(with_sans.get(), "relay.example.test"));
  CHECK_FALSE(certificate_matches_host(with_sans.get(), "cn.example.test"));  // CN ignored

  CertSpec cn_only;
  cn_only.common_name = "legacy.example.test";
  const ossl::X509Ptr legacy = ossl::read_certificate_pem(shared_ec_ca().issue(cn_only).cert_pem);
  CHECK(certificate_matches_host(legacy.get(), "legacy.example.test"));
  CHECK_FALSE(certificate_matches_host(legacy.get(), "mx.example.test"));

  CertSpec cn_and_ip;
  cn_and_ip.common_name = "*.example.test";
  cn_and_ip.ip_addresses = {"127.0.0.25"};
  const ossl::X509Ptr ip_only = ossl::read_certificate_pem(shared_ec_ca().issue(cn_and_ip).cert_pem);
  CHECK(certificate_matches_host(ip_only.get(), "mx.example.test"));  // no DNS SAN: CN used
  CHECK_FALSE(certificate_matches_host(ip_only.get(), "127.0.0.25"));

  CHECK_FALSE(certificate_matches_host(nullptr, "mx.example.test"));
}

TEST_CASE("host match: every CN is tried; an embedded NUL never matches") {
  const ossl::X509Ptr two_cns = edited_certificate(
      shared_ec_ca().issue(CertSpec{.common_name = "a.example.test"}).cert_pem, shared_ec_ca(),
      [](X509* certificate) {
        set_subject(certificate, {{NID_commonName, "a.example.test"}, {NID_commonName, "b.example.test"}});
      });
  CHECK(certificate_matches_host(two_cns.get(), "a.example.test"));
  CHECK(certificate_matches_host(two_cns.get(), "b.example.test"));

  CertSpec spec;
  spec.common_name = "mx.example.test";
  spec.dns_names = {std::string("mx.example.test\0.evil.test", 26)};
  const ossl::X509Ptr nul = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
  CHECK_FALSE(certificate_matches_host(nul.get(), "mx.example.test"));
  CHECK_FALSE(certificate_matches_host(nul.get(), "evil.test"));

  const ossl::X509Ptr nul_cn = edited_certificate(
      shared_ec_ca().issue(CertSpec{.common_name = "x.example.test"}).cert_pem, shared_ec_ca(),
      [](X509* certificate) {
        set_subject(certificate, {{NID_commonName, std::string("mx.example.test\0.evil.test", 26)}});
      });
  CHECK_FALSE(certificate_matches_host(nul_cn.get(), "mx.example.test"));
}

TEST_CASE("host match: agrees with OpenSSL's X509_check_host on ordinary certificates") {
  const std::vector<CertSpec> specs = {
      CertSpec{.common_name = "mx.example.test", .dns_names = {"mx.example.test", "*.example.test"}},
      CertSpec{.common_name = "*.mail.example.test"},
      CertSpec{.common_name = "cn.example.test", .dns_names = {"*.test", "*.xn--r8jz45g.test"}},
      CertSpec{.common_name = "other.example.test", .ip_addresses = {"127.0.0.9"}},
  };
  const std::vector<std::string> hosts = {
      "mx.example.test", "MX.Example.Test", "example.test", "a.mx.example.test", "x.example.test",
      "mail.example.test", "in.mail.example.test", "cn.example.test", "other.example.test",
      "xn--r8jz45g.test", "mx.xn--r8jz45g.test", "any.test", "mx.example.testing"};
  for (const CertSpec& spec : specs) {
    const ossl::X509Ptr leaf = ossl::read_certificate_pem(shared_ec_ca().issue(spec).cert_pem);
    for (const std::string& host : hosts) {
      CAPTURE(spec.common_name);
      CAPTURE(host);
      const bool openssl_says = X509_check_host(leaf.get(), host.data(), host.size(),
                                                X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
      CHECK(certificate_matches_host(leaf.get(), host) == openssl_says);
    }
  }
}

}  // TEST_SUITE("tls")
