// libFuzzer entry point for the DNS response parser (dns/wire parse_response), the code that
// reads every byte a DNS server or an off-path spoofer sends us. Build with -fsanitize=fuzzer.
// TXT answers go on to the MTA-STS and TLS-RPT record selection, as in a domain scan.
#include "dns/wire.hpp"
#include "policy/mta_sts.hpp"
#include "policy/tls_rpt.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxtls::dns::wire;
  if (size < 3) return 0;
  // The question is taken from the input so the fuzzer gets past the ID check easily: the
  // message's own ID is expected, and the first byte picks the asked type.
  static constexpr RecordType types[] = {RecordType::mx, RecordType::a, RecordType::aaaa,
                                         RecordType::txt, RecordType::tlsa};
  const Question question{"example.test", types[data[0] % 5],
                          static_cast<std::uint16_t>((data[1] << 8) | data[2])};
  const auto message = std::span(data + 1, size - 1);
  const ParsedResponse parsed = parse_response(message, question);
  // Touch the results so the work is not optimised away and invariants are exercised.
  volatile bool consistent = parsed.status != ParseStatus::accepted || parsed.cnames.size() <= 8;
  (void)consistent;
  (void)parsed.stops_at_cname();
  (void)structure_problem(message);
  if (!parsed.texts.empty()) {
    std::string chosen, error;
    (void)mxtls::policy::select_sts_record(parsed.texts, chosen, error);
    (void)mxtls::policy::select_tls_rpt_record(parsed.texts, chosen, error);
  }
  return 0;
}
