// JSON Lines writer: probe records with the fixed key order of DESIGN.md §5, domain summaries.
// Every string is escaped here, so hostile banners or certificate names cannot break a line.
#include "report/jsonl.hpp"

#include "report/json_object.hpp"

#include "report/utf8.hpp"
#include "report/verdict.hpp"

#include <cstdio>
#include <optional>
#include <algorithm>
#include <ostream>
#include <utility>

namespace mxtls::report {

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const auto d = decode_utf8(text, i);
    const char32_t cp = d.valid ? d.code_point : replacement_character;
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Controls are escaped even where JSON would allow them raw (DEL, C1) so a record
        // printed to a terminal cannot carry escape sequences; U+2028/9 break JavaScript.
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          out += buf;
        } else if (d.valid) {
          out.append(text.substr(i, d.length));
        } else {
          append_utf8(out, replacement_character);
        }
    }
    i += d.length;
  }
  out += '"';
}

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

namespace {

// {"connect":3,"greeting":12,...}: a phase that ran twice is summed, first-seen order kept.
std::string phase_ms_json(const std::vector<PhaseTime>& times) {
  std::vector<std::pair<Phase, std::int64_t>> merged;
  for (const auto& t : times) {
    bool found = false;
    for (auto& [phase, ms] : merged)
      if (phase == t.phase) {
        ms += t.ms;
        found = true;
      }
    if (!found) merged.emplace_back(t.phase, t.ms);
  }
  std::string out;
  JsonObject o(out);
  for (const auto& [phase, ms] : merged) o.integer(to_string(phase), ms);
  o.close();
  return out;
}

}  // namespace

const std::vector<std::string_view>& jsonl_fixed_keys() {
  static const std::vector<std::string_view> keys{
      "schema_version", "domain",       "mx",           "preference",     "ip",
      "port",           "status",       "failed_phase", "error",          "banner",
      "starttls",       "tls_version",  "cipher",       "group",          "cert_verdict",
      "cert_error",     "cert_subject", "cert_issuer",  "cert_sans",      "cert_not_after",
      "cert_sha256",    "spki_sha256",  "auth_before_tls", "gmail_lock",  "elapsed_ms"};
  return keys;
}

