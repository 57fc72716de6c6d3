// The result model: plain structs every phase writes into and every report reads from.
// No OpenSSL, ldns or Asio types here; the probe's data carries its state.
#pragma once

#include "core/heap_optional.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls {

// JSON Lines / CSV schema version (data/schema.md).
inline constexpr int schema_version = 1;

enum class Phase {
  resolve_mx,
  resolve_addr,
  resolve_tlsa,
  connect,
  greeting,
  ehlo,
  starttls,
  handshake,
  verify,
  ehlo_after_tls,
  quit,
};

enum class Status {
  ok,
  not_offered,     // STARTTLS not advertised
  refused,         // TCP connection refused
  timeout,         // a phase ran past its deadline
  closed,          // peer closed the connection
  protocol_error,  // malformed or oversized SMTP, garbage instead of a reply
  smtp_reject,     // 4xx/5xx where 2xx was needed
  tls_error,       // handshake failed
  dns_error,       // name resolution failed
  internal,        // our own failure (out of sockets, …)
  excluded,        // never contacted: the address, MX or domain is on the --exclude list
};

// Postfix's words for the peer certificate (DESIGN.md §3).
enum class CertVerdict { verified, trusted, untrusted, anonymous };

enum class GmailLock { grey, red };

// DANE for one (MX, port) as RFC 7672 defines it (DESIGN.md §3).
enum class DaneState {
  not_applicable,  // the MX host's addresses are not DNSSEC-secure: senders do no DANE
  no_records,      // secure, but no (secure) TLSA records
  unusable,        // TLSA records exist, none usable for SMTP (usages 0/1, bad fields, malformed)
  matched,         // the server's chain matched a usable TLSA record
  failed,          // usable TLSA records, the chain matched none (or TLS never came up)
  lookup_error,    // the TLSA lookup failed (SERVFAIL: DNSSEC bogus, timeout); senders defer
};

// RFC 8461 policy modes.
enum class MtaStsMode { enforce, testing, none };

// The domain's MTA-STS judgement as a sender would act on it.
enum class MtaStsVerdict {
  no_policy,  // no _mta-sts TXT record
  error,      // TXT present but no usable policy (bad TXT, fetch failed, policy invalid)
  none,       // policy with mode none
  pass,       // every MX matches a pattern and shows a Verified certificate
  fail,       // some MX is not listed or its certificate is not Verified
};

enum class TlsRptState { absent, valid, invalid, dns_error };

std::string_view to_string(Phase);
std::string_view to_string(Status);
std::string_view to_string(CertVerdict);
std::string_view to_string(GmailLock);
std::string_view to_string(DaneState);
std::string_view to_string(MtaStsMode);
std::string_view to_string(MtaStsVerdict);
std::string_view to_string(TlsRptState);
std::optional<Phase> phase_from_string(std::string_view);
std::optional<Status> status_from_string(std::string_view);

// Facts about the leaf certificate and its chain, as text ready for reports.
struct CertFacts {
  std::string subject;            // RFC 2253 one-line form
  std::string issuer;
  std::vector<std::string> sans;  // DNS names, then IP addresses
  std::string not_before;         // RFC 3339 UTC
  std::string not_after;
  std::string key_type;           // "RSA", "EC", "ED25519", …
  int key_bits = 0;
  std::string signature_algorithm;  // e.g. "sha256WithRSAEncryption"
  int chain_length = 0;             // certificates the server sent
  std::string sha256;               // leaf DER, lower-case hex
  std::string spki_sha256;          // leaf SubjectPublicKeyInfo DER, lower-case hex
  bool operator==(const CertFacts&) const = default;
};

struct TlsFacts {
  std::string version;  // OpenSSL name: "TLSv1.3"
  std::string cipher;   // OpenSSL name: "TLS_AES_256_GCM_SHA384"
  std::string group;    // key exchange group: "X25519", "secp256r1", "ffdhe2048", or empty
  int cipher_bits = 0;
  std::optional<CertFacts> cert;  // absent: anonymous
  CertVerdict verdict = CertVerdict::anonymous;
  std::string verify_error;  // OpenSSL's reason when the chain does not verify
  bool name_matched = false;
  bool operator==(const TlsFacts&) const = default;
};

// What DANE said about one probe. Depends only on (MX, IP, port): it may be shared between
// domains, so nothing domain-specific goes here.
struct DaneFacts {
  DaneState state = DaneState::not_applicable;
  std::vector<std::string> tlsa;  // the TLSA RRset as presented: "3 1 1 <hex>"
  std::string matched_record;     // "3 1 1 <hex>" of the record that matched
  int matched_depth = -1;         // 0: the leaf certificate, 1: its issuer, …
  std::string detail;             // why failed / unusable / not applicable, in words
  bool halfdane = false;          // secure TLSA beside insecure addresses, or the reverse
  bool operator==(const DaneFacts&) const = default;
};

