// PEM/DER helpers: memory BIOs over std::string_view, and loading credentials or trust anchors
// into OpenSSL contexts. Errors from OpenSSL's queue go into the OpensslError message.
#include "ossl/pem.hpp"

#include "ossl/errors.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>

namespace mxtls::ossl {
namespace {

BioPtr read_only_bio(std::string_view text, std::string_view what) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::length_error(std::string{what} + ": PEM text too large");
  }
  BioPtr bio{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
  if (!bio) throw OpensslError(std::string{what} + ": cannot create memory BIO");
  return bio;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(length));
}

// Password callback that declines: without it OpenSSL's default callback would prompt on the
// controlling terminal and block.
int refuse_pass_phrase(char*, int, int, void*) { return 0; }

bool is_blank(std::string_view text) {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// After a PEM read returned nothing: was that simply the end of the input?
bool queue_says_no_more_pem_blocks() {
  const unsigned long last = ERR_peek_last_error();
  return ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
}

template <typename Encode>
std::vector<unsigned char> der_of(Encode encode, std::string_view what) {
  const int length = encode(nullptr);
  if (length <= 0) throw OpensslError(std::string{"cannot DER-encode "} + std::string{what});
  std::vector<unsigned char> der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  if (encode(&cursor) != length) {
    throw OpensslError(std::string{"cannot DER-encode "} + std::string{what});
  }
  return der;
}

}  // namespace

X509Ptr read_certificate_pem(std::string_view pem) {
  clear_openssl_errors();
  BioPtr bio = read_only_bio(pem, "certificate");
  X509Ptr certificate{PEM_read_bio_X509(bio.get(), nullptr, refuse_pass_phrase, nullptr)};
  if (!certificate) throw OpensslError("cannot read PEM certificate");
  return certificate;
}

std::vector<X509Ptr> read_certificates_pem(std::string_view pem) {
  std::vector<X509Ptr> certificates;
  if (is_blank(pem)) return certificates;
  clear_openssl_errors();
  BioPtr bio = read_only_bio(pem, "certificate bundle");
  for (;;) {
    X509Ptr certificate{PEM_read_bio_X509(bio.get(), nullptr, refuse_pass_phrase, nullptr)};
    if (!certificate) {
      if (queue_says_no_more_pem_blocks() && !certificates.empty()) {
        clear_openssl_errors();
        break;
      }
      throw OpensslError(certificates.empty() ? "no PEM certificate found"
                                              : "malformed PEM certificate in bundle");
    }
    certificates.push_back(std::move(certificate));
  }
  return certificates;
}

EvpPkeyPtr read_private_key_pem(std::string_view pem) {
  clear_openssl_errors();
  BioPtr bio = read_only_bio(pem, "private key");
  EvpPkeyPtr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_pass_phrase, nullptr)};
  if (!key) throw OpensslError("cannot read PEM private key (missing, malformed or encrypted)");
  return key;
}

std::string write_certificate_pem(X509* certificate) {
  BioPtr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    throw OpensslError("cannot write PEM certificate");
  }
  return bio_contents(bio.get());
}

std::string write_private_key_pem(EVP_PKEY* key) {
  BioPtr bio{BIO_new(BIO_s_mem())};
  // PEM_write_bio_PrivateKey writes PKCS#8 in OpenSSL 3; no cipher: the key is for tests and
  // the lab, which must start without a pass phrase.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw OpensslError("cannot write PEM private key");
  }
  return bio_contents(bio.get());
}

std::vector<unsigned char> certificate_der(X509* certificate) {
  return der_of([certificate](unsigned char** out) { return i2d_X509(certificate, out); },
                "certificate");
}

std::vector<unsigned char> spki_der(X509* certificate) {
  X509_PUBKEY* public_key = X509_get_X509_PUBKEY(certificate);
  if (public_key == nullptr) throw OpensslError("certificate has no SubjectPublicKeyInfo");
  return der_of([public_key](unsigned char** out) { return i2d_X509_PUBKEY(public_key, out); },
                "SubjectPublicKeyInfo");
}

void use_credentials(SSL_CTX* context, std::string_view cert_pem, std::string_view key_pem,
                     std::string_view chain_pem) {
  X509Ptr leaf = read_certificate_pem(cert_pem);
  EvpPkeyPtr key = read_private_key_pem(key_pem);
  std::vector<X509Ptr> chain = read_certificates_pem(chain_pem);
  clear_openssl_errors();
  if (SSL_CTX_use_certificate(context, leaf.get()) != 1) {
    throw OpensslError("SSL_CTX_use_certificate failed");
  }
  if (SSL_CTX_use_PrivateKey(context, key.get()) != 1) {
    throw OpensslError("SSL_CTX_use_PrivateKey failed");
  }
  for (const X509Ptr& intermediate : chain) {
    // add1: the context takes its own reference; ours is released by X509Ptr.
    if (SSL_CTX_add1_chain_cert(context, intermediate.get()) != 1) {
      throw OpensslError("SSL_CTX_add1_chain_cert failed");
    }
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    throw OpensslError("private key does not match the certificate");
  }
}

int add_trust_anchors(X509_STORE* store, std::string_view pem) {
  std::vector<X509Ptr> anchors = read_certificates_pem(pem);
  if (anchors.empty()) throw std::invalid_argument("no trust anchor certificate in PEM text");
  clear_openssl_errors();
  for (const X509Ptr& anchor : anchors) {
    if (X509_STORE_add_cert(store, anchor.get()) != 1) {
      throw OpensslError("X509_STORE_add_cert failed");
    }
  }
  return static_cast<int>(anchors.size());
}

}  // namespace mxtls::ossl