std::string probe_record_json(const DomainResult& d, const ProbeResult& p) {
  const TlsFacts* tls = p.tls ? &*p.tls : nullptr;
  const CertFacts* cert = tls && tls->cert ? &*tls->cert : nullptr;
  const bool ehlo_answered = p.starttls.has_value();

  std::string out;
  JsonObject o(out);
  // The 25 fixed keys, in the order of DESIGN.md §5: other tools rely on it.
  o.integer("schema_version", schema_version);
  // The domain this record is filed under: a probe shared by several domains is copied.
  o.string("domain", d.domain.empty() ? p.domain : d.domain);
  o.nonempty_or_null("mx", p.mx);  // null: the MX lookup itself failed
  o.integer("preference", p.preference);
  o.nonempty_or_null("ip", p.ip);  // null: the MX host did not resolve
  o.integer("port", p.port);
  o.string("status", to_string(p.status));
  o.string_or_null("failed_phase", p.failed_phase ? to_string(*p.failed_phase) : "",
                   p.failed_phase.has_value());
  o.nonempty_or_null("error", p.error);
  o.string_or_null("banner", p.banner, p.greeting_code != 0 || !p.banner.empty());
  o.optional_bool("starttls", p.starttls);
  o.string_or_null("tls_version", tls ? tls->version : "", tls != nullptr);
  o.string_or_null("cipher", tls ? tls->cipher : "", tls != nullptr);
  o.nonempty_or_null("group", tls ? tls->group : "");
  o.string_or_null("cert_verdict", tls ? to_string(tls->verdict) : "", tls != nullptr);
  o.nonempty_or_null("cert_error", tls ? tls->verify_error : "");
  o.string_or_null("cert_subject", cert ? cert->subject : "", cert != nullptr);
  o.string_or_null("cert_issuer", cert ? cert->issuer : "", cert != nullptr);
  o.strings_or_null("cert_sans", cert ? &cert->sans : nullptr);
  o.nonempty_or_null("cert_not_after", cert ? cert->not_after : "");
  o.nonempty_or_null("cert_sha256", cert ? cert->sha256 : "");
  o.nonempty_or_null("spki_sha256", cert ? cert->spki_sha256 : "");
  o.strings_or_null("auth_before_tls", ehlo_answered ? &p.auth_before_tls : nullptr);
  o.string_or_null("gmail_lock", d.gmail_lock ? to_string(*d.gmail_lock) : "",
                   d.gmail_lock.has_value());
  o.integer("elapsed_ms", p.elapsed_ms);

  // Further fields; consumers must not rely on their position.
  o.string("record", "probe");
  o.nonempty_or_null("started_at", p.started_at);
  if (p.greeting_code != 0) o.integer("greeting_code", p.greeting_code); else o.null("greeting_code");
  o.boolean("used_helo", p.used_helo);
  o.strings_or_null("ehlo_keywords", ehlo_answered ? &p.ehlo_keywords : nullptr);
  if (p.starttls_code != 0) o.integer("starttls_code", p.starttls_code); else o.null("starttls_code");
  o.nonempty_or_null("starttls_reply", p.starttls_reply);
  o.nonempty_or_null("injected_after_starttls", p.injected_after_starttls);
  if (tls && tls->cipher_bits > 0) o.integer("cipher_bits", tls->cipher_bits); else o.null("cipher_bits");
  o.nonempty_or_null("cert_not_before", cert ? cert->not_before : "");
  o.nonempty_or_null("cert_key_type", cert ? cert->key_type : "");
  if (cert && cert->key_bits > 0) o.integer("cert_key_bits", cert->key_bits); else o.null("cert_key_bits");
  o.nonempty_or_null("cert_signature_algorithm", cert ? cert->signature_algorithm : "");
  if (tls) o.integer("cert_chain_length", cert ? cert->chain_length : 0); else o.null("cert_chain_length");
  if (cert) o.boolean("cert_name_match", tls->name_matched); else o.null("cert_name_match");
  o.strings_or_null("ehlo_after_tls", tls ? &p.ehlo_after_tls : nullptr);
  o.raw("phase_ms", phase_ms_json(p.phase_ms));
  o.nonempty_or_null("input", d.input);
  // Policy fields (schema_version 1 additions, data/schema.md), in CSV column order.
  const PolicyFields pf = policy_fields(d, p);
  o.boolean("dnssec_mx", pf.dnssec_mx);
  o.optional_bool("dnssec_addr", pf.dnssec_addr);
  o.string_or_null("dane", pf.dane.value_or(""), pf.dane.has_value());
  o.optional_bool("dane_match", pf.dane_match);
  o.string_or_null("mta_sts_mode", pf.mta_sts_mode.value_or(""), pf.mta_sts_mode.has_value());
  o.optional_bool("mta_sts_mx_match", pf.mta_sts_mx_match);
  o.string("mta_sts_verdict", pf.mta_sts_verdict);
  o.string("tls_rpt", pf.tls_rpt);
  o.nonempty_or_null("dane_detail", p.dane.detail);
  o.nonempty_or_null("dane_record", p.dane.matched_record);
  if (p.dane.matched_depth >= 0) o.integer("dane_depth", p.dane.matched_depth); else o.null("dane_depth");
  o.strings_or_null("dane_tlsa", p.dnssec_addr ? &p.dane.tlsa : nullptr);
  // Bulk scans retry a server that answered 4xx; 0 attempts: never contacted (excluded).
  o.integer("attempts", p.attempts);
  o.strings("earlier_attempts", p.earlier_attempts);
  o.close();
  return out;
}

