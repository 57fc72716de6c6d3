// Gmail lock and findings for one domain, from its probe results (DESIGN.md §4).
// Fix texts name the Postfix parameter (smtpd_* is the receiving side) and the generic fix.
#include "report/verdict.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace mxtls::report {

namespace {

using Severity = Finding::Severity;

std::string port_suffix(std::uint16_t port) {
  return port == 25 ? std::string() : ":" + std::to_string(port);
}

// Subject for findings that hold for every address of one MX host.
std::string mx_subject(const ProbeResult& p) { return p.mx + port_suffix(p.port); }

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The probe texts are already sanitised by the SMTP layer; bound them again because a finding
// quotes them and must stay one readable line.
std::string quoted(std::string_view text, std::size_t max_bytes = 200) {
  return printable(text, max_bytes);
}

std::string phase_name(std::optional<Phase> phase) {
  return phase ? std::string(to_string(*phase)) : std::string("?");
}

// A failure reason in a finding: "timeout (no reply within 30 s)" or just "timeout".
std::string status_detail(const ProbeResult& p) {
  std::string s(to_string(p.status));
  if (!p.error.empty()) s += " (" + quoted(p.error) + ")";
  return s;
}

Issue classify_chain_error(std::string_view verify_error) {
  const std::string e = ascii_lower(verify_error);
  if (contains(e, "not yet valid")) return Issue::cert_not_yet_valid;
  if (contains(e, "expired")) return Issue::cert_expired;
  // "self-signed certificate in certificate chain": the chain ends in a root nobody trusts,
  // i.e. a private CA; the leaf itself is not self-signed.
  if (contains(e, "in certificate chain")) return Issue::cert_unknown_issuer;
  if (contains(e, "self-signed") || contains(e, "self signed")) return Issue::cert_self_signed;
  if (contains(e, "issuer") || contains(e, "unable to verify the first certificate") ||
      contains(e, "unknown ca"))
    return Issue::cert_unknown_issuer;
  return Issue::cert_untrusted;
}

// Fix text shared by every "no usable TLS" finding: the receiving-side parameters.
constexpr std::string_view postfix_enable_tls =
    "in main.cf set `smtpd_tls_security_level = may` (Postfix < 2.3: `smtpd_use_tls = yes`) "
    "and a certificate with its key: `smtpd_tls_chain_files = /etc/postfix/mx.pem` (key, "
    "certificate and intermediates in one file, Postfix >= 3.4) or `smtpd_tls_cert_file` + "
    "`smtpd_tls_key_file`, then `postfix reload`. These are the smtpd_ (receiving) parameters; "
    "smtp_tls_security_level is for sending";

Finding make_finding(Issue issue, const ProbeResult& p) {
  Finding f;
  f.subject = probe_subject(p);
  const std::string mx = p.mx.empty() ? std::string("the MX host") : p.mx;
  const std::string port = std::to_string(p.port);
  switch (issue) {
    case Issue::starttls_not_offered:
      f.severity = Severity::critical;
      f.what = p.used_helo
                   ? "EHLO refused and only HELO answered, so STARTTLS cannot be offered: mail "
                     "to this host travels in cleartext (Gmail shows the red open lock)"
                   : "STARTTLS not offered: mail to this host travels in cleartext (Gmail "
                     "shows the red open lock)";
      f.fix = "On Postfix " + std::string(postfix_enable_tls) +
              ". Other MTAs: enable STARTTLS for inbound SMTP on port 25 with a certificate "
              "for " + mx +
              ". If TLS is configured already, a firewall or \"SMTP inspection\" in front of "
              "the server may be stripping STARTTLS from the EHLO reply.";
      break;
    case Issue::starttls_broken: {
      f.severity = Severity::critical;
      // The probe's error text already says which step failed ("TLS handshake failed: …").
      if (p.starttls_code >= 400) {
        f.what = "STARTTLS advertised, then answered " + std::to_string(p.starttls_code);
        if (!p.starttls_reply.empty()) f.what += " " + quoted(p.starttls_reply);
      } else {
        f.what = "STARTTLS advertised, then " + status_detail(p);
      }
      f.what += "; senders fall back to cleartext";
      f.fix =
          "Postfix answers 454 \"TLS not available due to local problem\" when it cannot load "
          "its certificate or key: check that the files in `smtpd_tls_chain_files` (or "
          "`smtpd_tls_cert_file` / `smtpd_tls_key_file`) exist, belong together (same key) and "
          "are readable, set `smtpd_tls_loglevel = 1` and read the mail log for the TLS error, "
          "then `postfix reload`. Other MTAs: check the certificate/key configuration and the "
          "TLS log; a middlebox on port 25 can also break the handshake.";
      break;
    }
    case Issue::legacy_protocol:
      f.severity = Severity::warning;
      f.what = "only " + quoted(p.tls ? p.tls->version : "") +
               " negotiated although the client offered TLS 1.3 (TLS 1.0/1.1 are deprecated, "
               "RFC 8996)";
      f.fix =
          "Upgrade the MTA and its OpenSSL so TLS 1.2 and 1.3 are available, and remove any "
          "setting that limits the protocols; then on Postfix set `smtpd_tls_protocols = "
          ">=TLSv1.2` (Postfix >= 3.6; older: `smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, "
          "!TLSv1.1`). Generic: enable TLS 1.2 and 1.3, disable SSLv3, TLS 1.0 and 1.1.";
      break;
    case Issue::weak_cipher:
      f.severity = Severity::warning;
      f.what = "weak cipher " + quoted(p.tls ? p.tls->cipher : "");
      if (p.tls && p.tls->cipher_bits > 0)
        f.what += " (" + std::to_string(p.tls->cipher_bits) + " bits)";
      f.what += " negotiated";
      f.fix =
          "On Postfix set `smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, 3DES, RC4, "
          "MD5`, keep `smtpd_tls_ciphers = medium` (or `high`) and `tls_preempt_cipherlist = "
          "yes`, then `postfix reload`. Generic: disable RC4, DES/3DES, NULL and EXPORT suites "
          "and anything under 128 bits; prefer AES-GCM or ChaCha20.";
      break;
    case Issue::cert_expired:
      f.severity = Severity::warning;
      f.what = "certificate expired";
      if (p.tls && p.tls->cert && !p.tls->cert->not_after.empty())
        f.what += " (not after " + quoted(p.tls->cert->not_after) + ")";
      f.what += "; senders that verify (MTA-STS, DANE, `smtp_tls_security_level = verify`) will "
                "not deliver";
      f.fix =
          "Renew the certificate (Let's Encrypt with automatic renewal works for MX hosts), "
          "point `smtpd_tls_chain_files` (or `smtpd_tls_cert_file`) at the new file and "
          "`postfix reload` so smtpd reads it. Generic: install a current certificate and "
          "reload the MTA.";
      break;
    case Issue::cert_not_yet_valid:
      f.severity = Severity::warning;
      f.what = "certificate not yet valid";
      if (p.tls && p.tls->cert && !p.tls->cert->not_before.empty())
        f.what += " (not before " + quoted(p.tls->cert->not_before) + ")";
      f.fix =
          "Check the server's clock (NTP) and the certificate's validity dates; install a "
          "certificate that is valid now and `postfix reload`.";
      break;
    case Issue::cert_self_signed:
      f.severity = Severity::warning;
      f.what = "self-signed certificate";
      if (p.tls && p.tls->cert && !p.tls->cert->subject.empty())
        f.what += " (" + quoted(p.tls->cert->subject) + ")";
      if (p.dane.state == DaneState::matched) {
        // A matching TLSA record already authenticates it for DANE senders: only the others are left.
        f.what += "; DANE senders authenticate it by its TLSA record, senders that verify by name "
                  "(MTA-STS, `smtp_tls_security_level = verify`) will not deliver";
        f.fix = "Keep the TLSA record. If MTA-STS or verifying senders matter, use a certificate from a public "
                "CA such as Let's Encrypt with " + mx + " in subjectAltName (`smtpd_tls_chain_files`, then "
                "`postfix reload`) and publish its TLSA record (3 1 1) next to the old one before switching.";
        break;
      }
      f.what += "; opportunistic senders still encrypt, senders that verify will not deliver";
      f.fix = "Replace the self-signed certificate (e.g. the default ssl-cert-snakeoil.pem) with "
              "one from a public CA such as Let's Encrypt, with " + mx +
              " in subjectAltName, set in `smtpd_tls_chain_files`, then `postfix reload`; or "
              "publish a DANE TLSA record (3 1 1) for it in a DNSSEC-signed zone.";
      break;
    case Issue::cert_unknown_issuer:
      f.severity = Severity::warning;
      f.what = "certificate issuer unknown";
      if (p.tls && !p.tls->verify_error.empty()) f.what += " (" + quoted(p.tls->verify_error) + ")";
      f.what += "; senders that verify will not deliver";
      f.fix =
          "Send the full chain: on Postfix put key, certificate and intermediate certificates "
          "in `smtpd_tls_chain_files` (or append the intermediates to `smtpd_tls_cert_file`), "
          "then `postfix reload`. If the issuer is a private CA, use a public CA such as "
          "Let's Encrypt.";
      break;
    case Issue::cert_untrusted:
      f.severity = Severity::warning;
      f.what = "certificate does not verify";
      if (p.tls && !p.tls->verify_error.empty()) f.what += ": " + quoted(p.tls->verify_error);
      f.fix = "Install a certificate from a public CA such as Let's Encrypt with the full chain "
              "(`smtpd_tls_chain_files`) and " + mx +
              " in subjectAltName, then `postfix reload`.";
      break;
    case Issue::cert_wrong_name: {
      f.severity = Severity::warning;
      f.what = "certificate does not name " + mx;
      std::vector<std::string> names;
      if (p.tls && p.tls->cert) {
        for (const auto& san : p.tls->cert->sans) {
          if (names.size() == 5) {
            names.push_back("…");
            break;
          }
          names.push_back(quoted(san, 100));
        }
      }
      if (!names.empty())
        f.what += " (subjectAltName: " + join(names, ", ") + ")";
      else if (p.tls && p.tls->cert && !p.tls->cert->subject.empty())
        f.what += " (subject " + quoted(p.tls->cert->subject) + ", no subjectAltName)";
      f.what += "; senders that verify (MTA-STS, `smtp_tls_security_level = verify`) will not "
                "deliver";
      f.fix = "Get a certificate with " + mx +
              " (the name the MX record points to) in subjectAltName, e.g. from Let's Encrypt, "
              "set it in `smtpd_tls_chain_files` and `postfix reload`.";
      break;
    }
    case Issue::cert_anonymous:
      f.severity = Severity::warning;
      f.what = "TLS without a certificate (anonymous cipher";
      if (p.tls && !p.tls->cipher.empty()) f.what += " " + quoted(p.tls->cipher);
      f.what += "): the sender cannot tell who it is talking to";
      f.fix = "Install a certificate (`smtpd_tls_chain_files`) and exclude anonymous ciphers "
              "with `smtpd_tls_exclude_ciphers = aNULL`, then `postfix reload`. Generic: "
              "configure a server certificate and disable anonymous (aNULL) cipher suites.";
      break;
    case Issue::auth_before_tls: {
      const bool no_tls = !p.tls;
      f.severity = no_tls ? Severity::critical : Severity::warning;
      std::vector<std::string> mechanisms;
      for (const auto& m : p.auth_before_tls) mechanisms.push_back(quoted(m, 40));
      f.what = "AUTH " + join(mechanisms, " ") + " offered before STARTTLS: " +
               (no_tls ? std::string("passwords can only travel in cleartext here")
                       : std::string("a client may send its password in cleartext"));
      f.fix =
          "On Postfix set `smtpd_tls_auth_only = yes` (AUTH only after STARTTLS); better, offer "
          "AUTH only on submission (587/465, enabled in master.cf) and not on port 25 "
          "(`smtpd_sasl_auth_enable = no` in main.cf). Generic: offer AUTH only over TLS.";
      break;
    }
    case Issue::injected_after_starttls:
      f.severity = Severity::critical;
      f.what = "bytes sent after the 220 reply to STARTTLS, before the TLS handshake: \"" +
               quoted(p.injected_after_starttls, 80) +
               "\" (STARTTLS command injection, CVE-2011-0411 class)";
      f.fix =
          "Something mixes cleartext into the start of the TLS session: upgrade the MTA to a "
          "current release (Postfix fixed its variant in 2011) and check any SMTP proxy or "
          "firewall \"SMTP inspection\" in front of port 25.";
      break;
    case Issue::unreachable:
      f.severity = Severity::warning;
      if (p.status == Status::refused)
        f.what = "connection refused on port " + port;
      else if (p.status == Status::timeout && p.failed_phase == Phase::connect)
        f.what = "connection to port " + port + " timed out";
      else if (p.status == Status::timeout)
        f.what = "no SMTP greeting before the deadline (tarpit, overload or a filter)";
      else if (p.status == Status::closed)
        f.what = "connection closed before the SMTP greeting";
      else if (p.status == Status::protocol_error)
        f.what = "answered with something that is not an SMTP greeting";
      else
        f.what = "no SMTP greeting: " + status_detail(p);
      f.what += "; not every MX accepts mail";
      f.fix = "Every MX in DNS should accept mail on port " + port +
              ": open the firewall, make the MTA listen on all addresses (Postfix: "
              "`inet_interfaces = all`), or remove the MX record of a host that no longer "
              "takes mail. Senders retry other MX, but a dead MX delays mail.";
      break;
    case Issue::greeting_rejected:
      f.severity = Severity::warning;
      f.what = "greeting rejected with " + std::to_string(p.greeting_code);
      if (!p.banner.empty()) f.what += ": " + quoted(p.banner);
      f.fix = "The server turned the connection away before EHLO (Postfix: postscreen, "
              "`smtpd_client_restrictions`, or 421 when overloaded; see "
              "`smtpd_client_connection_count_limit`). If only this scanner is meant to be "
              "refused there is nothing to fix; otherwise senders cannot deliver here.";
      break;
    case Issue::probe_failed:
      f.severity = Severity::warning;
      f.what = "probe stopped at " + phase_name(p.failed_phase) + ": " + status_detail(p);
      f.fix = "Read the MTA's log for this connection; a 4xx/5xx to EHLO/HELO, a dropped "
              "connection or a stall after TLS stops real senders as well. Postfix: "
              "`smtpd_tls_loglevel = 1` shows the TLS side.";
      break;
    case Issue::scanner_error:
      f.severity = Severity::info;
      f.what = "the scanner itself failed at " + phase_name(p.failed_phase) +
               (p.error.empty() ? std::string() : ": " + quoted(p.error));
      f.fix = "Not a problem of the server: run the check again (mxtls ran out of a local "
              "resource or hit an internal error).";
      break;
  }
  return f;
}

std::vector<Finding> domain_findings(const DomainResult& d) {
  std::vector<Finding> out;
  const std::string& domain = d.domain;
  auto add = [&](Severity s, std::string subject, std::string what, std::string fix) {
    out.push_back(Finding{s, std::move(subject), std::move(what), std::move(fix)});
  };
  switch (d.kind) {
    case DomainKind::null_mx:
      add(Severity::info, domain, "null MX (`MX 0 .`): the domain accepts no mail (RFC 7505)",
          "Nothing to do if the domain should receive no mail. To receive mail, replace the "
          "null MX with MX records naming your mail hosts.");
      break;
    case DomainKind::implicit_mx:
      add(Severity::info, domain,
          "no MX record: senders deliver to the domain's own address (implicit MX, RFC 5321 "
          "§5.1)",
          "Publish an MX record naming your mail host (e.g. `" + domain + ". IN MX 10 mx." +
              domain + ".`) so mail routing is explicit.");
      break;
    case DomainKind::nxdomain:
      add(Severity::critical, domain,
          "the domain does not exist (NXDOMAIN)" +
              (d.error.empty() ? std::string() : ": " + quoted(d.error)),
          "Check the spelling; if the domain is yours, check its registration and its "
          "delegation (NS records at the parent zone).");
      break;
    case DomainKind::dns_error:
      add(Severity::warning, domain,
          "MX lookup failed" + (d.error.empty() ? std::string() : ": " + quoted(d.error)),
          "Make sure the domain's authoritative name servers answer MX queries; a SERVFAIL "
          "often means broken DNSSEC (expired signatures, or a DS record at the parent that "
          "matches no DNSKEY).");
      break;
    case DomainKind::mx:
    case DomainKind::no_mx_hosts:
    case DomainKind::excluded:  // the scan chose not to look: nothing to judge
      break;
  }

  for (const auto& host : d.mx_hosts) {
    if (d.kind == DomainKind::null_mx) break;
    if (!host.addresses.empty() && host.error.empty()) continue;
    const std::string subject = host.name.empty() ? domain : host.name;
    std::string what = host.addresses.empty() ? "MX host has no address (no A/AAAA record)"
                                              : "MX host lookup partly failed";
    if (!host.error.empty()) what += ": " + quoted(host.error);
    add(Severity::warning, subject, std::move(what),
        "Publish A/AAAA records for " + subject +
            ", or correct the MX record: it must name a host with addresses (not an IP "
            "address, not a missing name).");
  }

  // Mail to the domain cannot be delivered at all: the decisive fact, said once.
  const bool takes_mail = d.kind == DomainKind::mx || d.kind == DomainKind::implicit_mx ||
                          d.kind == DomainKind::no_mx_hosts;
  const bool any_accepted =
      std::any_of(d.probes.begin(), d.probes.end(), [](const auto& p) { return greeting_accepted(p); });
  if (takes_mail && !any_accepted) {
    const bool scanner_only =
        !d.probes.empty() && std::all_of(d.probes.begin(), d.probes.end(), [](const auto& p) {
          return p.status == Status::internal;
        });
    if (!scanner_only)
      add(Severity::critical, domain,
          d.probes.empty() ? "no MX host has an address: mail to " + domain +
                                 " cannot be delivered"
                           : "no MX host answered with an SMTP greeting: mail to " + domain +
                                 " cannot be delivered now",
          "Make at least the most-preferred MX accept SMTP on port 25 from the Internet, with "
          "A/AAAA records for its name.");
  }
  return out;
}

// A finding is the same across addresses when what/fix/severity agree.
using FindingKey = std::tuple<int, std::string, std::string>;
FindingKey key_of(const Finding& f) {
  return {static_cast<int>(f.severity), f.what, f.fix};
}

}  // namespace

