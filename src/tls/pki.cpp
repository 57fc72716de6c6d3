// The run-time test PKI: key generation (RSA 2048, EC P-256) and X.509 v3 certificates signed
// with SHA-256, built with the OpenSSL 3 API. Output is PEM text so callers need no OpenSSL.
#include "tls/pki.hpp"

#include "ossl/digest.hpp"
#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <ctime>
#include <stdexcept>

namespace mxtls::tls {
namespace {

using namespace std::chrono_literals;

enum class Role { certificate_authority, server_leaf };

ossl::EvpPkeyPtr generate_key(KeyType key_type) {
  ossl::clear_openssl_errors();
  ossl::EvpPkeyPtr key;
  switch (key_type) {
    case KeyType::rsa2048:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)));
      break;
    case KeyType::ecdsa_p256:
      // OpenSSL 3 writes EC keys with the named-curve encoding by default, which is what
      // RFC 5480 requires and what strict verification accepts.
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
  }
  if (!key) throw ossl::OpensslError("key generation failed");
  return key;
}

// 128 random bits, top bit forced so the serial is always 16 bytes of magnitude and never zero;
// RFC 5280 allows up to 20 octets, and random serials keep repeated test runs from colliding.
void set_random_serial(X509* certificate) {
  ossl::BignumPtr serial{BN_new()};
  if (!serial || BN_rand(serial.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) == nullptr) {
    throw ossl::OpensslError("cannot set a random serial number");
  }
}

// Validity relative to one captured `now`, so not_before and not_after share a reference.
// X509_time_adj_ex picks UTCTime up to 2049 and GeneralizedTime after, as RFC 5280 asks.
void set_time(ASN1_TIME* field, std::chrono::seconds offset, std::time_t now) {
  const long long total = offset.count();
  const long long days = total / 86400;
  const long seconds = static_cast<long>(total % 86400);
  if (days > INT32_MAX || days < INT32_MIN ||
      X509_time_adj_ex(field, static_cast<int>(days), seconds, &now) == nullptr) {
    throw ossl::OpensslError("cannot set certificate validity");
  }
}

ossl::X509NamePtr make_name(const std::string& common_name) {
  ossl::X509NamePtr name{X509_NAME_new()};
  if (!name) throw ossl::OpensslError("X509_NAME_new failed");
  // An empty CN is left out entirely: a subject with only SANs is legitimate (RFC 5280 §4.2.1.6).
  if (!common_name.empty() &&
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    throw ossl::OpensslError("cannot set common name (at most 64 characters)");
  }
  return name;
}

void add_config_extension(X509* certificate, X509V3_CTX* context, int nid, const char* value) {
  ossl::X509ExtensionPtr extension{X509V3_EXT_conf_nid(nullptr, context, nid, value)};
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    throw ossl::OpensslError(std::string{"cannot add extension "} + OBJ_nid2sn(nid) + "=" + value);
  }
}

// subjectAltName is built as ASN.1 objects rather than from a config string, so names are
// taken verbatim: a comma or colon in a test name cannot turn into a second entry, and the lab
// can present deliberately odd names (wildcards, bad characters) to the scanner.
void add_subject_alt_names(X509* certificate, const CertSpec& spec, bool critical) {
  ossl::GeneralNamesPtr names{GENERAL_NAMES_new()};
  if (!names) throw ossl::OpensslError("GENERAL_NAMES_new failed");
  for (const std::string& dns_name : spec.dns_names) {
    ossl::GeneralNamePtr entry{GENERAL_NAME_new()};
    ossl::Asn1StringPtr text{ASN1_IA5STRING_new()};
    if (!entry || !text ||
        ASN1_STRING_set(text.get(), dns_name.data(), static_cast<int>(dns_name.size())) != 1) {
      throw ossl::OpensslError("cannot encode a DNS subjectAltName");
    }
    GENERAL_NAME_set0_value(entry.get(), GEN_DNS, text.release());
    if (sk_GENERAL_NAME_push(names.get(), entry.get()) <= 0) {
      throw ossl::OpensslError("cannot add a DNS subjectAltName");
    }
    entry.release();  // now owned by `names`
  }
  for (const std::string& address : spec.ip_addresses) {
    ossl::Asn1OctetStringPtr octets{a2i_IPADDRESS(address.c_str())};
    if (!octets) {
      ossl::clear_openssl_errors();
      throw std::invalid_argument("CertSpec ip_addresses entry is not an IP address: " + address);
    }
    ossl::GeneralNamePtr entry{GENERAL_NAME_new()};
    if (!entry) throw ossl::OpensslError("GENERAL_NAME_new failed");
    GENERAL_NAME_set0_value(entry.get(), GEN_IPADD, octets.release());
    if (sk_GENERAL_NAME_push(names.get(), entry.get()) <= 0) {
      throw ossl::OpensslError("cannot add an IP subjectAltName");
    }
    entry.release();
  }
  if (X509_add1_ext_i2d(certificate, NID_subject_alt_name, names.get(), critical ? 1 : 0,
                        X509V3_ADD_DEFAULT) != 1) {
    throw ossl::OpensslError("cannot add subjectAltName");
  }
}

