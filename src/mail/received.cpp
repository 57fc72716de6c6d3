// Received: header parsing. The grammar of RFC 5321 §4.4 is what well-behaved MTAs write, but
// real headers (Gmail, Postfix, Exim, Microsoft, Sendmail, qmail) bend it, so this is a tolerant
// tokenizer (atoms and nested comments) plus the TLS shapes each of those MTAs is known to write.
#include "mail/received.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mxtls::mail {

std::string_view to_string(Encryption e) {
  switch (e) {
    case Encryption::yes: return "yes";
    case Encryption::no: return "no";
    case Encryption::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

// Nested comments deeper than this are flattened: no real MTA nests more than two levels and
// the limit keeps a hostile "((((((…" from costing anything.
constexpr int max_comment_depth = 32;

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

bool icontains(std::string_view text, std::string_view needle) {
  if (needle.size() > text.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (iequals(text.substr(i, needle.size()), needle)) return true;
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// Words of a comment, split on blanks and commas (Microsoft writes "version=TLS1_2, cipher=…").
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (is_wsp(text[i]) || text[i] == ',' || text[i] == ';')) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_wsp(text[i]) && text[i] != ',' && text[i] != ';') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

int leading_int(std::string_view text) {
  int value = 0;
  while (!text.empty() && (text.front() == '(' || text.front() == '=')) text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  (void)ptr;
  return ec == std::errc() && value > 0 && value <= 65536 ? value : 0;
}

struct Token {
  bool comment = false;
  std::string_view text;  // atom, or the comment's inside (nested parentheses kept)
};

struct Tokenized {
  std::vector<Token> tokens;
  bool unbalanced = false;
};

// Atoms and comments of the part before the date. Quoted strings and <…> stay inside one
// atom; a backslash escapes the next character inside comments (RFC 5322 quoted-pair).
Tokenized tokenize(std::string_view text) {
  Tokenized out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_wsp(c) || c == ';') {
      ++i;
      continue;
    }
    if (c == ')') {  // a stray closing parenthesis: skip it, remember the header was odd
      out.unbalanced = true;
      ++i;
      continue;
    }
    if (c == '(') {
      int depth = 1;
      std::size_t j = i + 1;
      while (j < text.size() && depth > 0) {
        if (text[j] == '\\' && j + 1 < text.size()) {
          j += 2;
          continue;
        }
        if (text[j] == '(' && depth < max_comment_depth) ++depth;
        else if (text[j] == ')') --depth;
        ++j;
      }
      if (depth > 0) {
        out.unbalanced = true;  // runs to the end: the rest is taken as the comment
        out.tokens.push_back({true, text.substr(i + 1)});
        break;
      }
      out.tokens.push_back({true, text.substr(i + 1, j - i - 2)});
      i = j;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && !is_wsp(text[j]) && text[j] != '(' && text[j] != ')' && text[j] != ';') {
      const char open = text[j];
      if (open == '"' || open == '<') {
        const char close = open == '"' ? '"' : '>';
        std::size_t k = text.find(close, j + 1);
        j = k == std::string_view::npos ? text.size() : k + 1;
        continue;
      }
      ++j;
    }
    out.tokens.push_back({false, text.substr(i, j - i)});
    i = j;
  }
  return out;
}

// The last ';' outside comments separates the date (RFC 5321 §4.4 "; date-time").
std::size_t date_separator(std::string_view text) {
  int depth = 0;
  std::size_t found = std::string_view::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && depth > 0) {
      ++i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (c == ';' && depth == 0) {
      found = i;
    }
  }
  return found;
}

enum class Clause { none, from, by, via, with, id, for_ };

Clause clause_of(std::string_view atom) {
  if (iequals(atom, "from")) return Clause::from;
  if (iequals(atom, "by")) return Clause::by;
  if (iequals(atom, "via")) return Clause::via;
  if (iequals(atom, "with")) return Clause::with;
  if (iequals(atom, "id")) return Clause::id;
  if (iequals(atom, "for")) return Clause::for_;
  return Clause::none;
}