std::string probe_subject(const ProbeResult& p) {
  return p.mx + "[" + p.ip + "]" + port_suffix(p.port);
}

std::string_view postfix_word(CertVerdict v) {
  switch (v) {
    case CertVerdict::verified: return "Verified";
    case CertVerdict::trusted: return "Trusted";
    case CertVerdict::untrusted: return "Untrusted";
    case CertVerdict::anonymous: return "Anonymous";
  }
  return "?";
}

bool greeting_accepted(const ProbeResult& p) {
  if (p.greeting_code != 0) return p.greeting_code / 100 == 2;
  // No code recorded but the dialogue went on past EHLO: the greeting must have been 2xx.
  return p.starttls.has_value() || p.tls.has_value();
}

bool is_legacy_protocol(std::string_view v) {
  return v == "TLSv1" || v == "TLSv1.0" || v == "TLSv1.1" || v == "SSLv3" || v == "SSLv2";
}

bool is_weak_cipher(std::string_view name, int bits) {
  if (bits > 0 && bits < 128) return true;
  // OpenSSL names are '-'-separated ("DES-CBC3-SHA", "EXP-RC4-MD5", "NULL-SHA"); IANA-style
  // names use '_'. Compare whole tokens so "ECDHE" is not mistaken for "DES".
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("-_", start);
    if (end == std::string_view::npos) end = name.size();
    const std::string token = ascii_upper(name.substr(start, end - start));
    if (token == "RC4" || token == "NULL" || token == "ENULL" || token == "3DES" ||
        token.rfind("DES", 0) == 0 || token.rfind("EXP", 0) == 0 || token == "CBC3" ||
        token == "RC2" || token == "MD5")
      return true;
    start = end + 1;
  }
  return false;
}

