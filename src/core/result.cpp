// Names of phases, statuses and verdicts as they appear in reports and JSON/CSV output.
// The spelling here is part of the schema (data/schema.md): change it only with schema_version.
#include "core/result.hpp"

#include <array>
#include <utility>

namespace mxtls {
namespace {

constexpr std::array phase_names{
    std::pair{Phase::resolve_mx, "resolve_mx"},
    std::pair{Phase::resolve_addr, "resolve_addr"},
    std::pair{Phase::resolve_tlsa, "resolve_tlsa"},
    std::pair{Phase::connect, "connect"},
    std::pair{Phase::greeting, "greeting"},
    std::pair{Phase::ehlo, "ehlo"},
    std::pair{Phase::starttls, "starttls"},
    std::pair{Phase::handshake, "handshake"},
    std::pair{Phase::verify, "verify"},
    std::pair{Phase::ehlo_after_tls, "ehlo_after_tls"},
    std::pair{Phase::quit, "quit"},
};

constexpr std::array status_names{
    std::pair{Status::ok, "ok"},
    std::pair{Status::not_offered, "not-offered"},
    std::pair{Status::refused, "refused"},
    std::pair{Status::timeout, "timeout"},
    std::pair{Status::closed, "closed"},
    std::pair{Status::protocol_error, "protocol-error"},
    std::pair{Status::smtp_reject, "smtp-reject"},
    std::pair{Status::tls_error, "tls-error"},
    std::pair{Status::dns_error, "dns-error"},
    std::pair{Status::internal, "internal"},
    std::pair{Status::excluded, "excluded"},
};

template <typename Table, typename Enum>
std::string_view name_of(const Table& table, Enum value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

template <typename Table>
auto value_of(const Table& table, std::string_view name)
    -> std::optional<typename Table::value_type::first_type> {
  for (const auto& [v, n] : table)
    if (name == n) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Phase p) { return name_of(phase_names, p); }
std::string_view to_string(Status s) { return name_of(status_names, s); }
std::optional<Phase> phase_from_string(std::string_view s) { return value_of(phase_names, s); }
std::optional<Status> status_from_string(std::string_view s) { return value_of(status_names, s); }

std::string_view to_string(CertVerdict v) {
  switch (v) {
    case CertVerdict::verified: return "verified";
    case CertVerdict::trusted: return "trusted";
    case CertVerdict::untrusted: return "untrusted";
    case CertVerdict::anonymous: return "anonymous";
  }
  return "?";
}

std::string_view to_string(GmailLock l) { return l == GmailLock::grey ? "grey" : "red"; }

std::string_view to_string(DaneState s) {
  switch (s) {
    case DaneState::not_applicable: return "not-applicable";
    case DaneState::no_records: return "no-records";
    case DaneState::unusable: return "unusable";
    case DaneState::matched: return "matched";
    case DaneState::failed: return "failed";
    case DaneState::lookup_error: return "lookup-error";
  }
  return "?";
}

std::string_view to_string(MtaStsMode m) {
  switch (m) {
    case MtaStsMode::enforce: return "enforce";
    case MtaStsMode::testing: return "testing";
    case MtaStsMode::none: return "none";
  }
  return "?";
}

std::string_view to_string(MtaStsVerdict v) {
  switch (v) {
    case MtaStsVerdict::no_policy: return "no-policy";
    case MtaStsVerdict::error: return "error";
    case MtaStsVerdict::none: return "none";
    case MtaStsVerdict::pass: return "pass";
    case MtaStsVerdict::fail: return "fail";
  }
  return "?";
}

std::string_view to_string(TlsRptState s) {
  switch (s) {
    case TlsRptState::absent: return "absent";
    case TlsRptState::valid: return "valid";
    case TlsRptState::invalid: return "invalid";
    case TlsRptState::dns_error: return "dns-error";
  }
  return "?";
}

std::string_view to_string(DomainKind k) {
  switch (k) {
    case DomainKind::mx: return "mx";
    case DomainKind::implicit_mx: return "implicit-mx";
    case DomainKind::null_mx: return "null-mx";
    case DomainKind::nxdomain: return "nxdomain";
    case DomainKind::no_mx_hosts: return "no-mx-hosts";
    case DomainKind::dns_error: return "dns-error";
    case DomainKind::excluded: return "excluded";
  }
  return "?";
}

std::string_view to_string(Finding::Severity s) {
  switch (s) {
    case Finding::Severity::info: return "info";
    case Finding::Severity::warning: return "warning";
    case Finding::Severity::critical: return "critical";
  }
  return "?";
}

}  // namespace mxtls
