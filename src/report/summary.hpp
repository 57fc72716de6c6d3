// The transparency-report summary of a scan: how many domains receive mail encrypted (grey
// lock), have STARTTLS on every MX, which TLS versions and certificate verdicts decide, and the
// same figures for the top MX operators. Built from a stream of domains in bounded memory, and
// the same whether fed by a live scan or by reading saved (or sharded) JSON Lines back.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mxtls::report {

// The registered domain of a host name by the Public Suffix List: mx1.mail.example.co.jp →
// example.co.jp; names under unlisted TLDs (.test) count the TLD as the suffix.
std::string registered_domain(std::string_view host);

// What the summary needs of one domain.
struct DomainDigest {
  std::string domain;
  DomainKind kind = DomainKind::mx;
  std::optional<GmailLock> lock;
  bool starttls_every_mx = false;      // every MX host that answered EHLO offered STARTTLS
  std::string tls_version;             // of the connection that decides the lock
  std::optional<CertVerdict> verdict;  // likewise
  std::string mx_operator;             // registered domain of that connection's MX host
  // Policy adoption (DANE, MTA-STS, TLS-RPT), as published by the domain.
  bool dnssec_mx = false;
  std::string dane;  // "matched", "failed", "lookup-error", "unusable" (the worst of its MX), or "" (no TLSA)
  std::optional<MtaStsMode> mta_sts_mode;
  MtaStsVerdict mta_sts_verdict = MtaStsVerdict::no_policy;
  TlsRptState tls_rpt = TlsRptState::absent;
};
DomainDigest digest_of(const DomainResult& d);  // d must be judged (gmail_lock set)

struct SummaryOptions {
  bool color = false;
  std::size_t top_operators = 10;
};

class SummaryBuilder {
 public:
  // Operators tracked individually; later new ones are counted under "(other operators)".
  static constexpr std::size_t max_operators = 200'000;

  void add(const DomainDigest& digest);
  void add(const DomainResult& d) { add(digest_of(d)); }

  std::uint64_t domains() const { return domains_; }
  std::uint64_t grey() const { return all_.grey; }
  std::uint64_t red() const { return all_.red; }

  void write_text(std::ostream& out, const SummaryOptions& options = {}) const;

 private:
  void write_policies(std::ostream& out, const std::function<std::string(const std::string&)>& bold) const;

  struct Figures {
    std::uint64_t domains = 0;
    std::uint64_t grey = 0, red = 0;
    std::uint64_t starttls_every_mx = 0;
    std::uint64_t verified = 0;
  };
  std::uint64_t domains_ = 0;
  Figures all_;
  std::map<std::string, std::uint64_t> kinds_;     // no-mail kinds: null-mx, nxdomain, …
  std::map<std::string, std::uint64_t> versions_;  // among grey-lock domains
  std::map<std::string, std::uint64_t> verdicts_;  // likewise
  // Policy adoption among domains that can receive mail.
  std::uint64_t dnssec_mx_ = 0;
  std::map<std::string, std::uint64_t> dane_;         // by DomainDigest::dane
  std::map<std::string, std::uint64_t> sts_modes_;    // valid policies by mode
  std::map<std::string, std::uint64_t> sts_verdicts_;  // every published TXT record by verdict
  std::map<std::string, std::uint64_t> tls_rpt_;      // published records: valid, invalid, dns-error
  std::unordered_map<std::string, Figures> operators_;
  Figures other_operators_;
};

}  // namespace mxtls::report