struct ClauseText {
  std::vector<std::string_view> atoms;
  std::vector<std::string_view> comments;
};

// "TLS1.3", "TLSv1.2", "TLS1_2", "SSLv3": a protocol version as some MTA writes it.
bool looks_like_tls_version(std::string_view text) {
  if (!(istarts_with(text, "TLS") || istarts_with(text, "SSL"))) return false;
  text.remove_prefix(3);
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) text.remove_prefix(1);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_';
  });
}

bool is_ip_literal(std::string_view text) {
  if (istarts_with(text, "IPv6:")) text.remove_prefix(5);
  if (text.empty() || text.size() > 45) return false;
  bool has_digit = false, separators = false;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) has_digit = true;
    else if (c == '.' || c == ':') separators = true;
    else return false;
  }
  return has_digit && separators;
}

// The address of the sending host: "[192.0.2.1]" in the from value or its comment (Postfix,
// Gmail, Exim, Sendmail), or a bare address as Microsoft writes "(2603:1096:…::16)".
std::string find_address(const ClauseText& from) {
  auto bracketed = [](std::string_view text) -> std::string {
    const auto open = text.find('[');
    if (open == std::string_view::npos) return {};
    const auto close = text.find(']', open);
    if (close == std::string_view::npos) return {};
    std::string_view inside = text.substr(open + 1, close - open - 1);
    if (istarts_with(inside, "IPv6:")) inside.remove_prefix(5);
    return is_ip_literal(inside) ? std::string(inside) : std::string();
  };
  for (auto atom : from.atoms)
    if (auto a = bracketed(atom); !a.empty()) return a;
  for (auto comment : from.comments) {
    if (auto a = bracketed(comment); !a.empty()) return a;
    for (auto w : words(comment))
      if (is_ip_literal(w) && w.find(':') != std::string_view::npos) return std::string(w);
  }
  return {};
}

bool is_loopback(std::string_view address) {
  return address.rfind("127.", 0) == 0 || address == "::1";
}

std::string joined(const std::vector<std::string_view>& parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += ' ';
    out.append(p);
  }
  return out;
}

// TLS facts written inside one comment, in any of the known shapes.
void read_tls_comment(std::string_view comment, ReceivedHop& hop) {
  comment = trim(comment);
  const auto ws = words(comment);
  if (ws.empty()) return;

  // Postfix: "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 …"
  if (iequals(ws[0], "using") && ws.size() >= 2 && looks_like_tls_version(ws[1])) {
    hop.tls_version = normalize_tls_version(ws[1]);
    for (std::size_t i = 2; i + 1 < ws.size(); ++i) {
      if (iequals(ws[i], "cipher") && hop.cipher.empty()) hop.cipher = std::string(ws[i + 1]);
      if (iequals(ws[i], "key-exchange")) hop.group = std::string(ws[i + 1]);
    }
    for (std::size_t i = 0; i + 1 < ws.size(); ++i)
      if (ws[i].front() == '(' && (ws[i + 1] == "bits)" || ws[i + 1] == "bits")) {
        hop.cipher_bits = leading_int(ws[i]);
        break;
      }
    return;
  }

  // Gmail, Sendmail, Microsoft: "version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256".
  bool key_values = false;
  for (auto w : ws) {
    const auto eq = w.find('=');
    if (eq == std::string_view::npos) continue;
    const auto key = w.substr(0, eq);
    const auto value = w.substr(eq + 1);
    if (value.empty()) continue;
    if (iequals(key, "version") && looks_like_tls_version(value)) {
      hop.tls_version = normalize_tls_version(value);
      key_values = true;
    } else if (iequals(key, "cipher")) {
      hop.cipher = std::string(value);
      key_values = true;
    } else if (iequals(key, "bits") && key_values) {
      hop.cipher_bits = leading_int(value);
    }
  }
  if (key_values) return;

  // Exim ≥ 4.92: "(TLS1.3)"; older Exim: "(TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256)".
  if (ws.size() == 1) {
    const std::string_view w = ws[0];
    const auto colon = w.find(':');
    const std::string_view version = w.substr(0, colon);
    if (!looks_like_tls_version(version)) return;
    hop.tls_version = normalize_tls_version(version);
    if (colon != std::string_view::npos) {
      std::string_view rest = w.substr(colon + 1);
      const auto second = rest.find(':');
      hop.cipher = std::string(rest.substr(0, second));
      if (second != std::string_view::npos) hop.cipher_bits = leading_int(rest.substr(second + 1));
    }
  }
}

