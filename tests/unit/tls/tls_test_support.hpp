// Helpers shared by the tls unit tests: chain verification with a plain X509_STORE (OpenSSL's
// own verdict, independent of our code), and re-signing a test certificate after editing it.
#pragma once

#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"
#include "tls/pki.hpp"

#include <openssl/x509_vfy.h>

#include <string>
#include <string_view>

namespace mxtls::tls::test {

// X509_V_OK or OpenSSL's verification error for `leaf` + `chain` against `trusted` (PEM, may be
// empty). Strict X.509 checks and the TLS-server purpose, so malformed test certificates and
// missing serverAuth are caught too. With `host`, the name is checked by OpenSSL as well.
inline int verify_chain(const std::string& leaf_pem, const std::string& chain_pem,
                        const std::string& trusted_pem, std::string_view host = {}) {
  ossl::X509Ptr leaf = ossl::read_certificate_pem(leaf_pem);
  ossl::X509StorePtr store{X509_STORE_new()};
  if (!trusted_pem.empty()) ossl::add_trust_anchors(store.get(), trusted_pem);
  ossl::X509StackPtr untrusted{sk_X509_new_null()};
  for (ossl::X509Ptr& certificate : ossl::read_certificates_pem(chain_pem)) {
    if (sk_X509_push(untrusted.get(), certificate.get()) <= 0) throw ossl::OpensslError("push");
    certificate.release();  // owned by the stack now
  }
  ossl::X509StoreCtxPtr context{X509_STORE_CTX_new()};
  if (X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    throw ossl::OpensslError("X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_X509_STRICT);
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
  if (!host.empty()) {
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(context.get()), host.data(), host.size());
  }
  const int verified = X509_verify_cert(context.get());
  const int error = X509_STORE_CTX_get_error(context.get());
  ossl::clear_openssl_errors();
  return verified == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

// Edits an issued certificate with `edit(X509*)` and signs it again with the CA's key: the way
// to get exact validity dates or odd names the PKI does not make on its own.
template <typename Edit>
ossl::X509Ptr edited_certificate(const std::string& cert_pem, const CertificateAuthority& ca,
                                 Edit edit) {
  ossl::X509Ptr certificate = ossl::read_certificate_pem(cert_pem);
  ossl::EvpPkeyPtr ca_key = ossl::read_private_key_pem(ca.key_pem());
  edit(certificate.get());
  if (X509_sign(certificate.get(), ca_key.get(), EVP_sha256()) <= 0) {
    throw ossl::OpensslError("re-signing a test certificate");
  }
  return certificate;
}

// The test PKI's CAs are slow to make with RSA; tests share two, made on first use.
inline const CertificateAuthority& shared_ec_ca() {
  static const CertificateAuthority ca =
      CertificateAuthority::create("mxtls test root EC", KeyType::ecdsa_p256);
  return ca;
}
inline const CertificateAuthority& shared_rsa_ca() {
  static const CertificateAuthority ca =
      CertificateAuthority::create("mxtls test root RSA", KeyType::rsa2048);
  return ca;
}

}  // namespace mxtls::tls::test
