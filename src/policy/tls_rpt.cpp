// TLS-RPT record parser (RFC 8460 §3). The rua URIs are checked for the two schemes senders
// support (mailto, https) and for plausible syntax; a comma inside a mailto address must be
// percent-encoded, because the comma separates URIs.
#include "policy/tls_rpt.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cctype>

namespace mxtls::policy {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}
std::string shown(std::string_view s) { return "\"" + printable(s, 80) + "\""; }

bool visible_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

// A host part: letters, digits, '-', '.', optionally ":port"; not empty, no empty labels.
bool plausible_host(std::string_view host) {
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    const auto port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    host = host.substr(0, colon);
  }
  if (host.empty() || host.front() == '.' || host.find("..") != std::string_view::npos) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

std::string check_uri(std::string_view uri) {
  if (!visible_ascii(uri)) return "URI with spaces or non-ASCII bytes: " + shown(uri);
  if (uri.substr(0, 7) == "mailto:") {
    const std::string_view address = uri.substr(7, uri.find('?') == std::string_view::npos ? std::string_view::npos : uri.find('?') - 7);
    const auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || !plausible_host(address.substr(at + 1)))
      return "mailto: URI without a usable address: " + shown(uri);
    return {};
  }
  if (uri.substr(0, 8) == "https://") {
    std::string_view rest = uri.substr(8);
    const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (!plausible_host(host)) return "https: URI without a usable host: " + shown(uri);
    return {};
  }
  return "rua URI must be mailto: or https:, not " + shown(uri);
}

}  // namespace

std::optional<TlsRptRecord> parse_tls_rpt_txt(std::string_view text, std::string& error) {
  // tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
  if (text.substr(0, 10) != "v=TLSRPTv1") {
    error = "does not start with v=TLSRPTv1: " + shown(text);
    return std::nullopt;
  }
  std::string_view rest = text.substr(10);
  TlsRptRecord record;
  bool have_rua = false;
  while (true) {
    rest = trim_wsp(rest);
    if (rest.empty()) break;
    if (rest.front() != ';') {
      error = "expected \";\" before " + shown(rest);
      return std::nullopt;
    }
    rest.remove_prefix(1);
    rest = trim_wsp(rest);
    if (rest.empty()) break;
    const auto end = rest.find(';');
    const std::string_view field = trim_wsp(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      error = "field without \"name=\": " + shown(field);
      return std::nullopt;
    }
    const std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    if (name == "rua") {
      if (have_rua) {
        error = "rua= appears twice";
        return std::nullopt;
      }
      have_rua = true;
      std::string_view uris = value;
      while (true) {
        const auto comma = uris.find(',');
        const std::string_view uri = trim_wsp(uris.substr(0, comma));
        if (uri.empty()) {
          error = "empty URI in rua=";
          return std::nullopt;
        }
        if (std::string why = check_uri(uri); !why.empty()) {
          error = why;
          return std::nullopt;
        }
        record.rua.emplace_back(uri);
        if (comma == std::string_view::npos) break;
        uris = uris.substr(comma + 1);
      }
    } else if (!visible_ascii(field) || value.empty()) {
      error = "malformed field " + shown(field);
      return std::nullopt;
    }
    // Other name=value fields are extensions (RFC 8460 §3): ignored.
  }
  if (!have_rua) {
    error = "no rua= field: senders have nowhere to report";
    return std::nullopt;
  }
  return record;
}

std::optional<TlsRptRecord> select_tls_rpt_record(const std::vector<std::string>& texts, std::string& chosen,
                                                  std::string& error) {
  std::vector<const std::string*> candidates;
  for (const auto& t : texts)
    if (t.rfind("v=TLSRPTv1", 0) == 0) candidates.push_back(&t);
  if (candidates.empty()) {
    error = "no TXT record starts with v=TLSRPTv1";
    return std::nullopt;
  }
  if (candidates.size() > 1) {
    error = std::to_string(candidates.size()) + " TXT records start with v=TLSRPTv1; senders ignore them all (RFC 8460 3)";
    return std::nullopt;
  }
  chosen = *candidates.front();
  return parse_tls_rpt_txt(chosen, error);
}

}  // namespace mxtls::policy
