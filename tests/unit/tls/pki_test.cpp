// Tests for the run-time PKI: certificates it issues are judged by OpenSSL's own verifier
// (chain OK, expired, not yet valid, self-signed, unknown issuer, wrong name) and inspected field
// by field; credentials are loaded into real SSL_CTXs and used in an in-memory handshake.
#include "ossl/digest.hpp"
#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"
#include "tls/certificate.hpp"
#include "tls/pki.hpp"
#include "unit/tls/tls_test_support.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <span>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using mxtls::tls::CertificateAuthority;
using mxtls::tls::CertSpec;
using mxtls::tls::Credentials;
using mxtls::tls::KeyType;
using mxtls::tls::test::shared_ec_ca;
using mxtls::tls::test::shared_rsa_ca;
using mxtls::tls::test::verify_chain;
namespace ossl = mxtls::ossl;

namespace {

CertSpec mx_spec(KeyType key_type = KeyType::ecdsa_p256) {
  CertSpec spec;
  spec.common_name = "mx.example.test";
  spec.dns_names = {"mx.example.test", "mail.example.test"};
  spec.ip_addresses = {"127.0.0.25"};
  spec.key_type = key_type;
  return spec;
}

// Seconds from now to `time` (negative in the past).
long long seconds_from_now(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, nullptr, time) == 1);
  return static_cast<long long>(days) * 86400 + seconds;
}

std::size_t count_pem_certificates(const std::string& pem) {
  std::size_t count = 0;
  for (std::size_t at = pem.find("BEGIN CERTIFICATE"); at != std::string::npos;
       at = pem.find("BEGIN CERTIFICATE", at + 1)) {
    ++count;
  }
  return count;
}

struct HandshakeOutcome {
  bool completed = false;
  long verify_result = -1;
  int peer_chain_length = 0;  // as the client received it, leaf included
  std::string peer_subject;
};

// A TLS handshake between two SSL objects over an in-memory BIO pair: no sockets, no timing.
// The client verifies against `trusted_pem` and checks `host`, but never aborts (like mxtls).
HandshakeOutcome handshake_in_memory(const Credentials& server_credentials,
                                     const std::string& trusted_pem, const std::string& host) {
  ossl::SslCtxPtr server_context{SSL_CTX_new(TLS_server_method())};
  ossl::SslCtxPtr client_context{SSL_CTX_new(TLS_client_method())};
  REQUIRE(server_context);
  REQUIRE(client_context);
  ossl::use_credentials(server_context.get(), server_credentials.cert_pem,
                        server_credentials.key_pem, server_credentials.chain_pem);
  ossl::add_trust_anchors(SSL_CTX_get_cert_store(client_context.get()), trusted_pem);
  SSL_CTX_set_verify(client_context.get(), SSL_VERIFY_NONE, nullptr);

  ossl::SslPtr server{SSL_new(server_context.get())};
  ossl::SslPtr client{SSL_new(client_context.get())};
  REQUIRE(server);
  REQUIRE(client);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1);
  SSL_set_bio(client.get(), client_end, client_end);  // each SSL now owns its end
  SSL_set_bio(server.get(), server_end, server_end);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  REQUIRE(SSL_set_tlsext_host_name(client.get(), host.c_str()) == 1);
  REQUIRE(SSL_set1_host(client.get(), host.c_str()) == 1);

  HandshakeOutcome outcome;
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
    for (auto [ssl, done] : {std::pair{client.get(), &client_done}, std::pair{server.get(), &server_done}}) {
      if (*done) continue;
      const int result = SSL_do_handshake(ssl);
      if (result == 1) {
        *done = true;
        continue;
      }
      const int error = SSL_get_error(ssl, result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        ossl::clear_openssl_errors();
        return outcome;
      }
    }
  }
  outcome.completed = client_done && server_done;
  outcome.verify_result = SSL_get_verify_result(client.get());
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.get())) {
    outcome.peer_chain_length = sk_X509_num(chain);
  }
  if (X509* peer = SSL_get0_peer_certificate(client.get())) {
    outcome.peer_subject = mxtls::tls::describe_certificate(peer, outcome.peer_chain_length).subject;
  }
  return outcome;
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE("pki: a leaf issued by the CA verifies against it (EC and RSA)") {
  SUBCASE("EC CA, EC leaf") {
    const Credentials leaf = shared_ec_ca().issue(mx_spec(KeyType::ecdsa_p256));
    CHECK(leaf.chain_pem.empty());  // the root is never sent
    CHECK(verify_chain(leaf.cert_pem, leaf.chain_pem, shared_ec_ca().cert_pem()) == X509_V_OK);
    CHECK(verify_chain(leaf.cert_pem, leaf.chain_pem, shared_ec_ca().cert_pem(), "mx.example.test") ==
          X509_V_OK);
  }
  SUBCASE("RSA CA, RSA leaf") {
    const Credentials leaf = shared_rsa_ca().issue(mx_spec(KeyType::rsa2048));
    CHECK(verify_chain(leaf.cert_pem, "", shared_rsa_ca().cert_pem(), "mail.example.test") ==
          X509_V_OK);
  }
  SUBCASE("RSA CA, EC leaf") {
    const Credentials leaf = shared_rsa_ca().issue(mx_spec(KeyType::ecdsa_p256));
    CHECK(verify_chain(leaf.cert_pem, "", shared_rsa_ca().cert_pem()) == X509_V_OK);
  }
}

