// Human-readable reports for `mxtls check` and the per-domain lock table.
// Every string that came from the network goes through terminal_safe() before it is printed.
#include "report/text.hpp"

#include "core/text.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"

#include <algorithm>
#include <array>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

namespace mxtls::report {

namespace {

// SGR codes used in reports.
constexpr std::string_view sgr_bold = "1";
constexpr std::string_view sgr_red = "1;31";
constexpr std::string_view sgr_green = "32";
constexpr std::string_view sgr_yellow = "33";
constexpr std::string_view sgr_cyan = "36";
constexpr std::string_view sgr_grey_lock = "1;37;100";  // bold white on grey: the grey lock

class Painter {
 public:
  explicit Painter(bool color) : color_(color) {}
  std::string operator()(std::string_view sgr, std::string_view text) const {
    if (!color_ || text.empty()) return std::string(text);
    return "\x1b[" + std::string(sgr) + "m" + std::string(text) + "\x1b[0m";
  }

 private:
  bool color_;
};

std::string safe(std::string_view s, std::size_t max_bytes = 512) { return terminal_safe(s, max_bytes); }

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The input as the user wrote it, when it says more than the A-label (a U-label).
std::string input_if_different(const DomainResult& d) {
  std::string in = ascii_lower(d.input);
  if (!in.empty() && in.back() == '.') in.pop_back();
  if (d.input.empty() || in == d.domain) return {};
  return d.input;
}

std::int64_t phase_ms(const ProbeResult& p, Phase phase, bool& known) {
  std::int64_t total = 0;
  known = false;
  for (const auto& t : p.phase_ms)
    if (t.phase == phase) {
      total += t.ms;
      known = true;
    }
  return total;
}

std::string lock_word(const std::optional<GmailLock>& lock) {
  return lock ? std::string(to_string(*lock)) : std::string("—");
}

std::string paint_lock(const Painter& paint, const std::optional<GmailLock>& lock, std::string text) {
  if (!lock) return text;
  return paint(*lock == GmailLock::grey ? sgr_grey_lock : sgr_red, text);
}

std::string_view severity_sgr(Finding::Severity s) {
  switch (s) {
    case Finding::Severity::critical: return sgr_red;
    case Finding::Severity::warning: return sgr_yellow;
    case Finding::Severity::info: return sgr_cyan;
  }
  return sgr_bold;
}

void write_lock(std::ostream& out, const DomainResult& d, const Painter& paint) {
  out << "  Gmail lock: ";
  if (d.gmail_lock == GmailLock::grey) {
    out << paint_lock(paint, d.gmail_lock, " grey ") << "  mail to this domain travels over TLS";
  } else if (d.gmail_lock == GmailLock::red) {
    out << paint_lock(paint, d.gmail_lock, " RED ") << "  mail to this domain travels in cleartext";
  } else {
    out << "—  no mail can be delivered: ";
    switch (d.kind) {
      case DomainKind::null_mx: out << "null MX, the domain accepts no mail"; break;
      case DomainKind::nxdomain: out << "the domain does not exist"; break;
      case DomainKind::dns_error: out << "the MX lookup failed"; break;
      case DomainKind::no_mx_hosts: out << "no MX host has an address"; break;
      case DomainKind::excluded: out << "excluded from the scan"; break;
      default: out << "no MX host answered"; break;
    }
  }
  // Which address decided: the first one a sender would deliver to.
  if (d.gmail_lock) {
    for (std::size_t i : delivery_order(d)) {
      if (!greeting_accepted(d.probes[i])) continue;
      out << " (decided by " << safe(probe_subject(d.probes[i])) << ")";
      break;
    }
  }
  out << '\n';
}

// connect → greeting → EHLO → STARTTLS → TLS → verify, each ok / FAILED / not offered / -.
std::string phase_chain(const ProbeResult& p, const Painter& paint) {
  struct Stage {
    Phase phase;
    std::string_view label;
  };
  static constexpr std::array<Stage, 6> stages{{{Phase::connect, "connect"},
                                                {Phase::greeting, "greeting"},
                                                {Phase::ehlo, "EHLO"},
                                                {Phase::starttls, "STARTTLS"},
                                                {Phase::handshake, "TLS"},
                                                {Phase::verify, "verify"}}};
  const bool dialogue_ok = p.status == Status::ok || p.status == Status::not_offered;
  // The probe records "not offered" as a failure of the EHLO phase; shown here, EHLO worked
  // and the chain stops at STARTTLS.
  std::optional<Phase> stop = p.failed_phase;
  if (p.starttls == false) stop = Phase::starttls;
  std::vector<std::string> parts;
  for (const auto& stage : stages) {
    std::string state;
    const bool tls_stage = stage.phase >= Phase::starttls;
    if (p.starttls == false && tls_stage) {
      state = stage.phase == Phase::starttls ? paint(sgr_red, "not offered") : "-";
    } else if (stage.phase == Phase::verify && p.tls) {
      state = std::string(postfix_word(p.tls->verdict));
    } else if (stop) {
      if (stage.phase < *stop) state = paint(sgr_green, "ok");
      else if (stage.phase == *stop) state = paint(sgr_red, "FAILED");
      else state = "-";
    } else {
      const bool reached = tls_stage ? p.tls.has_value() : dialogue_ok || p.tls.has_value();
      state = reached ? paint(sgr_green, "ok") : "-";
    }
    bool known = false;
    const std::int64_t ms = phase_ms(p, stage.phase, known);
    std::string part = std::string(stage.label) + " " + state;
    if (known) part += " " + std::to_string(ms) + " ms";
    parts.push_back(std::move(part));
  }
  return join(parts, " → ");
}

void write_certificate(std::ostream& out, const ProbeResult& p, const Painter& paint) {
  const TlsFacts& tls = *p.tls;
  std::string reason;
  switch (tls.verdict) {
    case CertVerdict::verified: reason = "chain to a trusted root, name matches " + p.mx; break;
    case CertVerdict::trusted: reason = "chain OK, but no name matches " + p.mx; break;
    case CertVerdict::untrusted:
      reason = tls.verify_error.empty() ? "chain does not verify" : tls.verify_error;
      if (tls.cert && !tls.name_matched) reason += "; no name matches " + p.mx;
      break;
    case CertVerdict::anonymous: reason = "no certificate"; break;
  }
  const std::string_view sgr = tls.verdict == CertVerdict::verified   ? sgr_green
                               : tls.verdict == CertVerdict::trusted ? sgr_yellow
                                                                      : sgr_red;
  out << "      cert      " << paint(sgr, postfix_word(tls.verdict)) << ": " << safe(reason) << '\n';
  if (!tls.cert) return;
  const CertFacts& c = *tls.cert;
  out << "                subject  " << safe(c.subject) << '\n';
  out << "                issuer   " << safe(c.issuer) << '\n';
  std::vector<std::string> sans;
  for (const auto& san : c.sans) sans.push_back(safe(san, 256));
  out << "                SANs     " << (sans.empty() ? std::string("(none)") : join(sans, " ")) << '\n';
  out << "                valid    " << safe(c.not_before) << " … " << safe(c.not_after) << '\n';
  std::string key = safe(c.key_type);
  if (c.key_bits > 0) key += " " + std::to_string(c.key_bits) + " bits";
  if (!c.signature_algorithm.empty()) key += ", " + safe(c.signature_algorithm);
  key += ", chain of " + std::to_string(c.chain_length);
  out << "                key      " << key << '\n';
  if (!c.sha256.empty()) out << "                sha256   " << safe(c.sha256) << '\n';
}

// DANE on one probe: the DNSSEC status of the address and what the TLSA records said.
void write_dane(std::ostream& out, const ProbeResult& p, const Painter& paint) {
  // Insecure addresses are the common case: say nothing unless there is a halfdane to explain.
  if (!p.dnssec_addr || (!*p.dnssec_addr && !p.dane.halfdane)) return;
  const DaneFacts& f = p.dane;
  std::string_view colour = sgr_yellow;
  if (f.state == DaneState::matched) colour = sgr_green;
  else if (f.state == DaneState::failed || f.state == DaneState::lookup_error) colour = sgr_red;
  out << "      DANE      " << paint(colour, to_string(f.state))
      << (*p.dnssec_addr ? " (address DNSSEC-secure)" : " (address not DNSSEC-secure)");
  if (!f.detail.empty()) out << ": " << safe(f.detail, 300);
  out << '\n';
  for (const auto& record : f.tlsa) out << "      TLSA      " << safe(record, 200) << '\n';
}

// The domain's policies and the table: how mail fares under each sender policy.
void write_policies(std::ostream& out, const DomainResult& d, const Painter& paint) {
  const MtaStsFacts& m = d.mta_sts;
  out << "  DNSSEC    MX records " << (d.dnssec_mx ? "signed (AD)" : "not validated") << '\n';
  out << "  MTA-STS   " << to_string(m.verdict);
  if (m.mode) out << ", mode " << to_string(*m.mode);
  if (m.max_age) out << ", max_age " << *m.max_age;
  if (!m.id.empty()) out << ", id " << safe(m.id, 40);
  if (!m.mx_patterns.empty()) {
    std::vector<std::string> mx;
    for (const auto& pattern : m.mx_patterns) mx.push_back(safe(pattern, 100));
    out << ", mx " << join(mx, " ");
  }
  if (!m.error.empty()) out << ": " << safe(m.error, 400);
  out << '\n';
  out << "  TLS-RPT   " << to_string(d.tls_rpt.state);
  if (!d.tls_rpt.rua.empty()) {
    std::vector<std::string> rua;
    for (const auto& uri : d.tls_rpt.rua) rua.push_back(safe(uri, 200));
    out << ": " << join(rua, " ");
  }
  if (!d.tls_rpt.error.empty()) out << ": " << safe(d.tls_rpt.error, 300);
  out << '\n';

  const auto rows = side_by_side(d);
  auto yes_no = [&](bool b) { return b ? paint(sgr_green, "yes") + " " : paint(sgr_red, "no") + "  "; };
  out << "  Policy          delivered encrypted authenticated every MX  note\n";
  for (const auto& row : rows) {
    out << "  " << pad_to_width(row.policy + (row.applies ? "" : "*"), 16) << yes_no(row.delivered) << "      "
        << yes_no(row.encrypted) << "      " << yes_no(row.authenticated) << "          " << yes_no(row.every_mx)
        << "     " << safe(row.note, 200) << '\n';
  }
  out << "  (* not published: a sender falls back to opportunistic TLS)\n";
}

void write_probe(std::ostream& out, const ProbeResult& p, const Painter& paint) {
  const bool good = p.status == Status::ok && p.tls;
  out << "    " << paint(sgr_bold, safe(p.ip) + ":" + std::to_string(p.port)) << "  "
      << paint(good ? sgr_green : sgr_red, to_string(p.status)) << ", " << p.elapsed_ms << " ms";
  if (!p.started_at.empty()) out << ", " << safe(p.started_at);
  out << '\n';
  out << "      phases    " << phase_chain(p, paint) << '\n';
  if (!p.error.empty()) out << "      error     " << safe(p.error) << '\n';
  if (p.greeting_code != 0 || !p.banner.empty()) {
    // Multi-line greetings: one report line each, all escaped.
    std::string_view banner = p.banner;
    bool first = true;
    while (true) {
      const std::size_t nl = banner.find('\n');
      std::string_view line = banner.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out << (first ? "      banner    " : "                ");
      if (first && p.greeting_code != 0) out << p.greeting_code << ' ';
      out << safe(line) << '\n';
      first = false;
      if (nl == std::string_view::npos) break;
      banner.remove_prefix(nl + 1);
    }
  }
  if (p.used_helo) out << "      HELO      EHLO was refused; HELO answered (no ESMTP extensions)\n";
  if (p.starttls) {
    out << "      STARTTLS  ";
    if (!*p.starttls) {
      out << paint(sgr_red, "not offered");
    } else {
      out << "offered";
      if (p.starttls_code != 0) out << ", reply " << p.starttls_code;
      if (!p.starttls_reply.empty()) out << " " << safe(p.starttls_reply);
    }
    out << '\n';
  }
  if (!p.auth_before_tls.empty()) {
    std::vector<std::string> m;
    for (const auto& mech : p.auth_before_tls) m.push_back(safe(mech, 64));
    out << "      AUTH      " << paint(sgr_yellow, "offered before TLS: " + join(m, " ")) << '\n';
  }
  if (!p.injected_after_starttls.empty())
    out << "      injected  " << paint(sgr_red, "\"" + safe(p.injected_after_starttls, 200) + "\"")
        << " after the STARTTLS 220\n";
  if (p.tls) {
    const TlsFacts& t = *p.tls;
    std::string line = safe(t.version) + ", " + safe(t.cipher);
    if (t.cipher_bits > 0) line += " (" + std::to_string(t.cipher_bits) + " bits)";
    if (!t.group.empty()) line += ", group " + safe(t.group);
    out << "      TLS       " << line << '\n';
    write_certificate(out, p, paint);
    if (!p.ehlo_after_tls.empty()) {
      std::vector<std::string> k;
      for (const auto& kw : p.ehlo_after_tls) k.push_back(safe(kw, 80));
      out << "      after TLS " << join(k, ", ") << '\n';
    }
  }
  write_dane(out, p, paint);
}

std::string display_domain(const DomainResult& d) {
  return safe(has_non_ascii(d.input) ? d.input : d.domain, 256);
}

// The verdict cells of the summary table for one domain.
struct Row {
  std::string domain, mx, starttls, tls, cert, lock, notes;
};

Row summary_row(const DomainResult& d) {
  Row r;
  r.domain = display_domain(d);
  r.mx = std::to_string(d.mx_hosts.size());
  r.lock = lock_word(d.gmail_lock);

  // STARTTLS on every MX that answered: an MX counts when all its answering addresses
  // completed TLS (a sender may land on any of them).
  std::vector<std::string> mx_seen;
  std::set<std::string> mx_without_tls;
  std::vector<std::string> versions, verdicts, notes;
  auto add_unique = [](std::vector<std::string>& v, std::string s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
  };
  switch (d.kind) {
    case DomainKind::null_mx: notes.emplace_back("null MX"); break;
    case DomainKind::implicit_mx: notes.emplace_back("implicit MX"); break;
    case DomainKind::nxdomain: notes.emplace_back("NXDOMAIN"); break;
    case DomainKind::dns_error: notes.emplace_back("DNS error"); break;
    case DomainKind::no_mx_hosts: notes.emplace_back("no MX address"); break;
    case DomainKind::excluded: notes.emplace_back("excluded"); break;
    case DomainKind::mx: break;
  }
  for (const auto& h : d.mx_hosts)
    if (d.kind == DomainKind::mx && (h.addresses.empty() || !h.error.empty())) {
      add_unique(notes, "MX without address");
      break;
    }
  for (std::size_t i : delivery_order(d)) {
    const ProbeResult& p = d.probes[i];
    if (p.status == Status::dns_error) continue;  // already a note from the domain or MX host
    if (greeting_accepted(p)) {
      add_unique(mx_seen, p.mx);
      if (!p.tls) mx_without_tls.insert(p.mx);
    }
    if (p.tls) {
      add_unique(versions, safe(p.tls->version, 32));
      add_unique(verdicts, ascii_lower(postfix_word(p.tls->verdict)));
    }
    for (Issue issue : probe_issues(p)) add_unique(notes, std::string(issue_label(issue)));
  }
  if (mx_seen.empty()) r.starttls = "—";
  else if (mx_without_tls.empty()) r.starttls = "yes";
  else if (mx_without_tls.size() == mx_seen.size()) r.starttls = "no";
  else r.starttls = std::to_string(mx_seen.size() - mx_without_tls.size()) + "/" + std::to_string(mx_seen.size());
  r.tls = versions.empty() ? "—" : join(versions, ",");
  r.cert = verdicts.empty() ? "—" : join(verdicts, ",");
  r.notes = join(notes, ", ");
  return r;
}

}  // namespace

void write_domain_report(std::ostream& out, const DomainResult& d, const TextOptions& options) {
  const Painter paint(options.color);
  out << paint(sgr_bold, safe(d.domain, 256));
  if (const std::string in = input_if_different(d); !in.empty()) out << "  (" << safe(in, 256) << ")";
  out << '\n';
  write_lock(out, d, paint);
  if (!d.error.empty()) out << "  DNS: " << safe(d.error) << '\n';
  if (d.kind == DomainKind::null_mx) out << "  MX 0 . (null MX, RFC 7505)\n";

  // Each MX host of the domain with its addresses; then probes of names not listed there
  // (e.g. the implicit MX when the scan does not list it as a host).
  // DNS failure records are shown as their MX host's error line (or the domain's), not as probes.
  std::vector<bool> shown(d.probes.size(), false);
  for (std::size_t i = 0; i < d.probes.size(); ++i) shown[i] = d.probes[i].status == Status::dns_error;
  const std::vector<std::size_t> order = delivery_order(d);
  auto write_host_probes = [&](const std::string& name, std::optional<int> preference) {
    for (std::size_t i : order) {
      const ProbeResult& p = d.probes[i];
      if (shown[i] || p.mx != name || (preference && p.preference != *preference)) continue;
      shown[i] = true;
      write_probe(out, p, paint);
    }
  };
  for (const MxHost& h : d.mx_hosts) {
    if (d.kind == DomainKind::implicit_mx)
      out << "  implicit MX " << paint(sgr_bold, safe(h.name, 256)) << '\n';
    else
      out << "  MX " << h.preference << ' ' << paint(sgr_bold, safe(h.name, 256)) << '\n';
    if (!h.error.empty()) out << "    " << paint(sgr_red, safe(h.error)) << '\n';
    else if (h.addresses.empty()) out << "    " << paint(sgr_red, "no address") << '\n';
    write_host_probes(h.name, h.preference);
  }
  for (std::size_t i : order) {
    if (shown[i]) continue;
    const ProbeResult& p = d.probes[i];
    out << (d.kind == DomainKind::implicit_mx ? std::string("  implicit MX ")
                                              : "  MX " + std::to_string(p.preference) + " ")
        << paint(sgr_bold, safe(p.mx, 256)) << '\n';
    write_host_probes(p.mx, p.preference);
  }
  if (d.kind == DomainKind::mx || d.kind == DomainKind::implicit_mx) write_policies(out, d, paint);

  if (d.findings.empty()) {
    out << "  Findings: none\n";
  } else {
    out << "  Findings\n";
    for (const Finding& f : d.findings) {
      std::string sev = ascii_upper(to_string(f.severity));
      out << "    " << paint(severity_sgr(f.severity), pad_to_width(sev, 8)) << " "
          << safe(f.subject, 300) << ": " << safe(f.what, 1024) << '\n';
      out << "             fix: " << safe(f.fix, 2048) << '\n';
    }
  }
  out << '\n';  // a blank line between domains
}

void write_summary_table(std::ostream& out, const std::vector<DomainResult>& domains,
                         const TextOptions& options) {
  const Painter paint(options.color);
  std::vector<Row> rows;
  rows.reserve(domains.size());
  for (const auto& d : domains) rows.push_back(summary_row(d));

  const Row header{"Domain", "MX", "STARTTLS", "TLS", "Certificate", "Lock", "Notes"};
  auto cells = [](const Row& r) {
    return std::array<const std::string*, 7>{&r.domain, &r.mx, &r.starttls, &r.tls, &r.cert, &r.lock, &r.notes};
  };
  std::array<std::size_t, 7> width{};
  {
    auto c = cells(header);
    for (std::size_t k = 0; k < c.size(); ++k) width[k] = display_width(*c[k]);
  }
  for (const Row& r : rows) {
    auto c = cells(r);
    for (std::size_t k = 0; k < c.size(); ++k) width[k] = std::max(width[k], display_width(*c[k]));
  }

  // Pad first, colour after: escape sequences take no columns.
  auto write_row = [&](const Row& r, const std::optional<GmailLock>* lock) {
    auto c = cells(r);
    std::string line;
    for (std::size_t k = 0; k < c.size(); ++k) {
      const bool last = k + 1 == c.size();
      std::string cell = last ? *c[k] : pad_to_width(*c[k], width[k]);
      if (k == 5 && lock) cell = paint_lock(paint, *lock, cell);
      line += cell;
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  {
    auto c = cells(header);
    std::string line;
    for (std::size_t k = 0; k < c.size(); ++k) {
      line += k + 1 == c.size() ? *c[k] : pad_to_width(*c[k], width[k]) + "  ";
    }
    out << paint(sgr_bold, line) << '\n';
    std::string rule;
    for (std::size_t k = 0; k < width.size(); ++k) {
      rule += std::string(k + 1 == width.size() ? std::max<std::size_t>(width[k], 5) : width[k], '-');
      if (k + 1 != width.size()) rule += "  ";
    }
    out << rule << '\n';
  }
  std::size_t grey = 0, red = 0, none = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    write_row(rows[i], &domains[i].gmail_lock);
    if (domains[i].gmail_lock == GmailLock::grey) ++grey;
    else if (domains[i].gmail_lock == GmailLock::red) ++red;
    else ++none;
  }
  auto percent = [&](std::size_t n) {
    return rows.empty() ? std::string("0%") : std::to_string((n * 100 + rows.size() / 2) / rows.size()) + "%";
  };
  out << rows.size() << (rows.size() == 1 ? " domain" : " domains") << ": grey (TLS) " << grey << " ("
      << percent(grey) << "), red (cleartext) " << red << " (" << percent(red)
      << "), no mail delivery " << none << " (" << percent(none) << ")\n";
}

}  // namespace mxtls::report
