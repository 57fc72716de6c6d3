// A small reader for the A/AAAA records of master-file text, enough to know which host names
// the lab zone points at which lab server (for certificate names). Not a general zone parser.
#include "lab/zone_hosts.hpp"

#include <cctype>
#include <cstring>
#include <sstream>

namespace mxtls::lab {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Owner names as written → absolute, lower-case, no trailing dot.
std::string absolute_name(const std::string& name, const std::string& origin) {
  if (name == "@") return origin;
  if (!name.empty() && name.back() == '.') return lower(name.substr(0, name.size() - 1));
  if (origin.empty()) return lower(name);
  return lower(name) + "." + origin;
}

bool is_ttl(const std::string& token) {
  if (token.empty() || !std::isdigit(static_cast<unsigned char>(token[0]))) return false;
  for (char c : token)
    if (!std::isdigit(static_cast<unsigned char>(c)) && !std::strchr("smhdwSMHDW", c)) return false;
  return true;
}

bool is_class(const std::string& token) {
  const std::string t = lower(token);
  return t == "in" || t == "ch" || t == "hs" || t == "cs";
}

// One record after joining parenthesised continuation lines and dropping comments.
// `starts_blank`: its first line began with white space, so the owner is the previous one.
struct LogicalLine {
  std::string text;
  bool starts_blank = false;
};

std::vector<LogicalLine> logical_lines(std::string_view zone_text) {
  std::vector<LogicalLine> out;
  LogicalLine current;
  int depth = 0;
  while (!zone_text.empty()) {
    const auto end = zone_text.find('\n');
    std::string_view physical = zone_text.substr(0, end);
    zone_text = end == std::string_view::npos ? std::string_view{} : zone_text.substr(end + 1);
    if (depth == 0) {
      current = LogicalLine{};
      current.starts_blank = !physical.empty() && (physical[0] == ' ' || physical[0] == '\t');
    }
    bool in_quotes = false;
    for (char c : physical) {
      if (c == '"') in_quotes = !in_quotes;
      if (in_quotes) {
        current.text += c;
        continue;
      }
      if (c == ';') break;  // comment to end of line
      if (c == '(') ++depth;
      if (c == ')' && depth > 0) --depth;
      current.text += (c == '(' || c == ')' || c == '\r') ? ' ' : c;
    }
    current.text += ' ';
    if (depth == 0) out.push_back(current);
  }
  if (depth != 0) out.push_back(current);  // unbalanced: keep what we have
  return out;
}

}  // namespace

std::vector<AddressRecord> address_records(std::string_view zone_text) {
  std::vector<AddressRecord> records;
  std::string origin;
  std::string previous_owner;
  for (const auto& line : logical_lines(zone_text)) {
    std::istringstream in(line.text);
    std::vector<std::string> tokens;
    for (std::string token; in >> token;) tokens.push_back(token);
    if (tokens.empty()) continue;
    if (!line.starts_blank && tokens[0][0] == '$') {
      if (lower(tokens[0]) == "$origin" && tokens.size() >= 2) origin = absolute_name(tokens[1], "");
      continue;
    }
    std::size_t i = 0;
    std::string owner = previous_owner;
    if (!line.starts_blank) owner = absolute_name(tokens[i++], origin);
    previous_owner = owner;
    while (i < tokens.size() && (is_ttl(tokens[i]) || is_class(tokens[i]))) ++i;
    if (i + 1 >= tokens.size() || owner.empty()) continue;
    const std::string type = lower(tokens[i]);
    if (type != "a" && type != "aaaa") continue;
    std::error_code ec;
    auto address = asio::ip::make_address(tokens[i + 1], ec);
    if (ec || (type == "a") != address.is_v4()) continue;
    records.push_back({owner, address});
  }
  return records;
}

}  // namespace mxtls::lab
