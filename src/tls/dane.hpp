// DANE for SMTP (RFC 7672, RFC 7671): which TLSA records an SMTP sender may use, the DANE
// state before any connection (from the DNSSEC facts alone), and the match itself, done by
// OpenSSL's own DANE code on the live connection.
#pragma once

#include "core/heap_optional.hpp"
#include "core/result.hpp"
#include "dns/resolver.hpp"

#include <optional>
#include <string>
#include <vector>

typedef struct ssl_st SSL;

namespace mxtls::tls {

enum class TlsaClass {
  usable,            // DANE-TA(2) or DANE-EE(3), selector 0/1, matching 0/1/2, data fits
  unusable_usage,    // PKIX-TA(0) / PKIX-EE(1): RFC 7672 §3.1.3 says SMTP senders ignore them
  unknown_usage,     // anything above 3
  unknown_selector,  // not 0 (certificate) or 1 (SubjectPublicKeyInfo)
  unknown_matching,  // not 0 (full), 1 (SHA-256) or 2 (SHA-512)
  malformed,         // data length wrong for its matching type, or empty
};
TlsaClass classify_tlsa(const dns::TlsaRecord& record);
std::string_view describe(TlsaClass);

// "3 1 1 <lower-case hex>": the record in presentation form.
std::string tlsa_text(const dns::TlsaRecord& record);

// What the DNS told us about one MX host, gathered by the domain scan.
struct DaneLookup {
  bool addresses_secure = false;   // every A/AAAA answer of the MX host carried AD
  bool looked_up = false;          // a TLSA query was sent
  HeapOptional<dns::TlsaAnswer> tlsa;  // heap: every probe target of a bulk scan carries one
  // The TLSA base domain when it is not the MX host name: the host's secure CNAME target, where
  // TLSA records were found (RFC 7672 §2.2.2). Empty: the MX host name.
  std::string base_domain;
};

// The DANE state as far as DNS decides it (before the handshake): not_applicable, no_records,
// unusable or lookup_error — or `failed` provisionally when usable records exist (the
// handshake turns that into matched when the chain matches). `usable` receives the records
// to hand to OpenSSL.
DaneFacts dane_from_dns(const DaneLookup& lookup, std::vector<dns::TlsaRecord>& usable);

// The TLSA records for one connection, and the base domain (the MX host name: SNI and the
// reference identifier for DANE-TA name checks).
struct DaneRequest {
  std::string base_domain;
  std::vector<dns::TlsaRecord> records;  // usable only (classify_tlsa == usable)
  // More names a DANE-TA(2) certificate may carry: the MX host name when the base domain is its
  // CNAME target (RFC 7672 §3.2.2 accepts either).
  std::vector<std::string> other_names;
};

// On a fresh SSL whose SSL_CTX had SSL_CTX_dane_enable: switches DANE on and adds the
// records. false (with `error`) when OpenSSL refuses; records it rejects are skipped.
bool enable_dane(SSL* ssl, const DaneRequest& request, std::string& error);

// After the handshake: matched (which record, at which depth) when the chain verified under
// DANE, else failed with OpenSSL's reason. `verify_error` is the first error the verify
// callback saw (X509_V_OK = 0 when none).
void record_dane_outcome(SSL* ssl, int verify_error, int verify_error_depth, DaneFacts& facts);

}  // namespace mxtls::tls