TEST_CASE("pki: validity windows relative to now give expired and not-yet-valid certificates") {
  CertSpec expired = mx_spec();
  expired.not_before = -48h;
  expired.not_after = -24h;
  const Credentials old_leaf = shared_ec_ca().issue(expired);
  CHECK(verify_chain(old_leaf.cert_pem, "", shared_ec_ca().cert_pem()) ==
        X509_V_ERR_CERT_HAS_EXPIRED);

  CertSpec future = mx_spec();
  future.not_before = 24h;
  future.not_after = 48h;
  const Credentials future_leaf = shared_ec_ca().issue(future);
  CHECK(verify_chain(future_leaf.cert_pem, "", shared_ec_ca().cert_pem()) ==
        X509_V_ERR_CERT_NOT_YET_VALID);

  const ossl::X509Ptr parsed = ossl::read_certificate_pem(old_leaf.cert_pem);
  // Generous bounds: the test may run slowly, but not by minutes.
  CHECK(seconds_from_now(X509_get0_notBefore(parsed.get())) == doctest::Approx(-48 * 3600).epsilon(0.002));
  CHECK(seconds_from_now(X509_get0_notAfter(parsed.get())) == doctest::Approx(-24 * 3600).epsilon(0.004));
}

TEST_CASE("pki: default validity is an hour ago to a year ahead; the CA lasts ten years") {
  const Credentials leaf = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr parsed = ossl::read_certificate_pem(leaf.cert_pem);
  CHECK(std::llabs(seconds_from_now(X509_get0_notBefore(parsed.get())) + 3600) < 300);
  CHECK(std::llabs(seconds_from_now(X509_get0_notAfter(parsed.get())) - 365LL * 86400) < 300);
  const ossl::X509Ptr root = ossl::read_certificate_pem(shared_ec_ca().cert_pem());
  CHECK(std::llabs(seconds_from_now(X509_get0_notAfter(root.get())) - 3650LL * 86400) < 300);
}

