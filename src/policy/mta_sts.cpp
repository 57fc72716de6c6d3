// MTA-STS parsers (RFC 8461 §3.1, §3.2, §4.1). Strict where the RFC is strict, because a
// sender that disagrees with the admin about what the policy says is exactly the failure an
// admin needs to hear about; every problem carries its line number.
#include "policy/mta_sts.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mxtls::policy {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Shown in messages: hostile bytes made printable and short.
std::string shown(std::string_view s) { return "\"" + printable(s, 80) + "\""; }

// RFC 8461 §3.1 sts-ext-name / sts-ext-value.
bool valid_ext_name(std::string_view n) {
  if (n.empty() || n.size() > 32 || !is_alnum(n.front())) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}
bool valid_ext_value(std::string_view v) {
  if (v.empty()) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e && c != ';' && c != '=';
  });
}

// A host name label per RFC 5321 Domain: letters, digits, hyphens inside, ≤ 63 octets.
bool valid_label(std::string_view l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
  return std::all_of(l.begin(), l.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

}  // namespace

std::optional<StsRecord> parse_sts_txt(std::string_view text, std::string& error) {
  // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
  // sts-field-delim = *WSP ";" *WSP ; sts-version = %s"v=STSv1"
  if (text.substr(0, 7) != "v=STSv1") {
    error = "does not start with v=STSv1: " + shown(text);
    return std::nullopt;
  }
  std::string_view rest = text.substr(7);
  StsRecord record;
  bool have_id = false;
  bool first = true;
  while (true) {
    rest = trim_wsp(rest);
    if (rest.empty()) break;
    if (rest.front() != ';') {
      error = first ? "v=STSv1 must be followed by \";\"" : "expected \";\" before " + shown(rest);
      return std::nullopt;
    }
    rest.remove_prefix(1);
    rest = trim_wsp(rest);
    first = false;
    if (rest.empty()) break;  // a trailing delimiter is allowed
    const auto end = rest.find(';');
    std::string_view field = trim_wsp(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) {
      error = "field without \"=\": " + shown(field);
      return std::nullopt;
    }
    const std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    if (name == "id") {
      if (have_id) {
        error = "id= appears twice";
        return std::nullopt;
      }
      if (value.empty() || value.size() > 32 || !std::all_of(value.begin(), value.end(), is_alnum)) {
        error = "id must be 1 to 32 letters and digits, not " + shown(value);
        return std::nullopt;
      }
      record.id = std::string(value);
      have_id = true;
    } else if (!valid_ext_name(name) || !valid_ext_value(value)) {
      error = "malformed field " + shown(field);
      return std::nullopt;
    }
  }
  if (!have_id) {
    error = "no id= field";
    return std::nullopt;
  }
  return record;
}

std::optional<StsRecord> select_sts_record(const std::vector<std::string>& texts, std::string& chosen,
                                           std::string& error) {
  std::vector<const std::string*> candidates;
  for (const auto& t : texts)
    if (t.rfind("v=STSv1", 0) == 0) candidates.push_back(&t);
  if (candidates.empty()) {
    error = "no TXT record starts with v=STSv1";
    return std::nullopt;
  }
  if (candidates.size() > 1) {
    error = std::to_string(candidates.size()) + " TXT records start with v=STSv1; senders ignore them all (RFC 8461 3.1)";
    return std::nullopt;
  }
  chosen = *candidates.front();
  return parse_sts_txt(chosen, error);
}

std::string PolicyProblem::text() const {
  return line > 0 ? "line " + std::to_string(line) + ": " + what : what;
}

bool PolicyParse::valid() const {
  return std::none_of(problems.begin(), problems.end(), [](const PolicyProblem& p) { return p.fatal; });
}

std::string check_mx_pattern(std::string_view pattern) {
  std::string_view domain = pattern;
  if (domain.substr(0, 2) == "*.") domain.remove_prefix(2);
  if (domain.empty()) return "empty MX pattern";
  if (domain.back() == '.') return "MX pattern " + shown(pattern) + " ends in a dot";
  if (domain.size() > 253) return "MX pattern too long";
  if (domain.find('*') != std::string_view::npos)
    return "MX pattern " + shown(pattern) + ": a wildcard is only allowed as the whole left-most label (\"*.\")";
  while (!domain.empty()) {
    const auto dot = domain.find('.');
    if (!valid_label(domain.substr(0, dot))) return "MX pattern " + shown(pattern) + " is not a host name";
    domain = dot == std::string_view::npos ? std::string_view{} : domain.substr(dot + 1);
  }
  return {};
}

bool mx_pattern_matches(std::string_view pattern, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (pattern.empty() || host.empty()) return false;
  if (pattern.substr(0, 2) == "*.") {
    // The wildcard stands for exactly one whole label: strip the host's first label.
    const auto dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return iequals(pattern.substr(2), host.substr(dot + 1));
  }
  return iequals(pattern, host);
}

bool mx_matches_any(const std::vector<std::string>& patterns, std::string_view host) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return mx_pattern_matches(p, host); });
}

