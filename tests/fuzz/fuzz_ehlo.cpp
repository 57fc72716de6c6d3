// libFuzzer target for EHLO extension parsing alone (smtp::parse_ehlo, Extensions::has/params):
// the input's lines become the reply's lines directly, so every execution is spent on keyword
// and parameter parsing (fuzz_smtp_reply reaches it only through the reply framing).
#include "smtp/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  mxtls::smtp::Reply reply;
  reply.code = 250;
  // Lines as the reply parser hands them over: split at LF, a CR before it dropped.
  std::size_t start = 0;
  while (start <= input.size() && reply.lines.size() < 256) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    reply.lines.emplace_back(line);
    start = end + 1;
  }
  const auto ext = mxtls::smtp::parse_ehlo(reply);

  // Invariants: at most one extension per line after the greeting, each non-empty and
  // starting with an upper-cased keyword character (letter, digit or '-').
  if (!reply.lines.empty() && ext.lines.size() > reply.lines.size() - 1) std::abort();
  // has()/params() scan the lines, so checking all 256 would make each run quadratic in the
  // harness itself (about 1 ms under ASan); the first 32 cover every parser path.
  std::size_t checked = 0;
  for (const auto& line : ext.lines) {
    if (line.empty()) std::abort();
    const char c = line.front();
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) std::abort();
    if (++checked > 32) continue;
    // The keyword of every line it reports is found again by has()/params().
    const std::size_t end = line.find_first_of(" =");
    const std::string keyword = line.substr(0, end);
    if (!ext.has(keyword) && (end == std::string::npos || line[end] == ' ')) std::abort();
    (void)ext.params(keyword);
  }
  for (const char* keyword : {"STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "REQUIRETLS",
                              "CHUNKING", "DSN", "ENHANCEDSTATUSCODES", "starttls", ""}) {
    (void)ext.has(keyword);
    for (const auto& param : ext.params(keyword))
      if (param.empty()) std::abort();
  }
  return 0;
}