TEST_CASE("pki: a self-signed leaf fails verification") {
  const Credentials leaf = mxtls::tls::self_signed(mx_spec());
  CHECK(leaf.chain_pem.empty());
  CHECK(verify_chain(leaf.cert_pem, "", "") == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  // Even with some other CA trusted.
  CHECK(verify_chain(leaf.cert_pem, "", shared_ec_ca().cert_pem()) ==
        X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  const ossl::X509Ptr parsed = ossl::read_certificate_pem(leaf.cert_pem);
  CHECK((X509_get_extension_flags(parsed.get()) & EXFLAG_SS) != 0);
  CHECK(X509_check_ca(parsed.get()) == 0);
}

TEST_CASE("pki: a leaf from another CA fails with an unknown issuer") {
  const CertificateAuthority other = CertificateAuthority::create("mxtls other root");
  const Credentials leaf = other.issue(mx_spec());
  CHECK(verify_chain(leaf.cert_pem, "", shared_ec_ca().cert_pem()) ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  CHECK(verify_chain(leaf.cert_pem, "", other.cert_pem()) == X509_V_OK);
}

TEST_CASE("pki: a wrong-name certificate has a good chain but does not name the host") {
  CertSpec spec;
  spec.common_name = "www.example.test";
  spec.dns_names = {"www.example.test"};
  const Credentials leaf = shared_ec_ca().issue(spec);
  CHECK(verify_chain(leaf.cert_pem, "", shared_ec_ca().cert_pem()) == X509_V_OK);
  CHECK(verify_chain(leaf.cert_pem, "", shared_ec_ca().cert_pem(), "mx.example.test") ==
        X509_V_ERR_HOSTNAME_MISMATCH);
  const ossl::X509Ptr parsed = ossl::read_certificate_pem(leaf.cert_pem);
  CHECK_FALSE(mxtls::tls::certificate_matches_host(parsed.get(), "mx.example.test"));
  CHECK(mxtls::tls::certificate_matches_host(parsed.get(), "www.example.test"));
}

TEST_CASE("pki: intermediates are sent in chain_pem, the root never") {
  const CertificateAuthority intermediate = shared_ec_ca().issue_intermediate("mxtls test issuing CA 1");
  const CertificateAuthority second = intermediate.issue_intermediate("mxtls test issuing CA 2", KeyType::rsa2048);

  const Credentials one_level = intermediate.issue(mx_spec());
  CHECK(one_level.chain_pem == intermediate.cert_pem());
  CHECK(verify_chain(one_level.cert_pem, one_level.chain_pem, shared_ec_ca().cert_pem()) == X509_V_OK);
  CHECK(verify_chain(one_level.cert_pem, "", shared_ec_ca().cert_pem()) ==
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

  const Credentials two_levels = second.issue(mx_spec(KeyType::rsa2048));
  CHECK(two_levels.chain_pem == second.cert_pem() + intermediate.cert_pem());
  CHECK(count_pem_certificates(two_levels.chain_pem) == 2);
  CHECK(verify_chain(two_levels.cert_pem, two_levels.chain_pem, shared_ec_ca().cert_pem(),
                     "mx.example.test") == X509_V_OK);

  const ossl::X509Ptr middle = ossl::read_certificate_pem(intermediate.cert_pem());
  CHECK(X509_check_ca(middle.get()) == 1);
}

TEST_CASE("pki: X.509 v3 structure of CA and leaf certificates") {
  const ossl::X509Ptr root = ossl::read_certificate_pem(shared_ec_ca().cert_pem());
  const Credentials issued = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(issued.cert_pem);

  CHECK(X509_get_version(root.get()) == X509_VERSION_3);
  CHECK(X509_get_version(leaf.get()) == X509_VERSION_3);

  // Basic constraints: critical CA:TRUE on the root, CA:FALSE on the leaf.
  CHECK(X509_check_ca(root.get()) == 1);
  CHECK(X509_check_ca(leaf.get()) == 0);
  const int root_bc = X509_get_ext_by_NID(root.get(), NID_basic_constraints, -1);
  REQUIRE(root_bc >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(root.get(), root_bc)) == 1);
  CHECK((X509_get_extension_flags(leaf.get()) & EXFLAG_BCONS) != 0);

  CHECK(X509_get_key_usage(root.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get_extended_key_usage(leaf.get()) == XKU_SSL_SERVER);

  // Key identifiers link leaf to issuer.
  const ASN1_OCTET_STRING* root_ski = X509_get0_subject_key_id(root.get());
  const ASN1_OCTET_STRING* leaf_akid = X509_get0_authority_key_id(leaf.get());
  REQUIRE(root_ski != nullptr);
  REQUIRE(leaf_akid != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(root_ski, leaf_akid) == 0);
  CHECK(X509_get0_subject_key_id(leaf.get()) != nullptr);

  CHECK(X509_get_signature_nid(leaf.get()) == NID_ecdsa_with_SHA256);
  CHECK(X509_get_signature_nid(root.get()) == NID_ecdsa_with_SHA256);

  // Random 128-bit serials: 16 bytes with the top bit set, different every time.
  const Credentials again = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr leaf2 = ossl::read_certificate_pem(again.cert_pem);
  const ossl::BignumPtr serial1{ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr)};
  const ossl::BignumPtr serial2{ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf2.get()), nullptr)};
  CHECK(BN_num_bits(serial1.get()) == 128);
  CHECK(BN_num_bits(serial2.get()) == 128);
  CHECK(BN_cmp(serial1.get(), serial2.get()) != 0);

  CHECK(issued.key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);  // PKCS#8
}

TEST_CASE("pki: RSA leaves carry keyEncipherment and sign with sha256WithRSAEncryption") {
  const Credentials issued = shared_rsa_ca().issue(mx_spec(KeyType::rsa2048));
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(issued.cert_pem);
  CHECK(X509_get_key_usage(leaf.get()) == (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  CHECK(X509_get_signature_nid(leaf.get()) == NID_sha256WithRSAEncryption);
  CHECK(EVP_PKEY_get_bits(X509_get0_pubkey(leaf.get())) == 2048);
  const ossl::EvpPkeyPtr key = ossl::read_private_key_pem(issued.key_pem);
  CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
}

TEST_CASE("pki: subjectAltName entries and an empty subject") {
  CertSpec spec;
  spec.dns_names = {"mx.example.test"};
  spec.ip_addresses = {"127.0.0.25", "::1"};
  const Credentials issued = shared_ec_ca().issue(spec);
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(issued.cert_pem);
  CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf.get())) == 0);
  const int san = X509_get_ext_by_NID(leaf.get(), NID_subject_alt_name, -1);
  REQUIRE(san >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(leaf.get(), san)) == 1);  // RFC 5280 §4.2.1.6
  CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.25", 0) == 1);
  CHECK(X509_check_ip_asc(leaf.get(), "::1", 0) == 1);
  CHECK(X509_check_host(leaf.get(), "mx.example.test", 0, 0, nullptr) == 1);
  CHECK(verify_chain(issued.cert_pem, "", shared_ec_ca().cert_pem(), "mx.example.test") == X509_V_OK);

  // With a CN the SAN extension is not critical.
  const Credentials named = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr named_leaf = ossl::read_certificate_pem(named.cert_pem);
  const int named_san = X509_get_ext_by_NID(named_leaf.get(), NID_subject_alt_name, -1);
  REQUIRE(named_san >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(named_leaf.get(), named_san)) == 0);

  // No names at all: no SAN extension.
  CertSpec cn_only;
  cn_only.common_name = "legacy.example.test";
  const ossl::X509Ptr legacy = ossl::read_certificate_pem(shared_ec_ca().issue(cn_only).cert_pem);
  CHECK(X509_get_ext_by_NID(legacy.get(), NID_subject_alt_name, -1) < 0);
}

