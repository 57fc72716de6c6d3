// Scan summary: see summary.hpp. Percentages are of the domains that can receive mail (those
// with a lock), because a null MX or a missing domain is neither encrypted nor cleartext.
#include "report/summary.hpp"

#include "core/domain_name.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"

#include <libpsl.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <vector>

namespace mxtls::report {
namespace {

const psl_ctx_t* public_suffix_list() {
  // psl_latest() loads the distro's newer list when present; the built-in one otherwise.
  struct Free {
    void operator()(psl_ctx_t* ctx) const { psl_free(ctx); }
  };
  static const std::unique_ptr<psl_ctx_t, Free> latest(psl_latest(nullptr));
  return latest ? latest.get() : psl_builtin();
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "     –";
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%5.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buffer;
}

std::string count(std::uint64_t n) {  // 1234567 → "1 234 567": readable in every locale
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ' ';
    out += digits[i];
  }
  return out;
}

std::string padded(std::string text, std::size_t width, bool right = false) {
  const std::size_t used = display_width(text);
  if (used >= width) return text;
  return right ? std::string(width - used, ' ') + text : text + std::string(width - used, ' ');
}

}  // namespace

std::string registered_domain(std::string_view host) {
  std::string name(host);
  while (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return {};
  const char* registrable = psl_registrable_domain(public_suffix_list(), name.c_str());
  return registrable != nullptr ? std::string(registrable) : name;
}

DomainDigest digest_of(const DomainResult& d) {
  DomainDigest g;
  g.domain = d.domain;
  g.kind = d.kind;
  g.lock = d.gmail_lock;
  const ProbeResult* decisive = nullptr;
  for (const std::size_t i : delivery_order(d)) {
    if (greeting_accepted(d.probes[i])) {
      decisive = &d.probes[i];
      break;
    }
  }
  if (decisive != nullptr && decisive->tls) {
    g.tls_version = decisive->tls->version;
    g.verdict = decisive->tls->verdict;
  }
  std::string operator_host = decisive != nullptr ? decisive->mx : "";
  if (operator_host.empty() && !d.mx_hosts.empty()) operator_host = d.mx_hosts.front().name;
  if (!operator_host.empty()) g.mx_operator = registered_domain(operator_host);

  // STARTTLS on every MX host: each host that answered EHLO on some address offered it on
  // every address that answered. Hosts that never answered are unknown, not counted against.
  std::map<std::string, bool> offered_by_host;
  for (const auto& p : d.probes) {
    if (!p.starttls.has_value()) continue;
    auto [it, inserted] = offered_by_host.emplace(p.mx, *p.starttls);
    if (!inserted) it->second = it->second && *p.starttls;
  }
  // DANE: the worst state among the MX hosts that publish TLSA (a failing MX defers mail).
  g.dnssec_mx = d.dnssec_mx;
  int worst = 0;  // 0 none, 1 matched, 2 unusable, 3 failed, 4 lookup-error
  for (const auto& p : d.probes) {
    switch (p.dane.state) {
      case DaneState::matched: worst = std::max(worst, 1); break;
      case DaneState::unusable: worst = std::max(worst, 2); break;
      case DaneState::failed: worst = std::max(worst, 3); break;
      case DaneState::lookup_error: worst = std::max(worst, 4); break;
      case DaneState::not_applicable:
      case DaneState::no_records: break;
    }
  }
  static constexpr const char* dane_names[] = {"", "matched", "unusable", "failed", "lookup-error"};
  g.dane = dane_names[worst];
  g.mta_sts_mode = d.mta_sts.mode;
  g.mta_sts_verdict = d.mta_sts.verdict;
  g.tls_rpt = d.tls_rpt.state;
  g.starttls_every_mx = !offered_by_host.empty() &&
                        std::all_of(offered_by_host.begin(), offered_by_host.end(), [](const auto& e) { return e.second; });
  return g;
}

void SummaryBuilder::add(const DomainDigest& g) {
  ++domains_;
  if (!g.lock) {
    ++kinds_[g.kind == DomainKind::mx || g.kind == DomainKind::implicit_mx ? std::string("no-mx-answered")
                                                                              : std::string(to_string(g.kind))];
    return;
  }
  const auto count_into = [&](Figures& f) {
    ++f.domains;
    if (*g.lock == GmailLock::grey) ++f.grey;
    else ++f.red;
    if (g.starttls_every_mx) ++f.starttls_every_mx;
    if (g.verdict == CertVerdict::verified) ++f.verified;
  };
  count_into(all_);
  if (g.dnssec_mx) ++dnssec_mx_;
  if (!g.dane.empty()) ++dane_[g.dane];
  if (g.mta_sts_verdict != MtaStsVerdict::no_policy) ++sts_verdicts_[std::string(to_string(g.mta_sts_verdict))];
  if (g.mta_sts_mode) ++sts_modes_[std::string(to_string(*g.mta_sts_mode))];
  if (g.tls_rpt != TlsRptState::absent) ++tls_rpt_[std::string(to_string(g.tls_rpt))];
  if (*g.lock == GmailLock::grey) {
    ++versions_[g.tls_version.empty() ? "unknown" : g.tls_version];
    ++verdicts_[g.verdict ? std::string(to_string(*g.verdict)) : "unknown"];
  }
  const std::string op = g.mx_operator.empty() ? "(none)" : g.mx_operator;
  auto it = operators_.find(op);
  if (it == operators_.end() && operators_.size() >= max_operators) {
    count_into(other_operators_);
    return;
  }
  count_into(operators_[op]);
}

void SummaryBuilder::write_policies(std::ostream& out, const std::function<std::string(const std::string&)>& bold) const {
  const std::uint64_t with_lock = all_.domains;
  const auto total = [](const std::map<std::string, std::uint64_t>& counts) {
    std::uint64_t n = 0;
    for (const auto& [name, k] : counts) n += k;
    return n;
  };
  const auto breakdown = [](const std::map<std::string, std::uint64_t>& counts) {
    std::string text;
    for (const auto& [name, n] : counts) text += (text.empty() ? "" : ", ") + name + " " + count(n);
    return text.empty() ? text : "  (" + text + ")";
  };
  if (with_lock == 0) return;
  out << bold("Policies") << " (of the domains that can receive mail)\n";
  out << "  DNSSEC-signed MX       " << padded(count(dnssec_mx_), 12, true) << "  " << percent(dnssec_mx_, with_lock) << "\n";
  out << "  DANE (TLSA published)  " << padded(count(total(dane_)), 12, true) << "  " << percent(total(dane_), with_lock)
      << breakdown(dane_) << "\n";
  out << "  MTA-STS published      " << padded(count(total(sts_verdicts_)), 12, true) << "  "
      << percent(total(sts_verdicts_), with_lock) << breakdown(sts_verdicts_) << "\n";
  if (!sts_modes_.empty())
    out << "    valid policies       " << padded(count(total(sts_modes_)), 12, true) << "  "
        << percent(total(sts_modes_), with_lock) << breakdown(sts_modes_) << "\n";
  out << "  TLS-RPT published      " << padded(count(total(tls_rpt_)), 12, true) << "  " << percent(total(tls_rpt_), with_lock)
      << breakdown(tls_rpt_) << "\n";
}

void SummaryBuilder::write_text(std::ostream& out, const SummaryOptions& options) const {
  const std::function<std::string(const std::string&)> bold = [&](const std::string& text) {
    return options.color ? "\x1b[1m" + text + "\x1b[0m" : text;
  };
  const std::uint64_t with_lock = all_.domains;
  out << bold("Summary: " + count(domains_) + (domains_ == 1 ? " domain" : " domains")) << "\n";
  out << "  can receive mail       " << padded(count(with_lock), 12, true) << "\n";
  out << "  encrypted (grey lock)  " << padded(count(all_.grey), 12, true) << "  " << percent(all_.grey, with_lock) << "\n";
  out << "  cleartext (red lock)   " << padded(count(all_.red), 12, true) << "  " << percent(all_.red, with_lock) << "\n";
  out << "  STARTTLS on every MX   " << padded(count(all_.starttls_every_mx), 12, true) << "  "
      << percent(all_.starttls_every_mx, with_lock) << "\n";
  out << "  verified certificate   " << padded(count(all_.verified), 12, true) << "  " << percent(all_.verified, with_lock)
      << "\n";
  if (!kinds_.empty()) {
    out << "  cannot receive mail:  ";
    bool first = true;
    for (const auto& [kind, n] : kinds_) {
      out << (first ? " " : ", ") << kind << " " << count(n);
      first = false;
    }
    out << "\n";
  }
  if (!versions_.empty()) {
    out << bold("TLS versions") << " (the connection that decides the lock, of grey-lock domains)\n";
    for (const auto& [version, n] : versions_)
      out << "  " << padded(version, 21) << padded(count(n), 12, true) << "  " << percent(n, all_.grey) << "\n";
  }
  if (!verdicts_.empty()) {
    out << bold("Certificate verdicts") << " (likewise)\n";
    for (const auto& [verdict, n] : verdicts_)
      out << "  " << padded(verdict, 21) << padded(count(n), 12, true) << "  " << percent(n, all_.grey) << "\n";
  }
  write_policies(out, bold);
  if (operators_.empty()) return;
  std::vector<std::pair<std::string, Figures>> ranked(operators_.begin(), operators_.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second.domains != b.second.domains ? a.second.domains > b.second.domains : a.first < b.first;
  });
  if (ranked.size() > options.top_operators) ranked.resize(options.top_operators);
  if (other_operators_.domains > 0) ranked.emplace_back("(other operators)", other_operators_);
  std::size_t width = 24;
  // Operators in the form people know them (例え.jp, not xn--r8jz45g.jp).
  for (auto& entry : ranked)
    if (entry.first.front() != '(') entry.first = display_domain(entry.first);
  for (const auto& [name, f] : ranked) width = std::max(width, display_width(name) + 2);
  out << bold("Top MX operators") << " (registered domain of the MX host)\n";
  out << "  " << padded("operator", width) << padded("domains", 10, true) << padded("grey", 9, true)
      << padded("STARTTLS all", 14, true) << padded("verified", 10, true) << "\n";
  for (const auto& [name, f] : ranked)
    out << "  " << padded(name, width) << padded(count(f.domains), 10, true) << "  " << percent(f.grey, f.domains)
        << "      " << percent(f.starttls_every_mx, f.domains) << "    " << percent(f.verified, f.domains) << "\n";
}

}  // namespace mxtls::report
