// JSON Lines read-back: see jsonl_read.hpp. Every line is hostile until parsed: lines are
// bounded, and a line that does not parse is reported with file:line and skipped.
#include "report/jsonl_read.hpp"

#include "core/bounded_line.hpp"
#include "report/json_read.hpp"

namespace mxtls::report {
namespace {

// The enum value whose schema name is `text`, among `all`.
template <typename Enum>
std::optional<Enum> from_name(std::string_view text, std::initializer_list<Enum> all) {
  for (const Enum value : all)
    if (to_string(value) == text) return value;
  return std::nullopt;
}

std::optional<DomainKind> kind_from_string(std::string_view text) {
  return from_name(text, {DomainKind::mx, DomainKind::implicit_mx, DomainKind::null_mx, DomainKind::nxdomain,
                          DomainKind::no_mx_hosts, DomainKind::dns_error, DomainKind::excluded});
}

std::optional<CertVerdict> verdict_from_string(std::string_view text) {
  return from_name(text, {CertVerdict::verified, CertVerdict::trusted, CertVerdict::untrusted, CertVerdict::anonymous});
}

}  // namespace

ProbeResult probe_from_record(const JsonValue& r) {
  ProbeResult p;
  p.domain = r.string_at("domain").value_or("");
  p.mx = r.string_at("mx").value_or("");
  p.preference = static_cast<int>(r.integer_at("preference").value_or(0));
  p.ip = r.string_at("ip").value_or("");
  p.port = static_cast<std::uint16_t>(r.integer_at("port").value_or(25));
  if (const auto status = r.string_at("status")) p.status = status_from_string(*status).value_or(Status::internal);
  p.dnssec_addr = r.bool_at("dnssec_addr");
  if (const auto dane = r.string_at("dane"))
    p.dane.state = from_name(*dane, {DaneState::not_applicable, DaneState::no_records, DaneState::unusable, DaneState::matched,
                                     DaneState::failed, DaneState::lookup_error})
                       .value_or(DaneState::not_applicable);
  if (const auto phase = r.string_at("failed_phase")) p.failed_phase = phase_from_string(*phase);
  p.error = r.string_at("error").value_or("");
  p.banner = r.string_at("banner").value_or("");
  p.greeting_code = static_cast<int>(r.integer_at("greeting_code").value_or(0));
  p.starttls = r.bool_at("starttls");
  p.starttls_code = static_cast<int>(r.integer_at("starttls_code").value_or(0));
  p.elapsed_ms = r.integer_at("elapsed_ms").value_or(0);
  p.attempts = static_cast<int>(r.integer_at("attempts").value_or(1));
  if (const auto version = r.string_at("tls_version")) {
    TlsFacts tls;
    tls.version = *version;
    tls.cipher = r.string_at("cipher").value_or("");
    tls.group = r.string_at("group").value_or("");
    if (const auto verdict = r.string_at("cert_verdict")) tls.verdict = verdict_from_string(*verdict).value_or(CertVerdict::anonymous);
    tls.verify_error = r.string_at("cert_error").value_or("");
    if (const auto subject = r.string_at("cert_subject")) {
      CertFacts cert;
      cert.subject = *subject;
      cert.issuer = r.string_at("cert_issuer").value_or("");
      cert.not_after = r.string_at("cert_not_after").value_or("");
      cert.sha256 = r.string_at("cert_sha256").value_or("");
      cert.spki_sha256 = r.string_at("spki_sha256").value_or("");
      tls.cert = std::move(cert);
    }
    p.tls = std::move(tls);
  }
  return p;
}

JsonlDomainReader::JsonlDomainReader(std::istream& in, std::string source_name)
    : in_(in), source_(std::move(source_name)) {}

std::optional<DomainResult> JsonlDomainReader::next() {
  std::string line;
  bool too_long = false;
  while (read_bounded_line(in_.rdbuf(), line, max_line_bytes, too_long)) {
    ++line_;
    const std::string where = source_ + ":" + std::to_string(line_);
    if (too_long) {
      problems_.push_back(where + ": line longer than " + std::to_string(max_line_bytes) + " bytes, skipped");
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string error;
    const auto record = parse_json(line, &error);
    if (!record || record->type != JsonValue::Type::object) {
      problems_.push_back(where + ": not a JSON object (" + (record ? "another JSON value" : error) + "), skipped");
      continue;
    }
    const std::string kind = record->string_at("record").value_or("probe");
    const std::string domain = record->string_at("domain").value_or("");
    if (domain.empty()) {
      problems_.push_back(where + ": record without a domain, skipped");
      continue;
    }
    if (kind == "probe") {
      if (!pending_.empty() && pending_.front().domain != domain) {
        problems_.push_back(where + ": probe records of " + pending_.front().domain +
                            " without their domain record (an interrupted scan?), ignored");
        pending_.clear();
      }
      pending_.push_back(probe_from_record(*record));
      continue;
    }
    if (kind != "domain") {
      problems_.push_back(where + ": unknown record type '" + kind + "', skipped");
      continue;
    }
    DomainResult d;
    d.domain = domain;
    d.input = record->string_at("input").value_or("");
    if (const auto k = record->string_at("kind")) d.kind = kind_from_string(*k).value_or(DomainKind::mx);
    d.error = record->string_at("error").value_or("");
    d.dnssec_mx = record->bool_at("dnssec_mx").value_or(false);
    if (const auto verdict = record->string_at("mta_sts_verdict"))
      d.mta_sts.verdict = from_name(*verdict, {MtaStsVerdict::no_policy, MtaStsVerdict::error, MtaStsVerdict::none,
                                               MtaStsVerdict::pass, MtaStsVerdict::fail})
                              .value_or(MtaStsVerdict::no_policy);
    if (const auto mode = record->string_at("mta_sts_mode"))
      d.mta_sts.mode = from_name(*mode, {MtaStsMode::enforce, MtaStsMode::testing, MtaStsMode::none});
    if (const auto rpt = record->string_at("tls_rpt"))
      d.tls_rpt.state = from_name(*rpt, {TlsRptState::absent, TlsRptState::valid, TlsRptState::invalid, TlsRptState::dns_error})
                            .value_or(TlsRptState::absent);
    if (const auto lock = record->string_at("gmail_lock")) {
      if (*lock == "grey") d.gmail_lock = GmailLock::grey;
      else if (*lock == "red") d.gmail_lock = GmailLock::red;
    }
    if (const JsonValue* mx = record->find("mx"); mx != nullptr && mx->type == JsonValue::Type::array) {
      for (const auto& host : mx->items) {
        MxHost h;
        h.name = host.string_at("name").value_or("");
        h.preference = static_cast<int>(host.integer_at("preference").value_or(0));
        h.error = host.string_at("error").value_or("");
        if (const JsonValue* addresses = host.find("addresses"); addresses && addresses->type == JsonValue::Type::array)
          for (const auto& a : addresses->items)
            if (a.type == JsonValue::Type::string) h.addresses.push_back(a.text);
        d.mx_hosts.push_back(std::move(h));
      }
    }
    if (!pending_.empty() && pending_.front().domain == domain) d.probes = std::move(pending_);
    else if (!pending_.empty())
      problems_.push_back(where + ": probe records of " + pending_.front().domain + " without their domain record, ignored");
    pending_.clear();
    return d;
  }
  if (!pending_.empty()) {
    problems_.push_back(source_ + ": probe records of " + pending_.front().domain +
                        " at the end without their domain record (an interrupted scan?), ignored");
    pending_.clear();
  }
  return std::nullopt;
}

}  // namespace mxtls::report