TEST_CASE("pki: invalid specs are refused with an exception") {
  CertSpec bad_ip = mx_spec();
  bad_ip.ip_addresses = {"mx.example.test"};
  CHECK_THROWS_AS(shared_ec_ca().issue(bad_ip), std::invalid_argument);

  CertSpec long_cn = mx_spec();
  long_cn.common_name = std::string(65, 'a');  // ub-common-name is 64
  CHECK_THROWS_AS(shared_ec_ca().issue(long_cn), ossl::OpensslError);
  CHECK(ERR_peek_error() == 0);  // the exception took the queue with it
}

TEST_CASE("pki: fingerprint helpers agree with OpenSSL's own digest") {
  const Credentials issued = shared_ec_ca().issue(mx_spec());
  const ossl::X509Ptr leaf = ossl::read_certificate_pem(issued.cert_pem);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(X509_digest(leaf.get(), EVP_sha256(), digest, &length) == 1);
  CHECK(mxtls::tls::certificate_sha256(issued.cert_pem) ==
        ossl::to_hex(std::span<const unsigned char>(digest, length)));

  // SPKI: DER of the public key as i2d_PUBKEY writes it, an independent route to the same bytes.
  unsigned char* spki = nullptr;
  const int spki_length = i2d_PUBKEY(X509_get0_pubkey(leaf.get()), &spki);
  REQUIRE(spki_length > 0);
  const ossl::OpensslBytesPtr owned{spki};
  CHECK(mxtls::tls::spki_sha256(issued.cert_pem) ==
        ossl::sha256_hex(std::span<const unsigned char>(spki, static_cast<std::size_t>(spki_length))));
  CHECK(mxtls::tls::spki_sha256(issued.cert_pem).size() == 64);
}

