// DANE classification and evaluation. The matching is OpenSSL's (SSL_dane_enable,
// SSL_dane_tlsa_add): it implements RFC 7671's rules (DANE-EE ignores names and expiry,
// DANE-TA needs the chain up to the TA and a name check) better than anything re-written here.
#include "tls/dane.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>

namespace mxtls::tls {
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string record_text(int usage, int selector, int matching, const unsigned char* data, std::size_t size) {
  return std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(matching) + " " + hex(data, size);
}

}  // namespace

TlsaClass classify_tlsa(const dns::TlsaRecord& r) {
  if (r.usage == 0 || r.usage == 1) return TlsaClass::unusable_usage;
  if (r.usage > 3) return TlsaClass::unknown_usage;
  if (r.selector > 1) return TlsaClass::unknown_selector;
  if (r.matching_type > 2) return TlsaClass::unknown_matching;
  if (r.data.empty()) return TlsaClass::malformed;
  if (r.matching_type == 1 && r.data.size() != 32) return TlsaClass::malformed;
  if (r.matching_type == 2 && r.data.size() != 64) return TlsaClass::malformed;
  return TlsaClass::usable;
}

std::string_view describe(TlsaClass c) {
  switch (c) {
    case TlsaClass::usable: return "usable";
    case TlsaClass::unusable_usage: return "usage 0/1 (PKIX-TA/PKIX-EE) is not used for SMTP (RFC 7672 3.1.3)";
    case TlsaClass::unknown_usage: return "unknown certificate usage";
    case TlsaClass::unknown_selector: return "unknown selector";
    case TlsaClass::unknown_matching: return "unknown matching type";
    case TlsaClass::malformed: return "association data has the wrong length for its matching type";
  }
  return "?";
}

std::string tlsa_text(const dns::TlsaRecord& r) {
  return record_text(r.usage, r.selector, r.matching_type, r.data.data(), r.data.size());
}

DaneFacts dane_from_dns(const DaneLookup& lookup, std::vector<dns::TlsaRecord>& usable) {
  DaneFacts f;
  usable.clear();
  const dns::TlsaAnswer* answer = lookup.tlsa ? &*lookup.tlsa : nullptr;
  const bool secure_records = answer && answer->outcome == dns::Outcome::ok && answer->authenticated &&
                              !answer->records.empty();
  if (answer)
    for (const auto& r : answer->records) f.tlsa.push_back(tlsa_text(r));

  if (!lookup.addresses_secure) {
    // RFC 7672 §2.2.2 and Postfix: TLSA is only sought for hosts whose address records are
    // secure, since an attacker who forges the address could forge the server too.
    f.state = DaneState::not_applicable;
    f.detail = "the MX host's address records are not DNSSEC-validated";
    if (secure_records) {
      f.halfdane = true;
      f.detail += "; its TLSA records are, but senders ignore them (\"halfdane\")";
    }
    return f;
  }
  if (!answer) {
    f.state = DaneState::not_applicable;
    f.detail = "no TLSA lookup";
    return f;
  }
  switch (answer->outcome) {
    case dns::Outcome::ok: break;
    case dns::Outcome::nodata:
    case dns::Outcome::nxdomain:
      f.state = DaneState::no_records;
      f.detail = "no TLSA records";
      return f;
    default:
      // SERVFAIL is what a validating resolver answers for bogus data: a DANE sender defers.
      f.state = DaneState::lookup_error;
      f.detail = "TLSA lookup failed: " + std::string(dns::to_string(answer->outcome)) +
                 (answer->detail.empty() ? "" : " (" + answer->detail + ")");
      return f;
  }
  if (!answer->authenticated) {
    // Secure address, insecure TLSA (e.g. the TLSA name sits in an unsigned zone): RFC 7672
    // §2.2 treats insecure TLSA as absent.
    f.state = DaneState::no_records;
    f.halfdane = true;
    f.detail = "TLSA records exist but are not DNSSEC-validated, so senders ignore them (\"halfdane\")";
    return f;
  }
  std::string reasons;
  for (const auto& r : answer->records) {
    const TlsaClass c = classify_tlsa(r);
    if (c == TlsaClass::usable) {
      usable.push_back(r);
    } else if (reasons.find(describe(c)) == std::string::npos) {
      reasons += (reasons.empty() ? "" : "; ") + std::string(describe(c));
    }
  }
  if (usable.empty()) {
    // RFC 7672 §2.2: TLSA present but none usable: senders still insist on TLS, unauthenticated.
    f.state = DaneState::unusable;
    f.detail = "no usable TLSA record: " + reasons;
    return f;
  }
  f.state = DaneState::failed;  // until the handshake shows a match
  f.detail = "no TLS connection to check the TLSA records against";
  return f;
}

bool enable_dane(SSL* ssl, const DaneRequest& request, std::string& error) {
  if (SSL_dane_enable(ssl, request.base_domain.c_str()) <= 0) {
    error = "OpenSSL refused to enable DANE";
    ERR_clear_error();
    return false;
  }
  // RFC 7672 §3.1.3: DANE-EE(3) authenticates the key alone: no name check, no expiry check.
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  // RFC 7672 §3.2.2: for DANE-TA the MX name must match, wildcards only as a whole label.
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (const auto& name : request.other_names) SSL_add1_host(ssl, name.c_str());
  int added = 0;
  for (const auto& r : request.records) {
    const int rc = SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.matching_type, r.data.data(), r.data.size());
    added += rc > 0;
  }
  ERR_clear_error();
  if (added == 0) {
    error = "OpenSSL accepted none of the TLSA records (malformed certificate or key data)";
    return false;
  }
  return true;
}

void record_dane_outcome(SSL* ssl, int verify_error, int verify_error_depth, DaneFacts& facts) {
  X509* matched_cert = nullptr;
  EVP_PKEY* matched_key = nullptr;
  const int depth = SSL_get0_dane_authority(ssl, &matched_cert, &matched_key);
  if (verify_error == X509_V_OK && depth >= 0) {
    std::uint8_t usage = 0, selector = 0, matching = 0;
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    if (SSL_get0_dane_tlsa(ssl, &usage, &selector, &matching, &data, &size) >= 0 && data)
      facts.matched_record = record_text(usage, selector, matching, data, size);
    facts.state = DaneState::matched;
    facts.matched_depth = depth;
    facts.detail = "matched " + facts.matched_record.substr(0, 6) + "at depth " + std::to_string(depth);
    return;
  }
  facts.state = DaneState::failed;
  facts.detail = verify_error == X509_V_OK ? "no TLSA record matched"
                                           : X509_verify_cert_error_string(verify_error);
  if (verify_error_depth > 0) facts.detail += " (at depth " + std::to_string(verify_error_depth) + ")";
}

}  // namespace mxtls::tls