std::vector<Issue> probe_issues(const ProbeResult& p) {
  std::vector<Issue> issues;
  if (p.status == Status::internal) {
    issues.push_back(Issue::scanner_error);
    return issues;
  }
  if (!greeting_accepted(p)) {
    if (p.greeting_code >= 400)
      issues.push_back(Issue::greeting_rejected);
    else if (p.status == Status::dns_error)
      issues.push_back(Issue::probe_failed);
    else
      issues.push_back(Issue::unreachable);
    return issues;
  }

  if (!p.injected_after_starttls.empty()) issues.push_back(Issue::injected_after_starttls);
  if (!p.auth_before_tls.empty()) issues.push_back(Issue::auth_before_tls);

  bool failure_explained = p.status == Status::ok;
  if (p.starttls == false) {
    issues.push_back(Issue::starttls_not_offered);
    failure_explained = true;
  } else if (p.starttls == true && !p.tls && p.status != Status::ok) {
    const bool at_tls_start = p.failed_phase == Phase::starttls ||
                              p.failed_phase == Phase::handshake ||
                              p.failed_phase == Phase::verify || p.status == Status::tls_error;
    if (at_tls_start) {
      issues.push_back(Issue::starttls_broken);
      failure_explained = true;
    }
  }

  if (p.tls) {
    const TlsFacts& tls = *p.tls;
    if (is_legacy_protocol(tls.version)) issues.push_back(Issue::legacy_protocol);
    if (is_weak_cipher(tls.cipher, tls.cipher_bits)) issues.push_back(Issue::weak_cipher);
    if (!tls.cert || tls.verdict == CertVerdict::anonymous) {
      issues.push_back(Issue::cert_anonymous);
    } else if (tls.verdict == CertVerdict::untrusted) {
      issues.push_back(classify_chain_error(tls.verify_error));
      if (!tls.name_matched) issues.push_back(Issue::cert_wrong_name);
    } else if (tls.verdict == CertVerdict::trusted) {
      issues.push_back(Issue::cert_wrong_name);
    }
  }

  if (!failure_explained && p.status != Status::not_offered) issues.push_back(Issue::probe_failed);
  return issues;
}

