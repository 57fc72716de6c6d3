// Session reports of `mxtls listen`. Everything the sender said (EHLO, addresses, headers) is
// hostile text: it goes through terminal_safe() for the terminal and JSON escaping for JSONL.
#include "listen/session_report.hpp"

#include "mail/hops_report.hpp"
#include "report/json_object.hpp"
#include "report/utf8.hpp"

namespace mxtls::listen {

namespace {

std::string safe(std::string_view s) { return report::terminal_safe(s, 300); }

std::string paint(bool color, std::string_view sgr, std::string_view text) {
  if (!color || text.empty()) return std::string(text);
  return "\x1b[" + std::string(sgr) + "m" + std::string(text) + "\x1b[0m";
}

std::string row(std::string_view label, const std::string& value) {
  std::string out = "  " + std::string(label);
  out.resize(std::max<std::size_t>(out.size(), 17), ' ');
  return out + value + "\n";
}

std::string tls_summary(const TlsFacts& tls) {
  std::string out = tls.version + ", " + tls.cipher;
  if (tls.cipher_bits > 0) out += ", " + std::to_string(tls.cipher_bits) + " bits";
  if (!tls.group.empty()) out += ", key exchange " + tls.group;
  return safe(out);
}

std::string starttls_text(const SessionReport& r) {
  if (r.tls) return "used";
  if (!r.starttls_offered) return "not offered (mxtls listen has no certificate)";
  if (r.starttls_requested) return "requested, but the handshake failed: " + safe(r.tls_error);
  if (r.ehlo_name.empty()) return "offered; the sender never said EHLO";
  return r.used_helo ? "not used (the sender said HELO, so it never saw the offer)"
                     : "offered in the EHLO reply, not used by the sender";
}

}  // namespace

std::string session_text(const SessionReport& r, bool color) {
  std::string out;
  const std::string peer = r.peer_ip.find(':') != std::string::npos ? "[" + r.peer_ip + "]" : r.peer_ip;
  out += paint(color, "1", "session " + std::to_string(r.number)) + "  " + r.started_at + "  " + peer + ":" +
         std::to_string(r.peer_port) + " -> " + r.local_endpoint + "\n";

  const bool grey = r.gmail_lock() == GmailLock::grey;
  out += row("Gmail lock", grey ? paint(color, "1;37;100", "GREY") + " (closed lock): the sender used TLS to deliver here"
                                : paint(color, "1;31", "RED") + " (open lock): the sender delivered in cleartext, without TLS");
  std::string reverse = r.reverse.name.empty() ? "(none: " + safe(r.reverse.error) + ")" : safe(r.reverse.name);
  out += row("peer", r.peer_ip + ", reverse name " + reverse);
  out += row("EHLO", r.ehlo_name.empty() ? "(none)" : safe(r.ehlo_name) + (r.used_helo ? " (said HELO, not EHLO)" : ""));
  if (r.tls && !r.ehlo_before_tls.empty() && r.ehlo_before_tls != r.ehlo_name)
    out += row("EHLO before TLS", safe(r.ehlo_before_tls));
  out += row("STARTTLS", starttls_text(r));
  if (r.tls) {
    out += row("TLS", tls_summary(*r.tls));
    if (!r.sni.empty()) out += row("SNI", safe(r.sni));
    if (r.tls->cert) {
      const CertFacts& c = *r.tls->cert;
      out += row("client cert", "subject " + safe(c.subject));
      out += row("", "issuer " + safe(c.issuer));
      out += row("", "sha256 " + safe(c.sha256));
    } else {
      out += row("client cert", "none sent");
    }
  } else {
    out += row("TLS", "none: every byte of this session, the message included, crossed the network in cleartext");
  }
  if (r.discarded_before_tls > 0)
    out += row("warning", std::to_string(r.discarded_before_tls) +
                              " bytes sent in cleartext right after STARTTLS were discarded");

  if (r.messages.empty()) out += row("message", "none received");
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    const ReceivedMessage& m = r.messages[i];
    std::string to;
    for (const auto& rcpt : m.recipients) to += (to.empty() ? "" : ", ") + safe(rcpt);
    out += row("message " + std::to_string(i + 1),
               std::to_string(m.size) + " bytes from " + safe(m.mail_from) + " to " + to);
    if (m.hops.empty()) {
      out += "    no Received: header in the message\n";
    } else {
      out += "    earlier hops, from its Received: headers (sender first):\n";
      out += mail::hops_text(m.hops, {color, "    "});
      const mail::HopSummary s = mail::summarize(m.hops);
      if (!s.all_encrypted())
        out += "    " + paint(color, "33", "note") + ": " + std::to_string(s.cleartext) + " earlier hop(s) in cleartext, " +
               std::to_string(s.unknown) + " unknown\n";
    }
    for (const auto& note : m.header_notes) out += "    note: " + safe(note) + "\n";
    out += "    this hop: " + std::string(grey ? "TLS " + tls_summary(*r.tls) : "CLEARTEXT") + " from " +
           (r.ehlo_name.empty() ? std::string("?") : safe(r.ehlo_name)) + " [" + r.peer_ip + "]\n";
    if (!m.saved_as.empty()) out += row("saved as", safe(m.saved_as));
    if (!m.save_error.empty()) out += row("not saved", safe(m.save_error));
  }
  for (const auto& why : r.rejected) out += row("refused", safe(why));
  out += row("session end", safe(r.end_reason.empty() ? std::string("closed") : r.end_reason) + ", " +
                                std::to_string(r.elapsed_ms) + " ms");
  if (!grey) {
    out += "  fix on the sending server" + (r.ehlo_name.empty() ? std::string() : " (" + safe(r.ehlo_name) + ")") + ":\n";
    for (const auto& line : mail::cleartext_sender_fixes()) out += "    " + line + "\n";
  }
  return out;
}