struct Issuer {
  X509* certificate;  // nullptr: self-signed
  EVP_PKEY* key;
};

ossl::X509Ptr build_certificate(const CertSpec& spec, EVP_PKEY* subject_key, Role role,
                                const Issuer& issuer) {
  ossl::clear_openssl_errors();
  ossl::X509Ptr certificate{X509_new()};
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
    throw ossl::OpensslError("cannot create an X.509 v3 certificate");
  }
  set_random_serial(certificate.get());

  ossl::X509NamePtr subject = make_name(spec.common_name);
  X509_NAME* issuer_name =
      issuer.certificate != nullptr ? X509_get_subject_name(issuer.certificate) : subject.get();
  if (X509_set_subject_name(certificate.get(), subject.get()) != 1 ||
      X509_set_issuer_name(certificate.get(), issuer_name) != 1) {
    throw ossl::OpensslError("cannot set subject/issuer names");
  }

  const std::time_t now = std::time(nullptr);
  set_time(X509_getm_notBefore(certificate.get()), spec.not_before, now);
  set_time(X509_getm_notAfter(certificate.get()), spec.not_after, now);

  if (X509_set_pubkey(certificate.get(), subject_key) != 1) {
    throw ossl::OpensslError("cannot set the public key");
  }

  X509V3_CTX context;
  X509* issuer_certificate = issuer.certificate != nullptr ? issuer.certificate : certificate.get();
  X509V3_set_ctx(&context, issuer_certificate, certificate.get(), nullptr, nullptr, 0);
  if (X509V3_set_issuer_pkey(&context, issuer.key) != 1) {
    throw ossl::OpensslError("cannot set the issuer key for extensions");
  }

  const bool is_rsa = EVP_PKEY_get_base_id(subject_key) == EVP_PKEY_RSA;
  if (role == Role::certificate_authority) {
    add_config_extension(certificate.get(), &context, NID_basic_constraints, "critical,CA:TRUE");
    add_config_extension(certificate.get(), &context, NID_key_usage,
                         "critical,keyCertSign,cRLSign");
  } else {
    add_config_extension(certificate.get(), &context, NID_basic_constraints, "critical,CA:FALSE");
    // keyEncipherment only for RSA: TLS 1.2 RSA key exchange encrypts to the key; an EC key
    // can only sign.
    add_config_extension(certificate.get(), &context, NID_key_usage,
                         is_rsa ? "critical,digitalSignature,keyEncipherment"
                                : "critical,digitalSignature");
    add_config_extension(certificate.get(), &context, NID_ext_key_usage, "serverAuth");
  }
  // The subject key identifier first: for a self-signed certificate the authority key
  // identifier is copied from it.
  add_config_extension(certificate.get(), &context, NID_subject_key_identifier, "hash");
  add_config_extension(certificate.get(), &context, NID_authority_key_identifier, "keyid:always");
  if (!spec.dns_names.empty() || !spec.ip_addresses.empty()) {
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
    add_subject_alt_names(certificate.get(), spec, spec.common_name.empty());
  }

  if (X509_sign(certificate.get(), issuer.key, EVP_sha256()) <= 0) {
    throw ossl::OpensslError("cannot sign the certificate");
  }
  return certificate;
}

