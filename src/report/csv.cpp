// CSV writer: RFC 4180 quoting, the documented column order, hostile text made harmless.
// Column order is part of the schema (data/schema.md); append new columns at the end only.
#include "report/csv.hpp"

#include "report/jsonl.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"

#include <ostream>

namespace mxtls::report {

namespace {

std::string join_space(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ' ';
    out += item;
  }
  return out;
}

std::string bool_text(bool b) { return b ? "true" : "false"; }

std::string int_or_empty(long long v) { return v != 0 ? std::to_string(v) : std::string(); }

}  // namespace

const std::vector<std::string_view>& csv_columns() {
  static const std::vector<std::string_view> columns = [] {
    std::vector<std::string_view> c = jsonl_fixed_keys();
    // The scalar extras of the JSON record (arrays of keywords and the phase_ms object stay
    // JSON-only: keywords contain spaces, so joining them would be ambiguous).
    for (std::string_view extra :
         {"started_at", "greeting_code", "used_helo", "starttls_code", "starttls_reply",
          "injected_after_starttls", "cipher_bits", "cert_not_before", "cert_key_type",
          "cert_key_bits", "cert_signature_algorithm", "cert_chain_length", "cert_name_match",
          "input", "dnssec_mx", "dnssec_addr", "dane", "dane_match", "mta_sts_mode", "mta_sts_mx_match",
          "mta_sts_verdict", "tls_rpt", "dane_detail", "dane_record", "dane_depth", "attempts"})
      c.push_back(extra);
    return c;
  }();
  return columns;
}

std::string csv_field(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  bool needs_quotes = false;
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode_utf8(text, i);
    const char32_t cp = d.code_point;
    if (!d.valid || (cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\n') ||
        (cp >= 0x7F && cp <= 0x9F)) {
      append_utf8(clean, replacement_character);
    } else {
      if (cp == ',' || cp == '"' || cp == '\r' || cp == '\n') needs_quotes = true;
      clean.append(text.substr(i, d.length));
    }
    i += d.length;
  }
  if (!needs_quotes) return clean;
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> csv_values(const DomainResult& d, const ProbeResult& p) {
  const TlsFacts* tls = p.tls ? &*p.tls : nullptr;
  const CertFacts* cert = tls && tls->cert ? &*tls->cert : nullptr;
  std::vector<std::string> v;
  v.reserve(csv_columns().size());
  // The 25 fixed columns (same meaning and nullness as the JSON keys).
  v.push_back(std::to_string(schema_version));
  v.push_back(d.domain.empty() ? p.domain : d.domain);
  v.push_back(p.mx);
  v.push_back(std::to_string(p.preference));
  v.push_back(p.ip);
  v.push_back(std::to_string(p.port));
  v.emplace_back(to_string(p.status));
  v.push_back(p.failed_phase ? std::string(to_string(*p.failed_phase)) : "");
  v.push_back(p.error);
  v.push_back(p.banner);
  v.push_back(p.starttls ? bool_text(*p.starttls) : "");
  v.push_back(tls ? tls->version : "");
  v.push_back(tls ? tls->cipher : "");
  v.push_back(tls ? tls->group : "");
  v.push_back(tls ? std::string(to_string(tls->verdict)) : "");
  v.push_back(tls ? tls->verify_error : "");
  v.push_back(cert ? cert->subject : "");
  v.push_back(cert ? cert->issuer : "");
  v.push_back(cert ? join_space(cert->sans) : "");
  v.push_back(cert ? cert->not_after : "");
  v.push_back(cert ? cert->sha256 : "");
  v.push_back(cert ? cert->spki_sha256 : "");
  v.push_back(join_space(p.auth_before_tls));
  v.push_back(d.gmail_lock ? std::string(to_string(*d.gmail_lock)) : "");
  v.push_back(std::to_string(p.elapsed_ms));
  // Extras.
  v.push_back(p.started_at);
  v.push_back(int_or_empty(p.greeting_code));
  v.push_back(bool_text(p.used_helo));
  v.push_back(int_or_empty(p.starttls_code));
  v.push_back(p.starttls_reply);
  v.push_back(p.injected_after_starttls);
  v.push_back(tls ? int_or_empty(tls->cipher_bits) : "");
  v.push_back(cert ? cert->not_before : "");
  v.push_back(cert ? cert->key_type : "");
  v.push_back(cert ? int_or_empty(cert->key_bits) : "");
  v.push_back(cert ? cert->signature_algorithm : "");
  v.push_back(tls ? std::to_string(cert ? cert->chain_length : 0) : "");
  v.push_back(cert ? bool_text(tls->name_matched) : "");
  v.push_back(d.input);
  const PolicyFields pf = policy_fields(d, p);
  auto opt_bool = [](std::optional<bool> b) { return b ? bool_text(*b) : std::string(); };
  v.push_back(bool_text(pf.dnssec_mx));
  v.push_back(opt_bool(pf.dnssec_addr));
  v.push_back(std::string(pf.dane.value_or("")));
  v.push_back(opt_bool(pf.dane_match));
  v.push_back(std::string(pf.mta_sts_mode.value_or("")));
  v.push_back(opt_bool(pf.mta_sts_mx_match));
  v.push_back(std::string(pf.mta_sts_verdict));
  v.push_back(std::string(pf.tls_rpt));
  v.push_back(p.dane.detail);
  v.push_back(p.dane.matched_record);
  v.push_back(p.dane.matched_depth >= 0 ? std::to_string(p.dane.matched_depth) : std::string());
  v.push_back(std::to_string(p.attempts));
  return v;
}

void write_csv_header(std::ostream& out) {
  bool first = true;
  for (std::string_view name : csv_columns()) {
    if (!first) out << ',';
    first = false;
    out << name;
  }
  out << "\r\n";
}

void write_csv_rows(std::ostream& out, const DomainResult& d) {
  for (std::size_t i : delivery_order(d)) {
    bool first = true;
    for (const std::string& value : csv_values(d, d.probes[i])) {
      if (!first) out << ',';
      first = false;
      out << csv_field(value);
    }
    out << "\r\n";
  }
}

}  // namespace mxtls::report