std::string_view issue_label(Issue issue) {
  switch (issue) {
    case Issue::starttls_not_offered: return "no STARTTLS";
    case Issue::starttls_broken: return "STARTTLS broken";
    case Issue::legacy_protocol: return "old TLS";
    case Issue::weak_cipher: return "weak cipher";
    case Issue::cert_expired: return "cert expired";
    case Issue::cert_not_yet_valid: return "cert not yet valid";
    case Issue::cert_self_signed: return "self-signed";
    case Issue::cert_unknown_issuer: return "unknown issuer";
    case Issue::cert_untrusted: return "untrusted cert";
    case Issue::cert_wrong_name: return "wrong name";
    case Issue::cert_anonymous: return "no cert";
    case Issue::auth_before_tls: return "AUTH before TLS";
    case Issue::injected_after_starttls: return "STARTTLS injection";
    case Issue::unreachable: return "MX unreachable";
    case Issue::greeting_rejected: return "greeting rejected";
    case Issue::probe_failed: return "probe failed";
    case Issue::scanner_error: return "scanner error";
  }
  return "?";
}

std::vector<std::size_t> delivery_order(const DomainResult& d) {
  std::vector<std::size_t> order(d.probes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& pa = d.probes[a];
    const auto& pb = d.probes[b];
    if (pa.preference != pb.preference) return pa.preference < pb.preference;
    return pa.mx < pb.mx;
  });
  return order;
}