CertSpec authority_spec(const std::string& common_name, KeyType key_type,
                        std::chrono::seconds lifetime) {
  CertSpec spec;
  spec.common_name = common_name;
  spec.not_before = -1h;
  spec.not_after = lifetime;
  spec.key_type = key_type;
  return spec;
}

}  // namespace

CertificateAuthority CertificateAuthority::create(const std::string& common_name,
                                                  KeyType key_type) {
  const CertSpec spec = authority_spec(common_name, key_type, std::chrono::hours(24 * 3650));
  ossl::EvpPkeyPtr key = generate_key(key_type);
  ossl::X509Ptr certificate =
      build_certificate(spec, key.get(), Role::certificate_authority, Issuer{nullptr, key.get()});
  CertificateAuthority authority;
  authority.ca_.cert_pem = ossl::write_certificate_pem(certificate.get());
  authority.ca_.key_pem = ossl::write_private_key_pem(key.get());
  authority.is_root_ = true;
  return authority;
}

CertificateAuthority CertificateAuthority::issue_intermediate(const std::string& common_name,
                                                              KeyType key_type) const {
  const CertSpec spec = authority_spec(common_name, key_type, std::chrono::hours(24 * 365 * 5));
  ossl::X509Ptr issuer_certificate = ossl::read_certificate_pem(ca_.cert_pem);
  ossl::EvpPkeyPtr issuer_key = ossl::read_private_key_pem(ca_.key_pem);
  ossl::EvpPkeyPtr key = generate_key(key_type);
  ossl::X509Ptr certificate = build_certificate(spec, key.get(), Role::certificate_authority,
                                                Issuer{issuer_certificate.get(), issuer_key.get()});
  CertificateAuthority intermediate;
  intermediate.ca_.cert_pem = ossl::write_certificate_pem(certificate.get());
  intermediate.ca_.key_pem = ossl::write_private_key_pem(key.get());
  intermediate.ca_.chain_pem = is_root_ ? std::string{} : ca_.cert_pem + ca_.chain_pem;
  intermediate.is_root_ = false;
  return intermediate;
}

Credentials CertificateAuthority::issue(const CertSpec& spec) const {
  ossl::X509Ptr issuer_certificate = ossl::read_certificate_pem(ca_.cert_pem);
  ossl::EvpPkeyPtr issuer_key = ossl::read_private_key_pem(ca_.key_pem);
  ossl::EvpPkeyPtr key = generate_key(spec.key_type);
  ossl::X509Ptr certificate = build_certificate(spec, key.get(), Role::server_leaf,
                                                Issuer{issuer_certificate.get(), issuer_key.get()});
  Credentials issued;
  issued.cert_pem = ossl::write_certificate_pem(certificate.get());
  issued.key_pem = ossl::write_private_key_pem(key.get());
  // A server sends its intermediates, never the root: the client must already trust that.
  issued.chain_pem = is_root_ ? std::string{} : ca_.cert_pem + ca_.chain_pem;
  return issued;
}

Credentials self_signed(const CertSpec& spec) {
  ossl::EvpPkeyPtr key = generate_key(spec.key_type);
  ossl::X509Ptr certificate =
      build_certificate(spec, key.get(), Role::server_leaf, Issuer{nullptr, key.get()});
  Credentials issued;
  issued.cert_pem = ossl::write_certificate_pem(certificate.get());
  issued.key_pem = ossl::write_private_key_pem(key.get());
  return issued;
}

std::string certificate_sha256(const std::string& cert_pem) {
  ossl::X509Ptr certificate = ossl::read_certificate_pem(cert_pem);
  return ossl::sha256_hex(ossl::certificate_der(certificate.get()));
}

std::string spki_sha256(const std::string& cert_pem) {
  ossl::X509Ptr certificate = ossl::read_certificate_pem(cert_pem);
  return ossl::sha256_hex(ossl::spki_der(certificate.get()));
}

}  // namespace mxtls::tls