std::string session_json(const SessionReport& r) {
  std::string out;
  report::JsonObject o(out);
  const TlsFacts* tls = r.tls ? &*r.tls : nullptr;
  const CertFacts* cert = tls && tls->cert ? &*tls->cert : nullptr;
  o.integer("schema_version", schema_version);
  o.string("record", "listen_session");
  o.integer("session", static_cast<long long>(r.number));
  o.string("started_at", r.started_at);
  o.string("peer_ip", r.peer_ip);
  o.integer("peer_port", r.peer_port);
  o.string("listen", r.local_endpoint);
  o.nonempty_or_null("reverse_name", r.reverse.name);
  o.nonempty_or_null("reverse_error", r.reverse.error);
  o.nonempty_or_null("ehlo_name", r.ehlo_name);
  o.boolean("used_helo", r.used_helo);
  o.boolean("starttls_offered", r.starttls_offered);
  o.boolean("starttls", tls != nullptr);
  o.boolean("starttls_requested", r.starttls_requested);
  o.nonempty_or_null("tls_error", r.tls_error);
  o.nonempty_or_null("tls_version", tls ? tls->version : "");
  o.nonempty_or_null("cipher", tls ? tls->cipher : "");
  o.nonempty_or_null("group", tls ? tls->group : "");
  if (tls && tls->cipher_bits > 0) o.integer("cipher_bits", tls->cipher_bits);
  else o.null("cipher_bits");
  o.nonempty_or_null("sni", r.sni);
  o.nonempty_or_null("client_cert_subject", cert ? cert->subject : "");
  o.nonempty_or_null("client_cert_issuer", cert ? cert->issuer : "");
  o.nonempty_or_null("client_cert_sha256", cert ? cert->sha256 : "");
  o.integer("discarded_before_tls", static_cast<long long>(r.discarded_before_tls));
  o.string("gmail_lock", to_string(r.gmail_lock()));
  std::string messages = "[";
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    const ReceivedMessage& m = r.messages[i];
    if (i) messages += ',';
    report::JsonObject mj(messages);
    mj.string("mail_from", m.mail_from);
    mj.strings("rcpt_to", m.recipients);
    mj.integer("size", static_cast<long long>(m.size));
    mj.raw("hops", mail::hops_json(m.hops));
    mj.boolean("earlier_hops_encrypted", mail::summarize(m.hops).all_encrypted());
    mj.boolean("headers_capped", m.headers_capped);
    mj.strings("header_notes", m.header_notes);
    mj.nonempty_or_null("saved_as", m.saved_as);
    mj.nonempty_or_null("save_error", m.save_error);
    mj.close();
  }
  messages += ']';
  o.raw("messages", messages);
  o.strings("refused", r.rejected);
  o.nonempty_or_null("end_reason", r.end_reason);
  o.integer("elapsed_ms", r.elapsed_ms);
  if (r.gmail_lock() == GmailLock::red) o.strings("fix", mail::cleartext_sender_fixes());
  else o.null("fix");
  o.close();
  return out;
}

}  // namespace mxtls::listen
