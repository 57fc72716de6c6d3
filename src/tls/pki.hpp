// A small PKI made at run time with the OpenSSL API: a CA, leaf certificates with chosen
// names, validity and key type, and self-signed certificates. Used by the lab fleet and tests.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mxtls::tls {

enum class KeyType { rsa2048, ecdsa_p256 };

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;      // subjectAltName DNS entries (may be empty: CN only)
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries
  std::chrono::seconds not_before{-3600};  // relative to now
  std::chrono::seconds not_after{std::chrono::hours(24 * 365)};
  KeyType key_type = KeyType::ecdsa_p256;
};

struct Credentials {
  std::string cert_pem;   // the leaf
  std::string key_pem;    // PKCS#8 private key
  std::string chain_pem;  // intermediates to send after the leaf (may be empty)
};

// Everything here throws ossl::OpensslError (a std::runtime_error) when OpenSSL refuses, and
// std::invalid_argument for a spec it cannot encode (e.g. an IP entry that is no address).
class CertificateAuthority {
 public:
  // A self-signed root, valid from an hour ago for ten years.
  static CertificateAuthority create(const std::string& common_name, KeyType key_type = KeyType::ecdsa_p256);
  Credentials issue(const CertSpec& spec) const;  // signed by this CA
  // An intermediate CA signed by this one (valid from an hour ago for five years). Leaves it
  // issues carry it (and any intermediates above it) in chain_pem; the root is never sent.
  CertificateAuthority issue_intermediate(const std::string& common_name,
                                          KeyType key_type = KeyType::ecdsa_p256) const;
  const std::string& cert_pem() const { return ca_.cert_pem; }
  const std::string& key_pem() const { return ca_.key_pem; }

 private:
  Credentials ca_;    // chain_pem: intermediates above this CA, excluding the root
  bool is_root_ = true;
};

// A leaf signed by its own key (CA:FALSE): what an unconfigured mail server presents.
Credentials self_signed(const CertSpec& spec);

// Lower-case hex SHA-256 of the first certificate in `cert_pem`: of its DER (TLSA 3 0 1) and of
// its SubjectPublicKeyInfo DER (TLSA 3 1 1). For the lab, which builds TLSA records without
// OpenSSL headers. Throw ossl::OpensslError (ossl/errors.hpp) on malformed PEM.
std::string certificate_sha256(const std::string& cert_pem);
std::string spki_sha256(const std::string& cert_pem);

}  // namespace mxtls::tls
