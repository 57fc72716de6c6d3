// Text and JSON for Received: hops. Header text is hostile (any bytes, any length, CJK in
// either raw UTF-8 or RFC 2047 encoded words): it is shown through terminal_safe() / JSON
// escaping only, encoded words stay encoded, nothing here ever emits ill-formed UTF-8.
#include "mail/hops_report.hpp"

#include "core/result.hpp"
#include "report/json_object.hpp"
#include "report/utf8.hpp"

namespace mxtls::mail {

namespace {

constexpr std::size_t field_limit = 200;  // bytes of one header field shown in text reports

std::string safe(std::string_view s) { return report::terminal_safe(s, field_limit); }

std::string paint(bool color, std::string_view sgr, std::string_view text) {
  if (!color || text.empty()) return std::string(text);
  return "\x1b[" + std::string(sgr) + "m" + std::string(text) + "\x1b[0m";
}

std::string hop_label(const ReceivedHop& hop, bool color) {
  if (hop.local) return paint(color, "36", "local    ");
  switch (hop.encrypted) {
    case Encryption::yes: return paint(color, "32", "TLS      ");
    case Encryption::no: return paint(color, "1;31", "CLEARTEXT");
    case Encryption::unknown: return paint(color, "33", "UNKNOWN  ");
  }
  return "UNKNOWN  ";
}

std::string tls_line(const ReceivedHop& hop) {
  std::string out;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += ", ";
    out += part;
  };
  add(safe(hop.tls_version));
  add(safe(hop.cipher));
  if (hop.cipher_bits > 0) add(std::to_string(hop.cipher_bits) + " bits");
  if (!hop.group.empty()) add("key exchange " + safe(hop.group));
  return out;
}

}  // namespace

const std::vector<std::string>& cleartext_sender_fixes() {
  static const std::vector<std::string> fixes{
      "Postfix 2.3 and later: smtp_tls_security_level = may   (main.cf, then `postfix reload`)",
      "Postfix 2.2: smtp_use_tls = yes",
      "Postfix, to see it in the log: smtp_tls_loglevel = 1   (logs \"TLS connection established to ...\")",
      "  note: smtp_ (sending) parameters, not smtpd_ (receiving)",
      "Exim: needs a TLS-enabled build (`exim -bV` lists OpenSSL or GnuTLS); the smtp transport",
      "  tries STARTTLS by default (hosts_try_tls = *): remove hosts_avoid_tls there, and check",
      "  that tls_require_ciphers does not exclude every cipher",
      "Sendmail: needs a build with STARTTLS (`sendmail -d0.1 -bv root` lists STARTTLS) and, in",
      "  sendmail.mc, confCACERT_PATH, confCACERT, confCLIENT_CERT and confCLIENT_KEY; rebuild sendmail.cf",
  };
  return fixes;
}

std::string hops_text(const std::vector<ReceivedHop>& hops, const HopTextOptions& o) {
  std::string out;
  const std::string pad = o.indent + "     " + std::string(10, ' ');
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const ReceivedHop& hop = hops[i];
    std::string number = "#" + std::to_string(i + 1);
    number.resize(std::max<std::size_t>(number.size(), 4), ' ');
    out += o.indent + number + " " + hop_label(hop, o.color) + " ";
    std::string route;
    if (!hop.from.empty()) {
      route += "from " + safe(hop.from);
      if (!hop.from_address.empty() && hop.from != "[" + hop.from_address + "]")
        route += " [" + safe(hop.from_address) + "]";
    }
    if (!hop.by.empty()) route += (route.empty() ? "by " : " by ") + safe(hop.by);
    if (!hop.by_detail.empty()) route += " (" + safe(hop.by_detail) + ")";
    if (!hop.with.empty()) route += " with " + safe(hop.with);
    if (route.empty()) route = "(no from/by: " + safe(hop.raw) + ")";
    out += route + "\n";
    if (const std::string tls = tls_line(hop); !tls.empty()) out += pad + tls + "\n";
    std::string why = safe(hop.evidence);
    if (hop.malformed) why += "; header malformed or cut";
    out += pad + why + "\n";
    if (!hop.date.empty()) out += pad + safe(hop.date) + "\n";
  }
  return out;
}