bool is_encrypted_keyword(std::string_view protocol) {
  // RFC 3848 (and RFC 6531 for UTF8*): the trailing S means STARTTLS was used.
  for (std::string_view k : {"ESMTPS", "ESMTPSA", "UTF8SMTPS", "UTF8SMTPSA", "LMTPS", "LMTPSA"})
    if (protocol == k) return true;
  return false;
}

bool is_cleartext_keyword(std::string_view protocol) {
  for (std::string_view k : {"SMTP", "ESMTP", "ESMTPA", "UTF8SMTP", "UTF8SMTPA", "ASMTP"})
    if (protocol == k) return true;
  return false;
}

}  // namespace

std::string normalize_tls_version(std::string_view text) {
  if (!looks_like_tls_version(text)) return std::string(text);
  const bool ssl = istarts_with(text, "SSL");
  std::string_view rest = text.substr(3);
  if (!rest.empty() && (rest.front() == 'v' || rest.front() == 'V')) rest.remove_prefix(1);
  std::string digits(rest);
  std::replace(digits.begin(), digits.end(), '_', '.');
  if (!ssl && (digits == "1" || digits == "1.0")) return "TLSv1";
  return (ssl ? "SSLv" : "TLSv") + digits;
}

ReceivedHop parse_received(std::string_view value) {
  ReceivedHop hop;
  hop.raw = std::string(value);
  value = trim(value);

  std::string_view head = value;
  if (const auto semi = date_separator(value); semi != std::string_view::npos) {
    hop.date = std::string(trim(value.substr(semi + 1)));
    head = value.substr(0, semi);
  }
  const Tokenized tokenized = tokenize(head);
  hop.malformed = tokenized.unbalanced;

  ClauseText preamble, from, by, via, with, id, for_;
  auto text_of = [&](Clause c) -> ClauseText& {
    switch (c) {
      case Clause::from: return from;
      case Clause::by: return by;
      case Clause::via: return via;
      case Clause::with: return with;
      case Clause::id: return id;
      case Clause::for_: return for_;
      case Clause::none: break;
    }
    return preamble;
  };
  Clause current = Clause::none;
  bool expecting_value = false;
  bool seen_from = false, seen_by = false;
  for (const Token& t : tokenized.tokens) {
    if (t.comment) {
      text_of(current).comments.push_back(t.text);
      continue;
    }
    if (!expecting_value) {
      if (const Clause c = clause_of(t.text); c != Clause::none) {
        current = c;
        expecting_value = true;
        if (c == Clause::from) seen_from = true;
        if (c == Clause::by) seen_by = true;
        continue;
      }
    }
    text_of(current).atoms.push_back(t.text);
    expecting_value = false;
  }

  // Exim writes "with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384": the cipher follows "tls".
  std::vector<std::string_view> with_atoms;
  for (std::size_t i = 0; i < with.atoms.size(); ++i) {
    if (iequals(with.atoms[i], "tls") && i + 1 < with.atoms.size() && i > 0) {
      hop.cipher = std::string(with.atoms[i + 1]);
      ++i;
      continue;
    }
    with_atoms.push_back(with.atoms[i]);
  }

  hop.from = joined(from.atoms);
  if (!from.comments.empty()) hop.from_detail = std::string(trim(from.comments.front()));
  hop.from_address = find_address(from);
  hop.by = joined(by.atoms);
  if (!by.comments.empty()) hop.by_detail = std::string(trim(by.comments.front()));
  hop.with = joined(with_atoms);
  if (!with_atoms.empty()) hop.protocol = ascii_upper(with_atoms.front());
  hop.id = joined(id.atoms);
  hop.for_address = joined(for_.atoms);

  for (const ClauseText* clause : {&preamble, &from, &by, &via, &with, &id, &for_})
    for (auto comment : clause->comments) read_tls_comment(comment, hop);

  // Local hops: pickup from a local user, LMTP/local delivery, loopback re-injection (content
  // filters). They are shown but never make a message "cleartext on the Internet".
  const bool local_protocol = hop.protocol == "LOCAL" || hop.protocol.rfind("LOCAL-", 0) == 0 ||
                              hop.protocol == "LMTP" || hop.protocol == "LMTPA";
  // A hop without "from" did not arrive over a connection (RFC 5321 §4.4 requires the FROM
  // clause for SMTP): Postfix pickup, Gmail's internal "by 2002:… with SMTP".
  const bool internal_handoff = seen_by && !seen_from;
  const bool local_pickup = icontains(hop.by_detail, "from userid") || icontains(hop.by_detail, "/Submit") ||
                            (!seen_from && !preamble.comments.empty() && istarts_with(trim(preamble.comments.front()), "from ")) ||
                            (!preamble.comments.empty() && icontains(preamble.comments.front(), "invoked by uid"));
  const bool loopback = is_loopback(hop.from_address);
  hop.local = local_protocol || local_pickup || internal_handoff || loopback;

  const bool microsoft = istarts_with(hop.with, "Microsoft SMTP");
  if (!hop.tls_version.empty() || !hop.cipher.empty()) {
    hop.encrypted = Encryption::yes;
    hop.evidence = "TLS details in the header";
  } else if (is_encrypted_keyword(hop.protocol)) {
    hop.encrypted = Encryption::yes;
    hop.evidence = "\"with " + hop.protocol + "\" (RFC 3848: STARTTLS used)";
  } else if (microsoft) {
    // Exchange/Office 365 write "(version=…, cipher=…)" whenever TLS was used.
    hop.encrypted = Encryption::no;
    hop.evidence = "Microsoft SMTP Server without TLS details";
  } else if (is_cleartext_keyword(hop.protocol)) {
    hop.encrypted = Encryption::no;
    hop.evidence = "\"with " + hop.protocol + "\" (no STARTTLS)";
  } else if (hop.local) {
    hop.encrypted = Encryption::no;
    hop.evidence = hop.protocol.empty() ? "local submission" : "local delivery (" + hop.protocol + ")";
  } else if (hop.protocol.empty()) {
    hop.evidence = "no \"with\" clause";
  } else {
    hop.evidence = "protocol \"" + hop.with + "\" says nothing about TLS";
  }
  if (hop.local && hop.encrypted != Encryption::yes) {
    if (local_protocol) hop.evidence = "local delivery (" + hop.protocol + "), not over the network";
    else if (loopback) hop.evidence = "from a loopback address (content filter or local relay)";
    else if (local_pickup) hop.evidence = "local submission (a program on the sending host)";
    else if (internal_handoff) hop.evidence = "no \"from\": an internal hand-off, not a delivery over the network";
  }
  if (!seen_from && !seen_by) hop.malformed = true;
  return hop;
}