std::optional<GmailLock> gmail_lock_for(const DomainResult& d) {
  // A null MX or a missing domain takes no mail, whatever probes may exist.
  if (d.kind == DomainKind::null_mx || d.kind == DomainKind::nxdomain ||
      d.kind == DomainKind::dns_error)
    return std::nullopt;
  for (std::size_t i : delivery_order(d)) {
    const ProbeResult& p = d.probes[i];
    if (!greeting_accepted(p)) continue;  // a sender moves on to the next address/MX
    // Opportunistic TLS (Postfix `may`, Gmail) accepts any certificate, so a completed
    // handshake is enough for the grey lock; without it the sender delivers in cleartext.
    return p.tls ? GmailLock::grey : GmailLock::red;
  }
  return std::nullopt;
}

PolicyFields policy_fields(const DomainResult& d, const ProbeResult& p) {
  PolicyFields f;
  f.dnssec_mx = d.dnssec_mx;
  f.dnssec_addr = p.dnssec_addr;
  if (p.dnssec_addr) f.dane = to_string(p.dane.state);
  if (p.dane.state == DaneState::matched) f.dane_match = true;
  else if (p.dane.state == DaneState::failed) f.dane_match = false;
  if (d.mta_sts.mode) f.mta_sts_mode = to_string(*d.mta_sts.mode);
  for (const auto& host : d.mx_hosts)
    if (host.name == p.mx) f.mta_sts_mx_match = host.mta_sts_match;
  f.mta_sts_verdict = to_string(d.mta_sts.verdict);
  f.tls_rpt = to_string(d.tls_rpt.state);
  return f;
}

