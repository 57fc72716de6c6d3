// Certificate facts for reports, and RFC 6125 host-name matching as Postfix applies it to MX names.
// Every string taken from a certificate is attacker-chosen: it is made printable and bounded.
#include "tls/certificate.hpp"

#include "ossl/digest.hpp"
#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>

namespace mxtls::tls {
namespace {

// Bounds on what a certificate can make us store and print per probe.
constexpr std::size_t max_text_length = 1024;  // per name (subject, issuer, one SAN)
constexpr std::size_t max_recorded_sans = 100;

// DNS limits (RFC 1035): a presented or reference identifier beyond them is not a host name.
constexpr std::size_t max_dns_name_length = 253;  // without the trailing dot
constexpr std::size_t max_dns_label_length = 63;

// Printable ASCII passes; every other byte (controls, DEL, non-ASCII, NUL) becomes \xHH, so a
// name can neither forge report lines, nor carry terminal escapes, nor break JSON/CSV encoding.
// The result is at most `max_length` characters; cut text ends in "..." (never mid-escape).
std::string sanitise(std::string_view raw, std::size_t max_length = max_text_length) {
  static constexpr char digits[] = "0123456789abcdef";
  static constexpr std::string_view cut_marker = "...";
  const auto width_of = [](char c) -> std::size_t {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f ? 1 : 4;
  };
  std::size_t full_width = 0;
  for (const char c : raw) full_width += width_of(c);
  const bool cut = full_width > max_length;
  const std::size_t budget = cut ? max_length - cut_marker.size() : max_length;

  std::string clean;
  clean.reserve(std::min(full_width, max_length));
  for (const char c : raw) {
    if (clean.size() + width_of(c) > budget) break;
    const auto byte = static_cast<unsigned char>(c);
    if (width_of(c) == 1) {
      clean.push_back(c);
    } else {
      clean += "\\x";
      clean.push_back(digits[byte >> 4]);
      clean.push_back(digits[byte & 0x0f]);
    }
  }
  if (cut) clean += cut_marker;
  return clean;
}

std::string_view view_of(const ASN1_STRING* text) {
  if (text == nullptr) return {};
  const int length = ASN1_STRING_length(text);
  if (length <= 0) return {};
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
          static_cast<std::size_t>(length)};
}

// RFC 2253 one-line form. XN_FLAG_RFC2253 already escapes controls and non-ASCII bytes as
// \XX; sanitise() is the second fence and the length bound.
std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  ossl::BioPtr bio{BIO_new(BIO_s_mem())};
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return {};
  return sanitise(std::string_view(data, static_cast<std::size_t>(length)));
}

// RFC 3339 UTC, e.g. "2026-11-22T13:08:37Z"; empty when the field cannot be parsed.
std::string rfc3339(const ASN1_TIME* time) {
  std::tm broken_down{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &broken_down) != 1) return {};
  char text[32];
  const int written = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                                    broken_down.tm_year + 1900, broken_down.tm_mon + 1,
                                    broken_down.tm_mday, broken_down.tm_hour,
                                    broken_down.tm_min, broken_down.tm_sec);
  if (written <= 0 || static_cast<std::size_t>(written) >= sizeof text) return {};
  return text;
}

std::string ip_text(const ASN1_OCTET_STRING* address) {
  const std::string_view bytes = view_of(address);
  char text[INET6_ADDRSTRLEN] = {};
  if (bytes.size() == 4 && inet_ntop(AF_INET, bytes.data(), text, sizeof text) != nullptr) {
    return text;
  }
  if (bytes.size() == 16 && inet_ntop(AF_INET6, bytes.data(), text, sizeof text) != nullptr) {
    return text;
  }
  // Not an address (RFC 5280 allows only 4 or 16 octets here); parentheses keep it from ever
  // looking like a name or an address.
  return "(invalid IP address of " + std::to_string(bytes.size()) + " bytes)";
}

ossl::GeneralNamesPtr subject_alt_names(X509* certificate) {
  // With more than one SAN extension this returns nothing, as OpenSSL's own checks do (and
  // such a certificate fails verification anyway).
  return ossl::GeneralNamesPtr{static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr))};
}

