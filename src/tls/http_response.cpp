// HTTP/1.1 response parsing for MTA-STS fetches: a bounded head (16 KiB), Content-Length,
// chunked or close-delimited bodies under a size cap, redirects reported and never followed
// (RFC 8461 §3.3), and the text/plain media type checked.
#include "tls/http_response.hpp"

#include "core/text.hpp"

#include <charconv>
#include <optional>

namespace mxtls::tls {
namespace {

constexpr std::size_t max_head = 16 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_size(std::string_view digits, int base, std::size_t& out) {
  if (digits.empty() || digits.size() > 12) return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, base);
  return ec == std::errc{} && end == digits.data() + digits.size();
}

}  // namespace

ParsedHttp parse_http_response(std::string_view bytes, bool connection_closed, std::size_t max_body) {
  ParsedHttp r;
  auto fail = [&](std::string why) {
    r.error = std::move(why);
    r.complete = true;  // nothing more to wait for
    return r;
  };
  std::size_t head_end = bytes.find("\r\n\r\n");
  std::size_t body_start = head_end == std::string_view::npos ? head_end : head_end + 4;
  if (head_end == std::string_view::npos) {
    if (bytes.size() > max_head) return fail("HTTP response head larger than 16 KiB");
    if (connection_closed) return fail(bytes.empty() ? "connection closed without an HTTP response" : "connection closed inside the HTTP response head");
    return r;
  }
  if (head_end > max_head) return fail("HTTP response head larger than 16 KiB");
  std::string_view head = bytes.substr(0, head_end);
  const auto first_eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, first_eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
    return fail("not an HTTP/1.x response: \"" + printable(status_line, 60) + "\"");
  std::size_t status = 0;
  if (!parse_size(status_line.substr(9, 3), 10, status) || status < 100 || status > 599)
    return fail("bad HTTP status line: \"" + printable(status_line, 60) + "\"");
  r.status = static_cast<int>(status);

  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::string_view headers = first_eol == std::string_view::npos ? std::string_view{} : head.substr(first_eol + 2);
  while (!headers.empty()) {
    const auto eol = headers.find("\r\n");
    const std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed HTTP header line: \"" + printable(line, 60) + "\"");
    const std::string name = ascii_lower(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-type") r.content_type = printable(value, 100);
    else if (name == "location") r.location = printable(value, 200);
    else if (name == "transfer-encoding") chunked = ascii_lower(value).find("chunked") != std::string::npos;
    else if (name == "content-length") {
      std::size_t n = 0;
      if (!parse_size(value, 10, n) || (content_length && *content_length != n)) return fail("bad Content-Length");
      content_length = n;
    }
  }
  if (r.status >= 300 && r.status < 400)
    return fail("HTTP " + std::to_string(r.status) + " redirect" + (r.location.empty() ? "" : " to " + r.location) +
                ": MTA-STS policy fetches must not follow redirects (RFC 8461 3.3)");
  if (r.status != 200) return fail("HTTP status " + std::to_string(r.status) + " (200 needed)");

  std::string_view rest = bytes.substr(body_start);
  if (chunked) {
    // chunk = size [;ext] CRLF data CRLF … last-chunk "0" CRLF [trailers] CRLF
    while (true) {
      const auto eol = rest.find("\r\n");
      if (eol == std::string_view::npos) {
        if (rest.size() > 1024) return fail("malformed chunk size line");
        if (connection_closed) return fail("connection closed inside a chunked body");
        return r;
      }
      std::string_view size_text = trim(rest.substr(0, eol).substr(0, rest.substr(0, eol).find(';')));
      std::size_t size = 0;
      if (!parse_size(size_text, 16, size)) return fail("malformed chunk size \"" + printable(size_text, 20) + "\"");
      if (size > max_body || r.body.size() + size > max_body)
        return fail("policy body larger than " + std::to_string(max_body / 1024) + " KiB");
      rest.remove_prefix(eol + 2);
      if (size == 0) {
        r.complete = true;  // trailers, if any, are not needed
        break;
      }
      if (rest.size() < size + 2) {
        if (connection_closed) return fail("connection closed inside a chunked body");
        return r;
      }
      if (rest.substr(size, 2) != "\r\n") return fail("chunk not followed by CRLF");
      r.body.append(rest.substr(0, size));
      rest.remove_prefix(size + 2);
    }
  } else if (content_length) {
    if (*content_length > max_body) return fail("policy body larger than " + std::to_string(max_body / 1024) + " KiB");
    if (rest.size() < *content_length) {
      if (connection_closed) return fail("connection closed before the whole body arrived");
      return r;
    }
    r.body.assign(rest.substr(0, *content_length));
    r.complete = true;
  } else {
    if (rest.size() > max_body) return fail("policy body larger than " + std::to_string(max_body / 1024) + " KiB");
    if (!connection_closed) return r;
    r.body.assign(rest);
    r.complete = true;
  }
  // RFC 8461 §3.3: the policy is served as media type "text/plain" (parameters allowed).
  const std::string media = ascii_lower(trim(std::string_view(r.content_type).substr(0, r.content_type.find(';'))));
  if (media != "text/plain")
    r.error = "media type \"" + r.content_type + "\", not text/plain (RFC 8461 3.2)";
  return r;
}

}  // namespace mxtls::tls