namespace {

// The probes a sender would reach (2xx greeting), in delivery order.
std::vector<const ProbeResult*> reachable_probes(const DomainResult& d) {
  std::vector<const ProbeResult*> out;
  for (std::size_t i : delivery_order(d))
    if (greeting_accepted(d.probes[i])) out.push_back(&d.probes[i]);
  return out;
}

bool verified(const ProbeResult& p) { return p.tls && p.tls->verdict == CertVerdict::verified; }

bool mx_listed(const DomainResult& d, const std::string& mx) {
  for (const auto& h : d.mx_hosts)
    if (h.name == mx) return h.mta_sts_match.value_or(false);
  return false;
}

// Does a sender applying DANE deliver to this probe, and authenticated?
struct DaneStep {
  bool accepts = true;  // false: the sender defers instead of delivering here
  bool needs_tls = false;
  bool authenticated = false;
};
DaneStep dane_step(const ProbeResult& p) {
  switch (p.dane.state) {
    case DaneState::matched: return {true, true, true};
    case DaneState::failed:
    case DaneState::lookup_error: return {false, true, false};
    case DaneState::unusable: return {p.tls.has_value(), true, false};  // RFC 7672 §2.2: TLS, unauthenticated
    case DaneState::not_applicable:
    case DaneState::no_records: break;
  }
  return {true, false, false};
}

}  // namespace

std::vector<PolicyOutcome> side_by_side(const DomainResult& d) {
  const auto reachable = reachable_probes(d);
  std::vector<PolicyOutcome> rows;

  PolicyOutcome opportunistic{"opportunistic", true, false, false, false, false, {}};
  if (!reachable.empty()) {
    opportunistic.delivered = true;
    opportunistic.encrypted = reachable.front()->tls.has_value();
    opportunistic.every_mx = std::all_of(reachable.begin(), reachable.end(), [](const ProbeResult* p) { return p->tls.has_value(); });
    opportunistic.note = opportunistic.encrypted ? "any certificate accepted" : "cleartext: STARTTLS missing or broken";
  } else {
    opportunistic.note = "no MX answered";
  }
  rows.push_back(opportunistic);

  PolicyOutcome verify{"verify", true, false, false, false, false, {}};
  for (const ProbeResult* p : reachable)
    if (verified(*p)) verify.delivered = verify.encrypted = verify.authenticated = true;
  verify.every_mx = !reachable.empty() && std::all_of(reachable.begin(), reachable.end(), [](const ProbeResult* p) { return verified(*p); });
  verify.note = verify.delivered ? (verify.every_mx ? "every MX shows a Verified certificate" : "only some MX verify")
                                 : "no MX shows a Verified certificate: mail is deferred";
  rows.push_back(verify);

  PolicyOutcome sts{"MTA-STS", false, opportunistic.delivered, opportunistic.encrypted, false, opportunistic.every_mx, {}};
  const MtaStsFacts& m = d.mta_sts;
  if (!m.mode || *m.mode == MtaStsMode::none) {
    sts.note = m.mode ? "mode none: senders act as without a policy"
               : m.verdict == MtaStsVerdict::error ? "published but unusable: senders act as without a policy"
                                                   : "no policy published";
  } else if (*m.mode == MtaStsMode::testing) {
    sts.applies = true;
    sts.note = m.verdict == MtaStsVerdict::pass ? "testing: would pass under enforce" : "testing: failures are only reported";
  } else {
    sts.applies = true;
    sts.delivered = sts.encrypted = sts.authenticated = false;
    bool all = !reachable.empty();
    for (const ProbeResult* p : reachable) {
      const bool ok = verified(*p) && mx_listed(d, p->mx);
      if (ok) sts.delivered = sts.encrypted = sts.authenticated = true;
      all = all && ok;
    }
    sts.every_mx = all;
    sts.note = sts.delivered ? (all ? "every MX listed and Verified" : "some MX fail the policy") : "no MX passes: mail is deferred";
  }
  rows.push_back(sts);

  PolicyOutcome dane{"DANE", false, false, false, false, false, {}};
  const bool published = std::any_of(reachable.begin(), reachable.end(), [](const ProbeResult* p) {
    return p->dane.state != DaneState::not_applicable && p->dane.state != DaneState::no_records;
  });
  if (!published) {
    dane.delivered = opportunistic.delivered;
    dane.encrypted = opportunistic.encrypted;
    dane.every_mx = opportunistic.every_mx;
    dane.note = "no usable TLSA: senders act as without DANE";
  } else {
    dane.applies = true;
    bool all = true;
    for (const ProbeResult* p : reachable) {
      const DaneStep step = dane_step(*p);
      const bool ok = step.accepts && (!step.needs_tls || p->tls.has_value());
      all = all && ok && step.authenticated;
      if (ok && !dane.delivered) {
        dane.delivered = true;
        dane.encrypted = p->tls.has_value();
        dane.authenticated = step.authenticated;
      }
    }
    dane.every_mx = all;
    // Deferred because the TLSA lookup failed is not the same fix as a stale record.
    const bool lookup_failed = std::any_of(reachable.begin(), reachable.end(), [](const ProbeResult* p) {
      return p->dane.state == DaneState::lookup_error;
    });
    dane.note = !dane.delivered ? (lookup_failed ? "TLSA lookup failed: mail is deferred" : "TLSA do not match: mail is deferred")
                : all          ? "every MX matches its TLSA"
                               : "some MX without a TLSA match";
  }
  rows.push_back(dane);
  return rows;
}