struct PhaseTime {
  Phase phase;
  std::int64_t ms;
  bool operator==(const PhaseTime&) const = default;
};

// One (domain, MX host, IP, port). Always produced, also when a phase failed.
// A field added here or in the structs above must also go into the bulk scan's probe cache
// (the field lists in scan/probe_pack.cpp; the build checks the sizes there).
struct ProbeResult {
  std::string domain;  // A-label form
  std::string mx;      // MX host name (A-label, no trailing dot)
  int preference = 0;
  std::string ip;
  std::uint16_t port = 25;

  Status status = Status::internal;
  std::optional<Phase> failed_phase;
  std::string error;  // human detail for a failure

  std::string started_at;  // RFC 3339 UTC
  std::string banner;      // greeting text, sanitised, bounded
  int greeting_code = 0;
  bool used_helo = false;  // EHLO failed, HELO answered
  std::vector<std::string> ehlo_keywords;       // before TLS, upper-case keyword + params
  std::optional<bool> starttls;                 // advertised? null if never reached EHLO
  std::vector<std::string> auth_before_tls;     // AUTH mechanisms offered in cleartext
  std::string injected_after_starttls;          // bytes after "220" to STARTTLS, escaped
  int starttls_code = 0;                        // reply code to STARTTLS
  std::string starttls_reply;
  HeapOptional<TlsFacts> tls;                   // set once the handshake completed (heap: most
                                                // results in flight have none yet)
  std::vector<std::string> ehlo_after_tls;      // keywords after TLS
  std::vector<PhaseTime> phase_ms;
  std::int64_t elapsed_ms = 0;

  std::optional<bool> dnssec_addr;  // A/AAAA answers of the MX host DNSSEC-validated (AD)
  DaneFacts dane;
  // Connections made for this result: more than 1 when a 4xx (421 busy, …) was backed off
  // and retried by the bulk scheduler; what each earlier try got, with its time.
  int attempts = 1;
  std::vector<std::string> earlier_attempts;
  bool operator==(const ProbeResult&) const = default;

  // When the same (IP, port, MX) serves several domains the probe runs once and is copied.
};

enum class DomainKind {
  mx,           // has MX records
  implicit_mx,  // no MX: the domain's own A/AAAA (RFC 5321 §5.1)
  null_mx,      // "MX 0 ." — accepts no mail (RFC 7505)
  nxdomain,     // the domain does not exist
  no_mx_hosts,  // MX records exist but none resolves
  dns_error,    // SERVFAIL / timeout on the MX lookup
  excluded,     // on the --exclude list: not even resolved
};
std::string_view to_string(DomainKind);

// One MX host of a domain and what its name resolved to.
struct MxHost {
  std::string name;
  int preference = 0;
  std::vector<std::string> addresses;
  std::string error;  // e.g. "mx2.example.jp: no such host" (NXDOMAIN/no A/AAAA/SERVFAIL)
  std::optional<bool> mta_sts_match;  // name matches an mx: pattern; null without a valid policy
};

// The domain's MTA-STS record, policy and verdict.
struct MtaStsFacts {
  std::string txt;         // the v=STSv1 record, as published
  std::string id;          // its id=
  std::string policy_url;  // fetched from here
  std::optional<MtaStsMode> mode;  // set when a valid policy was fetched
  std::vector<std::string> mx_patterns;
  std::optional<std::int64_t> max_age;
  std::string error;                  // why there is no usable policy (TXT, fetch, parse)
  std::vector<std::string> problems;  // every policy problem, "line N: …"
  MtaStsVerdict verdict = MtaStsVerdict::no_policy;
};

struct TlsRptFacts {
  TlsRptState state = TlsRptState::absent;
  std::string txt;
  std::vector<std::string> rua;  // mailto: and https: report URIs
  std::string error;
};

struct Finding {
  enum class Severity { info, warning, critical };
  Severity severity = Severity::warning;
  std::string subject;  // MX/IP the finding is about, or the domain
  std::string what;     // what is wrong
  std::string fix;      // what the admin should do, in their own words
};
std::string_view to_string(Finding::Severity);

struct DomainResult {
  std::string input;   // as the user wrote it (may be a U-label)
  std::string domain;  // A-label
  DomainKind kind = DomainKind::mx;
  std::string error;   // DNS detail for nxdomain/dns_error
  bool dnssec_mx = false;
  std::vector<MxHost> mx_hosts;  // by preference
  std::vector<ProbeResult> probes;
  std::optional<GmailLock> gmail_lock;
  std::vector<Finding> findings;
  MtaStsFacts mta_sts;
  TlsRptFacts tls_rpt;
};

}  // namespace mxtls
