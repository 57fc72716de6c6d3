// Tests for the src/ossl helpers: error-queue draining and marks, SHA-256/hex, PEM and DER
// round trips, bundles, refusing encrypted keys instead of prompting for a pass phrase, and the
// record buffer pool.
#include "ossl/digest.hpp"
#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"
#include "ossl/record_buffers.hpp"
#include "tls/pki.hpp"
#include "unit/tls/tls_test_support.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509err.h>

#include <array>
#include <cstring>
#include <vector>
#include <string>

namespace ossl = mxtls::ossl;
using mxtls::tls::test::shared_ec_ca;

TEST_SUITE("tls") {

TEST_CASE("ossl: take_openssl_errors drains the queue into one readable line") {
  ERR_clear_error();
  CHECK(ossl::take_openssl_errors().empty());

  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  ERR_raise_data(ERR_LIB_PEM, PEM_R_NO_START_LINE, "input\x01was\x1b[0mbad");
  const std::string message = ossl::take_openssl_errors();
  CHECK(message ==
        "x509 certificate routines: cert already in hash table; "
        "PEM routines: no start line (input?was?[0mbad)");
  CHECK(ERR_peek_error() == 0);
  CHECK(ossl::take_openssl_errors().empty());
}

TEST_CASE("ossl: OpensslError carries context and the drained queue") {
  ERR_clear_error();
  try {
    (void)ossl::read_certificate_pem("not a certificate");
    FAIL("expected OpensslError");
  } catch (const ossl::OpensslError& error) {
    const std::string what = error.what();
    CHECK(what.rfind("cannot read PEM certificate: ", 0) == 0);
    CHECK(what.find("no start line") != std::string::npos);
  }
  CHECK(ERR_peek_error() == 0);

  const ossl::OpensslError without_detail("nothing queued");
  CHECK(std::string(without_detail.what()) == "nothing queued: no OpenSSL error detail");
  const std::runtime_error& as_base = without_detail;  // catchable as a standard exception
  CHECK(std::string(as_base.what()).size() > 0);
}

TEST_CASE("ossl: ScopedErrorMark drops only the errors pushed while it lived") {
  ERR_clear_error();
  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  {
    const ossl::ScopedErrorMark mark;
    ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
    ERR_raise(ERR_LIB_PEM, PEM_R_BAD_BASE64_DECODE);
  }
  CHECK(ossl::take_openssl_errors() == "x509 certificate routines: cert already in hash table");
}

TEST_CASE("ossl: SHA-256 known answers and hex") {
  CHECK(ossl::sha256_hex(std::string_view{}) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(ossl::sha256_hex(std::string_view{"abc"}) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::array<unsigned char, 3> bytes = {'a', 'b', 'c'};
  CHECK(ossl::sha256_hex(std::span<const unsigned char>(bytes)) == ossl::sha256_hex(std::string_view{"abc"}));
  const std::array<unsigned char, 4> raw = {0x00, 0xff, 0x10, 0x0a};
  CHECK(ossl::to_hex(raw) == "00ff100a");
  CHECK(ossl::to_hex(std::span<const unsigned char>{}).empty());
}

TEST_CASE("ossl: PEM round trips and DER encodings") {
  const auto issued = shared_ec_ca().issue(mxtls::tls::CertSpec{.common_name = "mx.example.test"});
  const ossl::X509Ptr certificate = ossl::read_certificate_pem(issued.cert_pem);
  CHECK(ossl::write_certificate_pem(certificate.get()) == issued.cert_pem);
  const ossl::EvpPkeyPtr key = ossl::read_private_key_pem(issued.key_pem);
  CHECK(ossl::write_private_key_pem(key.get()) == issued.key_pem);
  CHECK(X509_check_private_key(certificate.get(), key.get()) == 1);

  const std::vector<unsigned char> der = ossl::certificate_der(certificate.get());
  const unsigned char* cursor = der.data();
  const ossl::X509Ptr from_der{d2i_X509(nullptr, &cursor, static_cast<long>(der.size()))};
  REQUIRE(from_der);
  CHECK(X509_cmp(from_der.get(), certificate.get()) == 0);
  const std::vector<unsigned char> spki = ossl::spki_der(certificate.get());
  CHECK(spki.size() == 91);  // P-256 SubjectPublicKeyInfo, named curve, uncompressed point

  const ossl::X509Ptr shared = ossl::share(certificate.get());
  CHECK(shared.get() == certificate.get());  // a second reference, freed independently
  CHECK_FALSE(ossl::share(static_cast<X509*>(nullptr)));
}

TEST_CASE("ossl: certificate bundles") {
  const std::string first = shared_ec_ca().cert_pem();
  const std::string second =
      shared_ec_ca().issue(mxtls::tls::CertSpec{.common_name = "mx.example.test"}).cert_pem;

  CHECK(ossl::read_certificates_pem("").empty());
  CHECK(ossl::read_certificates_pem(" \r\n\t").empty());
  CHECK(ossl::read_certificates_pem(first).size() == 1);
  const auto both = ossl::read_certificates_pem("# a comment line\n" + first + "\r\n" + second);
  REQUIRE(both.size() == 2);
  CHECK(X509_cmp(both[1].get(), ossl::read_certificate_pem(second).get()) == 0);

  CHECK_THROWS_AS(ossl::read_certificates_pem("junk"), ossl::OpensslError);
  const std::string truncated = second.substr(0, second.size() / 2);
  CHECK_THROWS_AS(ossl::read_certificates_pem(first + truncated), ossl::OpensslError);
  CHECK(ERR_peek_error() == 0);

  const ossl::X509StorePtr store{X509_STORE_new()};
  CHECK(ossl::add_trust_anchors(store.get(), first + second) == 2);
  CHECK_THROWS(ossl::add_trust_anchors(store.get(), ""));
}

TEST_CASE("ossl: an encrypted private key is refused, never prompted for") {
  const ossl::EvpPkeyPtr key = ossl::read_private_key_pem(shared_ec_ca().key_pem());
  const ossl::BioPtr bio{BIO_new(BIO_s_mem())};
  static const char pass_phrase[] = "secret";
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key.get(), EVP_aes_128_cbc(),
                                   reinterpret_cast<const unsigned char*>(pass_phrase), 6,
                                   nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  const std::string encrypted(data, static_cast<std::size_t>(length));
  REQUIRE(encrypted.find("ENCRYPTED") != std::string::npos);
  CHECK_THROWS_AS(ossl::read_private_key_pem(encrypted), ossl::OpensslError);
  CHECK_THROWS_AS(ossl::read_private_key_pem(""), ossl::OpensslError);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("ossl: record-sized blocks are recycled, up to the pool's bound; other sizes go to malloc") {
  while (ossl::pooled_blocks_cached() > 0) std::free(ossl::pooled_allocate(ossl::pooled_block_bytes));
  // A record buffer, written end to end: the block is at least as large as asked.
  void* first = ossl::pooled_allocate(16709);
  std::memset(first, 0xA5, 16709);
  ossl::pooled_release(first);
  CHECK(ossl::pooled_blocks_cached() == 1);
  void* again = ossl::pooled_allocate(ossl::pooled_block_bytes);
  CHECK(again == first);  // the freed block serves the next request
  std::memset(again, 0x5A, ossl::pooled_block_bytes);
  CHECK(ossl::pooled_blocks_cached() == 0);

  // Small and huge blocks are not kept.
  void* small = ossl::pooled_allocate(100);
  void* huge = ossl::pooled_allocate(64 * 1024);
  ossl::pooled_release(small);
  ossl::pooled_release(huge);
  ossl::pooled_release(nullptr);
  CHECK(ossl::pooled_blocks_cached() == 0);

  // At most pooled_blocks_kept are kept; the rest are freed (ASan's leak check sees to that).
  std::vector<void*> blocks{again};
  for (std::size_t i = 0; i < ossl::pooled_blocks_kept + 8; ++i) blocks.push_back(ossl::pooled_allocate(17000));
  for (void* block : blocks) ossl::pooled_release(block);
  CHECK(ossl::pooled_blocks_cached() == ossl::pooled_blocks_kept);
  while (ossl::pooled_blocks_cached() > 0) std::free(ossl::pooled_allocate(ossl::pooled_block_bytes));
}

}  // TEST_SUITE("tls")
