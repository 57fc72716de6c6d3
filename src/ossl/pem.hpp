// PEM and DER conversions between OpenSSL objects and std::string, and loading PEM text into
// SSL_CTX / X509_STORE. For our own setup data (lab PKI, --ca-file): failures throw OpensslError.
#pragma once

#include "ossl/handles.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mxtls::ossl {

// The first certificate in `pem`. Throws OpensslError if there is none or it is malformed.
X509Ptr read_certificate_pem(std::string_view pem);

// Every certificate in a PEM bundle, in order (text between blocks is skipped, as OpenSSL does).
// Empty or whitespace-only text gives an empty list; other text without a certificate, or a
// malformed block, throws OpensslError.
std::vector<X509Ptr> read_certificates_pem(std::string_view pem);

// An unencrypted private key (PKCS#8 or traditional). Encrypted keys are refused rather than
// prompting for a pass phrase on the terminal, which would hang a scan.
EvpPkeyPtr read_private_key_pem(std::string_view pem);

std::string write_certificate_pem(X509* certificate);
std::string write_private_key_pem(EVP_PKEY* key);  // unencrypted PKCS#8 "PRIVATE KEY"

// DER encodings (what the SHA-256 fingerprints are computed over).
std::vector<unsigned char> certificate_der(X509* certificate);
std::vector<unsigned char> spki_der(X509* certificate);  // SubjectPublicKeyInfo of the certificate

// Installs a leaf, its private key and intermediates (PEM, may be empty) into a server context
// and checks that key and certificate belong together.
void use_credentials(SSL_CTX* context, std::string_view cert_pem, std::string_view key_pem,
                     std::string_view chain_pem);

// Adds every certificate of a PEM bundle to a trust store; returns how many. Throws if none.
int add_trust_anchors(X509_STORE* store, std::string_view pem);

}  // namespace mxtls::ossl
