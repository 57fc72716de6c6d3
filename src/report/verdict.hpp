// Domain verdicts from probe results: the lock Gmail would show and the findings with fixes
// in the admin's words (DESIGN.md §4). Pure functions of the result model, no I/O.
#pragma once

#include "core/result.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::report {

// Sets d.gmail_lock and replaces d.findings. Call once all probes of the domain are in.
void judge_domain(DomainResult& d);

// true when a warning or critical finding is present (`mxtls check` then exits 1).
bool has_problems(const DomainResult& d);

// The lock alone: walk probes in delivery order; the first whose SMTP greeting was 2xx decides
// (grey if the TLS handshake completed, whatever the certificate; red otherwise, because an
// MTA at `may` delivers in cleartext when STARTTLS is missing or broken). nullopt when no MX
// takes mail (null MX, NXDOMAIN, nothing reachable).
std::optional<GmailLock> gmail_lock_for(const DomainResult& d);

// Indices into d.probes ordered as a sender tries them: MX preference, then MX name, then
// the addresses in the order given (stable).
std::vector<std::size_t> delivery_order(const DomainResult& d);

// The server answered its greeting with 2xx (a sender would go on to deliver there).
bool greeting_accepted(const ProbeResult& p);

// "mx.example.jp[192.0.2.1]" as Postfix logs it; ":port" appended when it is not 25.
std::string probe_subject(const ProbeResult& p);

// Postfix's words for the certificate verdict: "Verified", "Trusted", "Untrusted", "Anonymous".
std::string_view postfix_word(CertVerdict v);

// What is wrong on one probe, before it becomes a Finding (also used for short table notes).
enum class Issue {
  starttls_not_offered,
  starttls_broken,       // advertised, then 4xx/5xx to STARTTLS or a failed handshake
  legacy_protocol,       // SSLv3, TLSv1, TLSv1.1
  weak_cipher,           // RC4, 3DES/DES, NULL, EXPORT, < 128 bits
  cert_expired,
  cert_not_yet_valid,
  cert_self_signed,
  cert_unknown_issuer,   // missing intermediate or a private CA
  cert_untrusted,        // any other chain failure
  cert_wrong_name,
  cert_anonymous,        // TLS without a certificate
  auth_before_tls,
  injected_after_starttls,
  unreachable,           // refused, timeout, closed or garbage before a greeting
  greeting_rejected,     // 4xx/5xx greeting
  probe_failed,          // stopped later (EHLO, after TLS, …)
  scanner_error,         // Status::internal: our failure, not the server's
};
std::vector<Issue> probe_issues(const ProbeResult& p);
std::string_view issue_label(Issue);  // short note for tables: "no STARTTLS", "TLSv1/1.1", …

// The eight policy fields of one probe row (JSON Lines and CSV share them, data/schema.md):
// dnssec_mx, mta_sts_mode, mta_sts_verdict and tls_rpt belong to the domain and repeat on
// every row; dnssec_addr, dane and dane_match to the probe; mta_sts_mx_match to the MX.
struct PolicyFields {
  bool dnssec_mx = false;
  std::optional<bool> dnssec_addr;          // null: the MX host's addresses were not looked at
  std::optional<std::string_view> dane;     // null with dnssec_addr
  std::optional<bool> dane_match;           // true matched, false failed, else null
  std::optional<std::string_view> mta_sts_mode;  // null without a valid policy
  std::optional<bool> mta_sts_mx_match;     // null without a valid policy
  std::string_view mta_sts_verdict;
  std::string_view tls_rpt;
};
PolicyFields policy_fields(const DomainResult& d, const ProbeResult& p);

// How mail would fare under one sender policy (the side-by-side table of `check`).
struct PolicyOutcome {
  std::string policy;    // "opportunistic", "verify", "MTA-STS", "DANE"
  bool applies = true;   // false: not published (MTA-STS, DANE); the sender falls back to opportunistic
  bool delivered = false;      // to some MX
  bool encrypted = false;      // over TLS
  bool authenticated = false;  // the server's identity checked
  bool every_mx = false;       // the same holds for every reachable MX
  std::string note;
};
std::vector<PolicyOutcome> side_by_side(const DomainResult& d);

// OpenSSL cipher names that are weak (RC4, DES/3DES, NULL, EXPORT), or fewer than 128 bits.
bool is_weak_cipher(std::string_view openssl_name, int bits);
bool is_legacy_protocol(std::string_view openssl_version);

}  // namespace mxtls::report