std::string domain_record_json(const DomainResult& d) {
  std::string mx_list = "[";
  for (std::size_t i = 0; i < d.mx_hosts.size(); ++i) {
    const MxHost& h = d.mx_hosts[i];
    if (i) mx_list += ',';
    JsonObject m(mx_list);
    m.string("name", h.name);
    m.integer("preference", h.preference);
    m.strings("addresses", h.addresses);
    m.nonempty_or_null("error", h.error);
    m.optional_bool("mta_sts_match", h.mta_sts_match);
    m.close();
  }
  mx_list += ']';

  std::string findings = "[";
  for (std::size_t i = 0; i < d.findings.size(); ++i) {
    const Finding& f = d.findings[i];
    if (i) findings += ',';
    JsonObject fo(findings);
    fo.string("severity", to_string(f.severity));
    fo.string("subject", f.subject);
    fo.string("what", f.what);
    fo.string("fix", f.fix);
    fo.close();
  }
  findings += ']';

  std::string out;
  JsonObject o(out);
  o.integer("schema_version", schema_version);
  o.string("record", "domain");
  o.string("domain", d.domain);
  o.nonempty_or_null("input", d.input);
  o.string("kind", to_string(d.kind));
  o.nonempty_or_null("error", d.error);
  o.boolean("dnssec_mx", d.dnssec_mx);
  o.string_or_null("gmail_lock", d.gmail_lock ? to_string(*d.gmail_lock) : "",
                   d.gmail_lock.has_value());
  o.raw("mx", mx_list);
  o.integer("probes", static_cast<std::int64_t>(d.probes.size()));
  o.raw("findings", findings);
  // Policies: the per-domain summary of the policy fields.
  const MtaStsFacts& m = d.mta_sts;
  o.string_or_null("mta_sts_mode", m.mode ? to_string(*m.mode) : "", m.mode.has_value());
  if (m.mode && *m.mode != MtaStsMode::none) {
    bool all = !d.mx_hosts.empty();
    for (const auto& h : d.mx_hosts) all = all && h.mta_sts_match.value_or(false);
    o.boolean("mta_sts_mx_match", all);
  } else {
    o.null("mta_sts_mx_match");
  }
  o.string("mta_sts_verdict", to_string(m.verdict));
  o.nonempty_or_null("mta_sts_txt", m.txt);
  o.nonempty_or_null("mta_sts_id", m.id);
  o.nonempty_or_null("mta_sts_url", m.policy_url);
  o.strings_or_null("mta_sts_mx", m.mode ? &m.mx_patterns : nullptr);
  if (m.max_age) o.integer("mta_sts_max_age", *m.max_age); else o.null("mta_sts_max_age");
  o.nonempty_or_null("mta_sts_error", m.error);
  o.strings("mta_sts_problems", m.problems);
  o.string("tls_rpt", to_string(d.tls_rpt.state));
  o.nonempty_or_null("tls_rpt_txt", d.tls_rpt.txt);
  o.strings("tls_rpt_rua", d.tls_rpt.rua);
  o.nonempty_or_null("tls_rpt_error", d.tls_rpt.error);
  // DANE over the domain's probes: the states seen, without repeats, in delivery order.
  std::vector<std::string> dane_states;
  for (std::size_t i : delivery_order(d)) {
    const ProbeResult& p = d.probes[i];
    if (!p.dnssec_addr) continue;
    const std::string state(to_string(p.dane.state));
    if (std::find(dane_states.begin(), dane_states.end(), state) == dane_states.end()) dane_states.push_back(state);
  }
  o.strings("dane", dane_states);
  o.close();
  return out;
}

void write_jsonl(std::ostream& out, const DomainResult& d) {
  for (std::size_t i : delivery_order(d)) out << probe_record_json(d, d.probes[i]) << '\n';
  out << domain_record_json(d) << '\n';
}

}  // namespace mxtls::report
