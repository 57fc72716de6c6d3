// libFuzzer target for the TXT record sets at _mta-sts.DOMAIN and _smtp._tls.DOMAIN: the input
// is split at NUL into up to 8 TXT strings and given to select_sts_record and
// select_tls_rpt_record (RFC 8461 §3.1 / RFC 8460 §3: exactly one record with the version
// tag). fuzz_mta_sts feeds single strings to the parsers; this covers choosing among several.
#include "policy/mta_sts.hpp"
#include "policy/tls_rpt.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> texts;
  for (std::size_t start = 0; start <= input.size() && texts.size() < 8;) {
    std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    texts.emplace_back(input.substr(start, end - start));
    start = end + 1;
  }

  std::string chosen, error;
  const auto sts = mxtls::policy::select_sts_record(texts, chosen, error);
  if (sts) {
    // A chosen record is one of the inputs and parses on its own to the same id.
    bool found = false;
    for (const auto& t : texts) found = found || t == chosen;
    std::string again_error;
    const auto again = mxtls::policy::parse_sts_txt(chosen, again_error);
    if (!found || !again || again->id != sts->id) std::abort();
    if (sts->id.empty() || sts->id.size() > 32) std::abort();
  } else if (error.empty()) {
    std::abort();  // no record must say why
  }

  chosen.clear();
  error.clear();
  const auto rpt = mxtls::policy::select_tls_rpt_record(texts, chosen, error);
  if (rpt) {
    bool found = false;
    for (const auto& t : texts) found = found || t == chosen;
    std::string again_error;
    const auto again = mxtls::policy::parse_tls_rpt_txt(chosen, again_error);
    if (!found || !again || again->rua != rpt->rua) std::abort();
    for (const auto& uri : rpt->rua)
      if (uri.rfind("mailto:", 0) != 0 && uri.rfind("https:", 0) != 0) std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
