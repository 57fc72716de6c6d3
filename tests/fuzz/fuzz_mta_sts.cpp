// libFuzzer target: arbitrary bytes as an MTA-STS policy body, as _mta-sts and _smtp._tls TXT
// records and as MX patterns; every parsed pattern is matched against a few host names.
#include "policy/mta_sts.hpp"
#include "policy/tls_rpt.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto parsed = mxtls::policy::parse_sts_policy(bytes);
  for (const auto& problem : parsed.problems) (void)problem.text();
  for (const auto& pattern : parsed.policy.mx) {
    (void)mxtls::policy::mx_pattern_matches(pattern, "mx.example.test");
    (void)mxtls::policy::mx_pattern_matches(pattern, "a.b.example.test.");
  }
  std::string error, chosen;
  (void)mxtls::policy::parse_sts_txt(bytes, error);
  (void)mxtls::policy::parse_tls_rpt_txt(bytes, error);
  (void)mxtls::policy::select_sts_record({std::string(bytes), "v=STSv1; id=1"}, chosen, error);
  (void)mxtls::policy::check_mx_pattern(bytes);
  (void)mxtls::policy::mx_pattern_matches(bytes, "mx.example.test");
  return 0;
}
