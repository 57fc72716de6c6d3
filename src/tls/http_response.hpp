// The HTTP/1.1 response parser behind the MTA-STS policy fetch, apart from the network code so
// it can be unit-tested and fuzzed on its own: bytes a hostile server chose in, facts out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mxtls::tls {

// The pure part, for tests and fuzzing: an HTTP/1.1 response head + body (Content-Length,
// chunked, or up to the close) → status, media type, body; `complete` says whether the whole
// message is in `bytes`. Errors name the rule broken.
struct ParsedHttp {
  bool complete = false;
  std::string error;
  int status = 0;
  std::string content_type;
  std::string location;
  std::string body;
};
ParsedHttp parse_http_response(std::string_view bytes, bool connection_closed, std::size_t max_body);

}  // namespace mxtls::tls