TEST_CASE("pki: credentials serve a real TLS handshake (in memory)") {
  SUBCASE("EC leaf directly under the root") {
    const HandshakeOutcome outcome =
        handshake_in_memory(shared_ec_ca().issue(mx_spec()), shared_ec_ca().cert_pem(), "mx.example.test");
    CHECK(outcome.completed);
    CHECK(outcome.verify_result == X509_V_OK);
    CHECK(outcome.peer_chain_length == 1);
    CHECK(outcome.peer_subject == "CN=mx.example.test");
  }
  SUBCASE("RSA leaf behind an intermediate") {
    const CertificateAuthority intermediate = shared_rsa_ca().issue_intermediate("mxtls test issuing CA");
    const HandshakeOutcome outcome = handshake_in_memory(
        intermediate.issue(mx_spec(KeyType::rsa2048)), shared_rsa_ca().cert_pem(), "mail.example.test");
    CHECK(outcome.completed);
    CHECK(outcome.verify_result == X509_V_OK);
    CHECK(outcome.peer_chain_length == 2);
  }
  SUBCASE("expired and wrong-name certificates still complete the handshake, with the reason") {
    CertSpec expired = mx_spec();
    expired.not_before = -48h;
    expired.not_after = -24h;
    const HandshakeOutcome old = handshake_in_memory(shared_ec_ca().issue(expired), shared_ec_ca().cert_pem(), "mx.example.test");
    CHECK(old.completed);
    CHECK(old.verify_result == X509_V_ERR_CERT_HAS_EXPIRED);
    const HandshakeOutcome wrong = handshake_in_memory(shared_ec_ca().issue(mx_spec()), shared_ec_ca().cert_pem(), "smtp.example.test");
    CHECK(wrong.completed);
    CHECK(wrong.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
  }
}

TEST_CASE("pki: use_credentials refuses a key that does not belong to the certificate") {
  const Credentials first = shared_ec_ca().issue(mx_spec());
  const Credentials second = shared_ec_ca().issue(mx_spec());
  ossl::SslCtxPtr context{SSL_CTX_new(TLS_server_method())};
  REQUIRE(context);
  CHECK_THROWS_AS(ossl::use_credentials(context.get(), first.cert_pem, second.key_pem, ""),
                  ossl::OpensslError);
  CHECK(ERR_peek_error() == 0);
}

}  // TEST_SUITE("tls")