namespace {

// DANE, MTA-STS and TLS-RPT findings, with the fix in the admin's words.
void policy_findings(const DomainResult& d, std::vector<Finding>& out) {
  using Severity = Finding::Severity;
  std::set<std::string> seen;
  auto add = [&](Severity s, std::string subject, std::string what, std::string fix) {
    if (seen.insert(subject + "\n" + what).second) out.push_back(Finding{s, std::move(subject), std::move(what), std::move(fix)});
  };
  for (std::size_t i : delivery_order(d)) {
    const ProbeResult& p = d.probes[i];
    const std::string port = std::to_string(p.port);
    const std::string tlsa_name = "_" + port + "._tcp." + p.mx;
    switch (p.dane.state) {
      case DaneState::failed:
        add(Severity::critical, probe_subject(p), "DANE: the TLSA records no longer match the server (" + p.dane.detail + ")",
            "DANE senders defer mail to this MX. If the certificate or key was changed, publish a TLSA record for the "
            "new one (e.g. `" + tlsa_name + ". IN TLSA 3 1 1 <SHA-256 of the new public key>`); during a change keep the "
            "old and the new record side by side until both are in every cache.");
        break;
      case DaneState::lookup_error:
        add(Severity::critical, p.mx, "DANE: the TLSA lookup failed (" + p.dane.detail + ")",
            "DANE senders defer mail while this lasts. A SERVFAIL usually means broken DNSSEC for " + tlsa_name +
                " (expired signatures, a DS that matches no key): fix the zone's signing.");
        break;
      case DaneState::unusable:
        add(Severity::warning, p.mx, "DANE: TLSA records exist but none is usable for SMTP (" + p.dane.detail + ")",
            "Senders require TLS but cannot authenticate. Publish DANE-EE: `" + tlsa_name + ". IN TLSA 3 1 1 <SHA-256 of the "
            "public key>` (usages 0 and 1 are not used for SMTP, RFC 7672).");
        break;
      case DaneState::no_records:
        if (p.dane.halfdane)
          add(Severity::warning, p.mx, "DANE: " + p.dane.detail, "Sign the zone that holds " + tlsa_name + " (or move the record into the signed zone).");
        else if (p.tls)
          add(Severity::info, p.mx, "DANE: the MX host is in a DNSSEC-signed zone but publishes no TLSA record",
              "Publish TLSA so senders can authenticate this MX: `" + tlsa_name + ". IN TLSA 3 1 1 <SHA-256 of the public "
              "key>` (e.g. from `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`).");
        break;
      case DaneState::not_applicable:
        if (p.dane.halfdane)
          add(Severity::warning, p.mx, "DANE: " + p.dane.detail,
              "Sign the zone of the MX host's A/AAAA records too; until then senders do not use the TLSA records.");
        break;
      case DaneState::matched: break;
    }
  }

  const MtaStsFacts& m = d.mta_sts;
  for (const auto& problem : m.problems)
    add(Severity::warning, "mta-sts." + d.domain, "MTA-STS policy: " + problem,
        "Correct the policy file at " + m.policy_url + " (RFC 8461 3.2), then change the id= in the _mta-sts TXT record.");
  if (m.verdict == MtaStsVerdict::error)
    add(Severity::warning, d.domain, "MTA-STS published but unusable: " + m.error,
        "Senders ignore the policy. Serve a valid policy as text/plain at https://mta-sts." + d.domain +
            "/.well-known/mta-sts.txt with a certificate valid for that name, without redirects.");
  if (m.mode && *m.mode != MtaStsMode::none) {
    const bool enforce = *m.mode == MtaStsMode::enforce;
    for (const auto& h : d.mx_hosts)
      if (h.mta_sts_match == false)
        add(enforce ? Severity::critical : Severity::warning, h.name, "MTA-STS: the MX is not listed in the policy",
            "Add `mx: " + h.name + "` (or a matching `mx: *.` pattern) to the policy and change the id= of the TXT record." +
                std::string(enforce ? " Senders refuse to deliver to this MX until then." : ""));
    for (const ProbeResult* p : reachable_probes(d))
      if (!verified(*p))
        add(enforce ? Severity::critical : Severity::warning, probe_subject(*p),
            std::string("MTA-STS: the certificate is not Verified (") +
                (p->tls ? std::string(postfix_word(p->tls->verdict)) : std::string("no TLS")) + ")",
            "Renew or replace the certificate so it chains to a public CA and names " + p->mx +
                (enforce ? "; senders do not deliver to this MX until then." : "."));
    if (!enforce && m.verdict == MtaStsVerdict::pass)
      add(Severity::info, d.domain, "MTA-STS is in testing mode and every MX passes",
          "Move from `mode: testing` to `mode: enforce` (and change the id= of the TXT record) so senders refuse downgrades.");
  }
  if (d.tls_rpt.state == TlsRptState::invalid || d.tls_rpt.state == TlsRptState::dns_error)
    add(Severity::warning, "_smtp._tls." + d.domain, "TLS-RPT record unusable: " + d.tls_rpt.error,
        "Publish `_smtp._tls." + d.domain + ". IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@" + d.domain + "\"`.");
  else if (d.tls_rpt.state == TlsRptState::absent && m.mode)
    add(Severity::info, d.domain, "MTA-STS without TLS-RPT: nobody hears about delivery failures",
        "Publish `_smtp._tls." + d.domain + ". IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@" + d.domain + "\"`.");
}

}  // namespace