void record_sans(X509* certificate, CertFacts& facts) {
  ossl::GeneralNamesPtr names = subject_alt_names(certificate);
  if (!names) return;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::size_t total = 0;
  const int count = sk_GENERAL_NAME_num(names.get());
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* entry = sk_GENERAL_NAME_value(names.get(), i);
    if (entry->type == GEN_DNS) {
      ++total;
      if (dns_names.size() < max_recorded_sans) dns_names.push_back(sanitise(view_of(entry->d.dNSName)));
    } else if (entry->type == GEN_IPADD) {
      ++total;
      if (ip_addresses.size() < max_recorded_sans) ip_addresses.push_back(ip_text(entry->d.iPAddress));
    }
  }
  // DNS names first, then addresses, at most max_recorded_sans in all.
  for (std::string& name : dns_names) {
    if (facts.sans.size() == max_recorded_sans) break;
    facts.sans.push_back(std::move(name));
  }
  for (std::string& address : ip_addresses) {
    if (facts.sans.size() == max_recorded_sans) break;
    facts.sans.push_back(std::move(address));
  }
  if (total > facts.sans.size()) {
    // The count is a fact worth reporting (certificates with thousands of names exist), so it
    // is kept as a final entry that can never be mistaken for a name or an address.
    facts.sans.push_back("(" + std::to_string(total - facts.sans.size()) +
                         " more subjectAltName entries not recorded)");
  }
}

std::string object_text(const ASN1_OBJECT* object) {
  if (object == nullptr) return {};
  char text[128];
  const int length = OBJ_obj2txt(text, sizeof text, object, 0);
  if (length <= 0) return {};
  return sanitise(std::string_view(text, std::min<std::size_t>(static_cast<std::size_t>(length),
                                                               sizeof text - 1)));
}

void record_key(X509* certificate, CertFacts& facts) {
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  if (key == nullptr) {
    // A key algorithm this OpenSSL cannot load: still name it by its OID.
    ASN1_OBJECT* algorithm = nullptr;
    X509_PUBKEY* public_key = X509_get_X509_PUBKEY(certificate);
    if (public_key != nullptr &&
        X509_PUBKEY_get0_param(&algorithm, nullptr, nullptr, nullptr, public_key) == 1) {
      facts.key_type = object_text(algorithm);
    }
    return;
  }
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: facts.key_type = "RSA"; break;
    case EVP_PKEY_RSA_PSS: facts.key_type = "RSA-PSS"; break;
    case EVP_PKEY_EC: facts.key_type = "EC"; break;
    case EVP_PKEY_ED25519: facts.key_type = "ED25519"; break;
    case EVP_PKEY_ED448: facts.key_type = "ED448"; break;
    case EVP_PKEY_DSA: facts.key_type = "DSA"; break;
    default: {
      const char* name = EVP_PKEY_get0_type_name(key);
      facts.key_type = name != nullptr ? sanitise(name, 64) : std::string{"unknown"};
    }
  }
  facts.key_bits = EVP_PKEY_get_bits(key);
}

void record_signature_algorithm(X509* certificate, CertFacts& facts) {
  const int nid = X509_get_signature_nid(certificate);
  if (nid != NID_undef) {
    if (const char* name = OBJ_nid2ln(nid); name != nullptr) {
      facts.signature_algorithm = name;
      return;
    }
  }
  const X509_ALGOR* algorithm = nullptr;
  X509_get0_signature(nullptr, &algorithm, certificate);
  if (algorithm == nullptr) return;
  const ASN1_OBJECT* object = nullptr;
  X509_ALGOR_get0(&object, nullptr, nullptr, algorithm);
  facts.signature_algorithm = object_text(object);
}

void record_fingerprints(X509* certificate, CertFacts& facts) {
  try {
    facts.sha256 = ossl::sha256_hex(ossl::certificate_der(certificate));
    facts.spki_sha256 = ossl::sha256_hex(ossl::spki_der(certificate));
  } catch (const std::exception&) {
    // A certificate that cannot be re-encoded has no fingerprint; the other facts still stand.
  }
}

// ---- name matching ---------------------------------------------------------------------------

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Byte-wise ASCII comparison: no locale, so A-labels ("xn--…") compare exactly as DNS does and
// no Unicode case folding can make two different names equal.
bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';  // '_' is not a host-name character, but real certificates carry it
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