PolicyParse parse_sts_policy(std::string_view body) {
  PolicyParse out;
  auto problem = [&](int line, std::string what, bool fatal = true) {
    out.problems.push_back({line, fatal, std::move(what)});
  };
  if (body.size() > max_policy_bytes) {
    problem(0, "policy larger than " + std::to_string(max_policy_bytes / 1024) + " KiB");
    return out;
  }
  int version_line = 0, mode_line = 0, max_age_line = 0;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    ++line_no;
    const auto lf = body.find('\n', pos);
    std::string_view line = body.substr(pos, lf == std::string_view::npos ? std::string_view::npos : lf - pos);
    pos = lf == std::string_view::npos ? body.size() : lf + 1;
    // sts-policy-term = LF / CRLF: a CR is part of the terminator only right before the LF.
    if (!line.empty() && line.back() == '\r' && lf != std::string_view::npos) line.remove_suffix(1);
    if (trim_wsp(line).empty()) {
      problem(line_no, "empty line (not allowed by the policy grammar)", false);
      continue;
    }
    if (std::any_of(line.begin(), line.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t') || u == 0x7f;
        })) {
      problem(line_no, "control character in " + shown(line));
      continue;
    }
    if (is_wsp(line.front())) {
      problem(line_no, "line starts with white space: " + shown(line));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      problem(line_no, "not a \"key: value\" line: " + shown(line));
      continue;
    }
    const std::string_view key = trim_wsp(line.substr(0, colon));
    const std::string_view value = trim_wsp(line.substr(colon + 1));
    if (key != line.substr(0, colon)) {
      problem(line_no, "white space before \":\" in " + shown(line));
      continue;
    }
    auto once = [&](int& seen_at, std::string_view name) {
      if (seen_at != 0) {
        problem(line_no, std::string(name) + " appears again (first on line " + std::to_string(seen_at) + ")");
        return false;
      }
      seen_at = line_no;
      return true;
    };
    if (key == "version") {
      if (!once(version_line, "version")) continue;
      if (value == "STSv1") out.policy.version_ok = true;
      else problem(line_no, "version must be STSv1, not " + shown(value));
    } else if (key == "mode") {
      if (!once(mode_line, "mode")) continue;
      if (value == "enforce") out.policy.mode = MtaStsMode::enforce;
      else if (value == "testing") out.policy.mode = MtaStsMode::testing;
      else if (value == "none") out.policy.mode = MtaStsMode::none;
      else problem(line_no, "mode must be enforce, testing or none, not " + shown(value));
    } else if (key == "max_age") {
      if (!once(max_age_line, "max_age")) continue;
      std::int64_t seconds = 0;
      const bool digits = !value.empty() && value.size() <= 10 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::from_chars(value.data(), value.data() + value.size(), seconds).ec != std::errc{}) {
        problem(line_no, "max_age must be 1 to 10 digits, not " + shown(value));
      } else if (seconds > max_age_limit) {
        problem(line_no, "max_age " + std::to_string(seconds) + " is above the limit of 31557600 (one year)");
      } else {
        out.policy.max_age = seconds;
        if (seconds < 86400)
          problem(line_no, "max_age " + std::to_string(seconds) + " is under a day: senders forget the policy quickly",
                  false);
      }
    } else if (key == "mx") {
      const std::string why = check_mx_pattern(value);
      if (!why.empty()) problem(line_no, why);
      else out.policy.mx.push_back(ascii_lower(value));
    } else if (!valid_ext_name(key)) {
      problem(line_no, "malformed key " + shown(key));
    }
    // Any other well-formed key is an extension: RFC 8461 §3.2 says to ignore it.
  }
  if (!out.policy.version_ok && version_line == 0) problem(0, "no version: STSv1 line");
  if (mode_line == 0) problem(0, "no mode: line");
  if (max_age_line == 0) problem(0, "no max_age: line");
  if (out.policy.mx.empty() && out.policy.mode != MtaStsMode::none)
    problem(0, "no valid mx: line: no MX host can match this policy");
  return out;
}

}  // namespace mxtls::policy