void judge_domain(DomainResult& d) {
  d.gmail_lock = gmail_lock_for(d);

  std::vector<Finding> findings = domain_findings(d);
  policy_findings(d, findings);

  // MX names whose lookup problem is already reported from mx_hosts.
  std::set<std::string> mx_with_dns_finding;
  for (const auto& host : d.mx_hosts)
    if (!host.error.empty() || host.addresses.empty()) mx_with_dns_finding.insert(host.name);

  struct PerProbe {
    std::string mx_key;
    std::string subject;
    Finding finding;
  };
  std::vector<PerProbe> pending;
  std::map<std::string, std::set<std::string>> addresses_of_mx;  // mx_key → probe subjects
  for (std::size_t i : delivery_order(d)) {
    const ProbeResult& p = d.probes[i];
    addresses_of_mx[mx_subject(p)].insert(probe_subject(p));
    for (Issue issue : probe_issues(p)) {
      if (p.status == Status::dns_error && issue == Issue::probe_failed &&
          (mx_with_dns_finding.count(p.mx) || p.failed_phase == Phase::resolve_mx))
        continue;
      Finding f = make_finding(issue, p);
      pending.push_back({mx_subject(p), f.subject, std::move(f)});
    }
  }

  // Which subjects carry each (MX, finding): when every address of an MX with several
  // addresses has it, say it once for the MX host.
  std::map<std::pair<std::string, FindingKey>, std::set<std::string>> holders;
  for (const auto& item : pending) holders[{item.mx_key, key_of(item.finding)}].insert(item.subject);

  std::set<std::tuple<std::string, FindingKey>> emitted;
  for (auto& item : pending) {
    const FindingKey key = key_of(item.finding);
    const auto& all = addresses_of_mx[item.mx_key];
    const bool whole_mx = all.size() >= 2 && holders[{item.mx_key, key}] == all;
    std::string subject = whole_mx ? item.mx_key : item.subject;
    if (!emitted.insert({subject, key}).second) continue;
    item.finding.subject = std::move(subject);
    findings.push_back(std::move(item.finding));
  }

  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return static_cast<int>(a.severity) > static_cast<int>(b.severity);
  });
  d.findings = std::move(findings);
}

bool has_problems(const DomainResult& d) {
  return std::any_of(d.findings.begin(), d.findings.end(),
                     [](const Finding& f) { return f.severity != Finding::Severity::info; });
}

}  // namespace mxtls::report