// A dot-separated name of non-empty labels of name characters within DNS limits; returns its
// label count, 0 when malformed. U-labels (raw UTF-8), NULs, spaces and '*' are all refused:
// certificates must carry A-labels, and we compare only in that form.
std::size_t count_valid_labels(std::string_view name) {
  if (name.empty() || name.size() > max_dns_name_length) return 0;
  std::size_t labels = 1;
  std::size_t label_length = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label_length == 0) return 0;
      ++labels;
      label_length = 0;
    } else if (is_name_character(c)) {
      if (++label_length > max_dns_label_length) return 0;
    } else {
      return 0;
    }
  }
  return label_length == 0 ? 0 : labels;
}

}  // namespace

CertFacts describe_certificate(X509* leaf, int chain_length) {
  CertFacts facts;
  facts.chain_length = chain_length;
  if (leaf == nullptr) return facts;
  // Peer data may be malformed: failures become empty fields, and the errors they queue are
  // discarded so they cannot be mistaken for a TLS error later on this thread.
  const ossl::ScopedErrorMark error_mark;
  facts.subject = name_text(X509_get_subject_name(leaf));
  facts.issuer = name_text(X509_get_issuer_name(leaf));
  record_sans(leaf, facts);
  facts.not_before = rfc3339(X509_get0_notBefore(leaf));
  facts.not_after = rfc3339(X509_get0_notAfter(leaf));
  record_key(leaf, facts);
  record_signature_algorithm(leaf, facts);
  record_fingerprints(leaf, facts);
  return facts;
}

bool certificate_matches_host(X509* leaf, std::string_view host) {
  if (leaf == nullptr) return false;
  const ossl::ScopedErrorMark error_mark;
  // RFC 6125 §6.4.4: once a certificate has any DNS-ID, its CN is not an identifier at all.
  bool has_dns_name = false;
  if (ossl::GeneralNamesPtr names = subject_alt_names(leaf)) {
    const int count = sk_GENERAL_NAME_num(names.get());
    for (int i = 0; i < count; ++i) {
      const GENERAL_NAME* entry = sk_GENERAL_NAME_value(names.get(), i);
      if (entry->type != GEN_DNS) continue;
      has_dns_name = true;
      if (dns_name_matches(view_of(entry->d.dNSName), host)) return true;
    }
  }
  if (has_dns_name) return false;

  // Legacy fallback: every CN of the subject, as OpenSSL's X509_check_host does. The CN may be
  // any string type (BMPString, …): converted to UTF-8, where non-ASCII then fails the
  // character check in dns_name_matches.
  const X509_NAME* subject = X509_get_subject_name(leaf);
  for (int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); index >= 0;
       index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, data);
    if (length < 0) continue;
    const ossl::OpensslBytesPtr owned{utf8};
    if (dns_name_matches(std::string_view(reinterpret_cast<const char*>(utf8),
                                          static_cast<std::size_t>(length)),
                         host)) {
      return true;
    }
  }
  return false;
}

bool dns_name_matches(std::string_view pattern, std::string_view host) {
  pattern = without_trailing_dot(pattern);
  host = without_trailing_dot(host);
  const std::size_t host_labels = count_valid_labels(host);
  if (host_labels == 0) return false;

  if (pattern.substr(0, 2) != "*.") {
    // No wildcard: any '*' elsewhere (partial "mx*", "f*o", "xn--*", or in a later label)
    // makes the label invalid, so such patterns never match.
    return count_valid_labels(pattern) != 0 && equal_ignoring_ascii_case(pattern, host);
  }

  // "*." + parent. The parent must have at least two labels: "*" alone or "*.test" would
  // claim every name under a top-level domain (or everything), which no CA may issue (CA/B
  // Baseline Requirements) and which OpenSSL's X509_check_host refuses too. Without a public
  // suffix list "*.co.uk"-style patterns still pass; the chain check is what stands behind them.
  const std::string_view parent = pattern.substr(2);
  if (count_valid_labels(parent) < 2) return false;

  // The wildcard is exactly one whole label: the host has exactly one more label than the
  // parent, so "*" neither matches the bare parent nor spans "a.b". That label may be an
  // A-label ("xn--…"): the wildcard covers it whole, never a part of it.
  if (host_labels != count_valid_labels(parent) + 1) return false;
  const std::size_t first_dot = host.find('.');
  return equal_ignoring_ascii_case(host.substr(first_dot + 1), parent);
}

}  // namespace mxtls::tls
