// RAII owners for OpenSSL objects: std::unique_ptr with a deleter struct per type, so every
// object is freed on every path (early returns, exceptions) without manual *_free calls.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace mxtls::ossl {

// Deleter for types whose free function is a plain function taking the pointer.
template <auto FreeFunction>
struct FreeWith {
  template <typename T>
  void operator()(T* object) const noexcept {
    if (object != nullptr) FreeFunction(object);
  }
};

using X509Ptr = std::unique_ptr<X509, FreeWith<&X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, FreeWith<&X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<&X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, FreeWith<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, FreeWith<&X509_STORE_CTX_free>>;
using X509VerifyParamPtr = std::unique_ptr<X509_VERIFY_PARAM, FreeWith<&X509_VERIFY_PARAM_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, FreeWith<&EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, FreeWith<&EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, FreeWith<&BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, FreeWith<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, FreeWith<&SSL_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, FreeWith<&BN_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, FreeWith<&ASN1_TIME_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, FreeWith<&ASN1_INTEGER_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, FreeWith<&ASN1_STRING_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, FreeWith<&ASN1_OCTET_STRING_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, FreeWith<&GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<&GENERAL_NAMES_free>>;

// A STACK_OF(X509) that owns its certificates too (sk_X509_pop_free, not sk_X509_free).
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const noexcept {
    if (stack != nullptr) sk_X509_pop_free(stack, X509_free);
  }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Buffers OpenSSL allocated for us (i2d_* output, ASN1_STRING_to_UTF8, OBJ text): OPENSSL_free
// is a macro, hence a struct rather than FreeWith.
struct OpensslFree {
  void operator()(void* memory) const noexcept { OPENSSL_free(memory); }
};
using OpensslBytesPtr = std::unique_ptr<unsigned char, OpensslFree>;
using OpensslCharsPtr = std::unique_ptr<char, OpensslFree>;

// Takes a new reference to an object someone else owns (e.g. SSL_get0_peer_certificate),
// so it can outlive that owner.
inline X509Ptr share(X509* certificate) {
  if (certificate == nullptr || X509_up_ref(certificate) != 1) return X509Ptr{};
  return X509Ptr{certificate};
}
inline EvpPkeyPtr share(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_up_ref(key) != 1) return EvpPkeyPtr{};
  return EvpPkeyPtr{key};
}

}  // namespace mxtls::ossl