ParsedHeaders parse_headers(std::string_view message, const HeaderLimits& limits) {
  ParsedHeaders out;
  std::string_view input = message;
  if (input.size() > limits.max_section_bytes) input = input.substr(0, limits.max_section_bytes);
  std::size_t pos = 0;
  std::size_t malformed_lines = 0;
  bool field_cut_noted = false;
  bool first_line = true;
  HeaderField* current = nullptr;
  while (pos < input.size()) {
    const std::size_t nl = input.find('\n', pos);
    const bool has_end = nl != std::string_view::npos;
    std::string_view line = input.substr(pos, has_end ? nl - pos : std::string_view::npos);
    // A line cut by the size cap is not a whole line: stop before it.
    if (!has_end && input.size() < message.size()) break;
    pos = has_end ? nl + 1 : input.size();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      out.complete = true;
      break;
    }
    if (first_line && line.rfind("From ", 0) == 0) {  // mbox separator of a saved message
      first_line = false;
      continue;
    }
    first_line = false;
    if (line.front() == ' ' || line.front() == '\t') {
      if (!current) {
        ++malformed_lines;
        continue;
      }
      // RFC 5322 §2.2.3: unfolding removes the CRLF, the white space stays.
      if (current->value.size() + line.size() > limits.max_header_bytes) {
        current->value.append(line.substr(0, limits.max_header_bytes - std::min(current->value.size(), limits.max_header_bytes)));
        if (!field_cut_noted) {
          out.notes.push_back("a header longer than " + std::to_string(limits.max_header_bytes) + " bytes was cut");
          field_cut_noted = true;
        }
        out.capped = true;
      } else {
        current->value.append(line);
      }
      continue;
    }
    const auto colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    const bool valid_name = colon != std::string_view::npos && !name.empty() &&
                            std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127; });
    if (!valid_name) {
      ++malformed_lines;
      current = nullptr;
      continue;
    }
    if (out.fields.size() >= limits.max_headers) {
      out.capped = true;
      out.notes.push_back("more than " + std::to_string(limits.max_headers) + " header fields: the rest was not read");
      current = nullptr;
      break;
    }
    std::string_view value = line.substr(colon + 1);
    if (value.size() > limits.max_header_bytes) {
      value = value.substr(0, limits.max_header_bytes);
      out.capped = true;
      if (!field_cut_noted) {
        out.notes.push_back("a header longer than " + std::to_string(limits.max_header_bytes) + " bytes was cut");
        field_cut_noted = true;
      }
    }
    out.fields.push_back({std::string(name), std::string(value)});
    current = &out.fields.back();
  }
  out.section_bytes = pos;
  if (!out.complete && message.size() > limits.max_section_bytes) {
    out.capped = true;
    out.notes.push_back("header section longer than " + std::to_string(limits.max_section_bytes) +
                        " bytes: only its start was read");
  } else if (!out.complete && !out.fields.empty() && !out.capped) {
    out.notes.push_back("no empty line after the headers (the input may be cut or not a message)");
  }
  if (malformed_lines > 0)
    out.notes.push_back(std::to_string(malformed_lines) + " line(s) in the header section were not header fields and were skipped");

  for (auto& field : out.fields) {
    std::string_view v = trim(field.value);
    field.value = std::string(v);
  }
  std::size_t received = 0;
  for (const auto& field : out.fields) {
    if (!iequals(field.name, "Received")) continue;
    if (received >= limits.max_received) {
      out.capped = true;
      out.notes.push_back("more than " + std::to_string(limits.max_received) +
                          " Received: headers: only the " + std::to_string(limits.max_received) +
                          " nearest hops are shown");
      break;
    }
    out.hops.push_back(parse_received(field.value));
    ++received;
  }
  std::reverse(out.hops.begin(), out.hops.end());
  return out;
}

HopSummary summarize(const std::vector<ReceivedHop>& hops) {
  HopSummary s;
  s.total = hops.size();
  for (const auto& hop : hops) {
    if (hop.local) {
      ++s.local;
      continue;
    }
    switch (hop.encrypted) {
      case Encryption::yes: ++s.encrypted; break;
      case Encryption::no: ++s.cleartext; break;
      case Encryption::unknown: ++s.unknown; break;
    }
  }
  return s;
}

}  // namespace mxtls::mail