std::string hop_json(const ReceivedHop& hop, std::size_t number) {
  std::string out;
  report::JsonObject o(out);
  o.integer("hop", static_cast<long long>(number));
  o.nonempty_or_null("from", hop.from).nonempty_or_null("from_detail", hop.from_detail);
  o.nonempty_or_null("from_address", hop.from_address);
  o.nonempty_or_null("by", hop.by).nonempty_or_null("by_detail", hop.by_detail);
  o.nonempty_or_null("with", hop.with).nonempty_or_null("protocol", hop.protocol);
  o.nonempty_or_null("tls_version", hop.tls_version).nonempty_or_null("cipher", hop.cipher);
  if (hop.cipher_bits > 0) o.integer("cipher_bits", hop.cipher_bits);
  else o.raw("cipher_bits", "null");
  o.nonempty_or_null("group", hop.group);
  o.string("encrypted", to_string(hop.encrypted));
  o.boolean("local", hop.local);
  o.string("evidence", hop.evidence);
  o.nonempty_or_null("id", hop.id).nonempty_or_null("for", hop.for_address);
  o.nonempty_or_null("date", hop.date);
  o.boolean("malformed", hop.malformed);
  o.close();
  return out;
}

std::string hops_json(const std::vector<ReceivedHop>& hops) {
  std::string out = "[";
  for (std::size_t i = 0; i < hops.size(); ++i) {
    if (i) out += ',';
    out += hop_json(hops[i], i + 1);
  }
  out += ']';
  return out;
}

std::string headers_report_text(const ParsedHeaders& headers, std::string_view source, bool color) {
  std::string out;
  const HopSummary s = summarize(headers.hops);
  out += paint(color, "1", "Received: hops in " + safe(source)) + " (" + std::to_string(s.total) +
         (s.total == 1 ? " hop" : " hops") + ", sender first)\n";
  if (headers.hops.empty()) out += "  no Received: header in the input\n";
  out += hops_text(headers.hops, {color, "  "});
  for (const auto& note : headers.notes) out += "  note: " + safe(note) + "\n";

  const std::size_t network = s.total - s.local;
  if (network == 0) {
    out += "verdict: no hop crossed a network, nothing to judge\n";
  } else if (s.all_encrypted()) {
    out += "verdict: " + paint(color, "32", "every hop on the network used TLS") + " (" +
           std::to_string(s.encrypted) + " of " + std::to_string(network) + ")\n";
  } else {
    std::string which;
    for (std::size_t i = 0; i < headers.hops.size(); ++i) {
      const auto& hop = headers.hops[i];
      if (hop.local || hop.encrypted == Encryption::yes) continue;
      if (!which.empty()) which += ", ";
      which += "#" + std::to_string(i + 1);
    }
    std::string what;
    if (s.cleartext) what += std::to_string(s.cleartext) + " in cleartext";
    if (s.unknown) what += std::string(what.empty() ? "" : ", ") + std::to_string(s.unknown) + " unknown";
    out += "verdict: " + paint(color, "1;31", "not every hop used TLS") + " (" + what + ": " + which + ")\n";
    if (s.cleartext) {
      out += "fix on the sending server of a cleartext hop (the host after \"from\"):\n";
      for (const auto& line : cleartext_sender_fixes()) out += "  " + line + "\n";
    }
  }
  return out;
}

std::string headers_report_json(const ParsedHeaders& headers, std::string_view source) {
  const HopSummary s = summarize(headers.hops);
  std::string notes = "[";
  for (std::size_t i = 0; i < headers.notes.size(); ++i) {
    if (i) notes += ',';
    report::append_json_string(notes, headers.notes[i]);
  }
  notes += ']';
  std::string out;
  report::JsonObject o(out);
  o.integer("schema_version", schema_version);
  o.string("record", "headers");
  o.string("source", source);
  o.integer("hop_count", static_cast<long long>(s.total));
  o.integer("encrypted_hops", static_cast<long long>(s.encrypted));
  o.integer("cleartext_hops", static_cast<long long>(s.cleartext));
  o.integer("unknown_hops", static_cast<long long>(s.unknown));
  o.integer("local_hops", static_cast<long long>(s.local));
  o.boolean("all_encrypted", s.all_encrypted());
  o.raw("hops", hops_json(headers.hops));
  o.boolean("capped", headers.capped);
  o.boolean("header_end_seen", headers.complete);
  o.raw("notes", notes);
  o.close();
  return out;
}

}  // namespace mxtls::mail
