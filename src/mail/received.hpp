// Received: header parsing: where a message travelled and whether each hop said it used TLS.
// Reads the header section of a saved message (or of one received by `mxtls listen`); every
// byte is hostile, so header count, header length and the section size are all capped.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::mail {

// Did this hop travel encrypted, as far as its Received: header tells?
enum class Encryption { yes, no, unknown };
std::string_view to_string(Encryption);

struct ReceivedHop {
  std::string from;          // the "from" clause: the name the sending host gave (HELO/EHLO)
  std::string from_detail;   // the comment after it, e.g. "mail.example.jp [192.0.2.1]"
  std::string from_address;  // the bracketed IP literal in the from clause, if any
  std::string by;            // the receiving host
  std::string by_detail;     // comment after "by" (software, e.g. "Postfix")
  std::string with;          // the "with" clause as written: "ESMTPS", "esmtps", "Microsoft SMTP Server"
  std::string protocol;      // first word of "with", upper case: "ESMTPS", "SMTP", "LMTP", "LOCAL"…
  std::string id;
  std::string for_address;
  std::string date;          // text after the last ';' (as written, not parsed)

  std::string tls_version;   // normalised to OpenSSL's names ("TLSv1.3", "TLSv1") where known
  std::string cipher;
  int cipher_bits = 0;
  std::string group;         // Postfix's "key-exchange X25519"
  Encryption encrypted = Encryption::unknown;
  bool local = false;        // never crossed a network (local pickup, LMTP, loopback)
  std::string evidence;      // why `encrypted` was judged so, in words for the report

  bool malformed = false;    // unbalanced comment, no from/by, cut, …
  std::string raw;           // the unfolded header value (bounded by the caller's cap)
};

// Parses one unfolded Received: value (without the "Received:" name). Never throws on any
// input; what cannot be understood leaves fields empty and `encrypted` unknown.
ReceivedHop parse_received(std::string_view value);

// "TLS1_3", "TLSv1.3", "TLS1.3", "tls1_3" → "TLSv1.3"; "TLS1", "TLSv1.0" → "TLSv1"; "SSLv3" stays.
// Anything else comes back as given.
std::string normalize_tls_version(std::string_view text);

struct HeaderLimits {
  std::size_t max_section_bytes = 1 << 20;  // header section; the body is never looked at
  std::size_t max_headers = 1000;
  std::size_t max_header_bytes = 16 * 1024;  // one unfolded header; longer ones are cut
  std::size_t max_received = 100;            // RFC 5321 §6.3 suggests ~100 hops as a loop limit
};

struct HeaderField {
  std::string name;   // as written
  std::string value;  // unfolded (CRLF + WSP → the WSP), leading blanks removed
};

struct ParsedHeaders {
  std::vector<HeaderField> fields;  // in message order (at most max_headers)
  std::vector<ReceivedHop> hops;    // oldest first: sender → … → final receiver
  std::vector<std::string> notes;   // caps hit, malformed lines skipped, no header end, …
  bool capped = false;              // some limit was hit: the list may be incomplete
  bool complete = false;            // the empty line ending the header section was seen
  std::size_t section_bytes = 0;    // bytes of the header section consumed
};

// Splits the header section off `message` (CRLF or bare LF), unfolds and parses it. A leading
// mbox "From " line is skipped. Received: headers are prepended by each receiver, so the
// returned hops are in reverse header order.
ParsedHeaders parse_headers(std::string_view message, const HeaderLimits& limits = {});

// The hops that count for "did this mail travel in cleartext": non-local ones.
struct HopSummary {
  std::size_t total = 0, encrypted = 0, cleartext = 0, unknown = 0, local = 0;
  bool all_encrypted() const { return cleartext == 0 && unknown == 0; }
};
HopSummary summarize(const std::vector<ReceivedHop>& hops);

}  // namespace mxtls::mail
