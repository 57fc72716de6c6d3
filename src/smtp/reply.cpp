// Incremental SMTP reply parser and EHLO keyword parser.
// Every byte here comes from a server we do not control: lengths are bounded before any
// allocation grows, and malformed input ends in State::error with a reason, never a throw.
#include "smtp/reply.hpp"

#include "core/text.hpp"

#include <algorithm>

namespace mxtls::smtp {

std::string Reply::text() const { return join(lines, " / "); }

void ReplyParser::reset() {
  state_ = State::need_more;
  line_.clear();
  reply_bytes_ = 0;
  reply_ = Reply{};
  error_.clear();
}

Reply ReplyParser::take() {
  Reply out = std::move(reply_);
  reset();
  return out;
}

void ReplyParser::fail(std::string why) {
  state_ = State::error;
  error_ = std::move(why);
}

std::size_t ReplyParser::feed(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && state_ == State::need_more) {
    const char c = bytes[used++];
    if (++reply_bytes_ > limits_.max_reply_bytes) {
      fail("reply longer than " + std::to_string(limits_.max_reply_bytes) + " bytes");
      break;
    }
    if (c == '\n') {
      // RFC 5321 wants CRLF; bare LF is accepted as real MTAs (and Postfix's client) do.
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      finish_line();
      continue;
    }
    if (line_.size() >= limits_.max_line_bytes) {
      fail("reply line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      break;
    }
    line_.push_back(c);
  }
  return used;
}

void ReplyParser::finish_line() {
  const std::string_view line = line_;
  auto digit = [&](std::size_t i) { return line.size() > i && line[i] >= '0' && line[i] <= '9'; };
  if (!(digit(0) && digit(1) && digit(2)) || line[0] < '2' || line[0] > '5') {
    fail("not an SMTP reply: \"" + printable(line, 80) + "\"");
    return;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  const char sep = line.size() > 3 ? line[3] : ' ';
  if (sep != ' ' && sep != '-') {
    fail("malformed reply line: \"" + printable(line, 80) + "\"");
    return;
  }
  if (reply_.code != 0 && code != reply_.code) {
    fail("multi-line reply changes code from " + std::to_string(reply_.code) + " to " +
         std::to_string(code));
    return;
  }
  if (reply_.lines.size() >= limits_.max_lines) {
    fail("reply has more than " + std::to_string(limits_.max_lines) + " lines");
    return;
  }
  reply_.code = code;
  reply_.lines.push_back(printable(line.size() > 4 ? line.substr(4) : std::string_view{}, limits_.max_line_bytes));
  line_.clear();
  if (sep == ' ') state_ = State::complete;
}

namespace {

bool is_keyword_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

}  // namespace

Extensions parse_ehlo(const Reply& reply) {
  Extensions ext;
  // Line 0 is "domain greeting"; extensions follow (RFC 5321 §4.1.1.1).
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = reply.lines[i];
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    std::size_t end = 0;
    while (end < line.size() && is_keyword_char(line[end])) ++end;
    // A keyword must be followed by nothing, a space, or '=' (the pre-RFC "AUTH=LOGIN" form).
    if (end == 0 || (end < line.size() && line[end] != ' ' && line[end] != '=')) continue;
    ext.lines.push_back(ascii_upper(line.substr(0, end)) + std::string(line.substr(end)));
  }
  return ext;
}

bool Extensions::has(std::string_view keyword) const {
  const std::string key = ascii_upper(keyword);
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.compare(0, key.size(), key) == 0 && (l.size() == key.size() || l[key.size()] == ' ');
  });
}

std::vector<std::string> Extensions::params(std::string_view keyword) const {
  const std::string key = ascii_upper(keyword);
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (l.compare(0, key.size(), key) != 0 || l.size() == key.size()) continue;
    if (l[key.size()] != ' ' && l[key.size()] != '=') continue;
    for (auto& w : split_words(std::string_view(l).substr(key.size() + 1))) {
      std::string word = ascii_upper(w);
      if (std::find(out.begin(), out.end(), word) == out.end()) out.push_back(std::move(word));
    }
  }
  return out;
}

}  // namespace mxtls::smtp
