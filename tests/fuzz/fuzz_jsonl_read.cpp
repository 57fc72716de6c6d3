// libFuzzer target for reading saved JSON Lines back (`mxtls report`, `scan --resume`): the
// bytes are an output file, possibly cut or edited, read by JsonlDomainReader; every line that
// is a JSON object also goes through probe_from_record on its own.
#include "core/bounded_line.hpp"
#include "report/json_read.hpp"
#include "report/jsonl_read.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  std::istringstream in(bytes);
  mxtls::report::JsonlDomainReader reader(in, "fuzz.jsonl");
  std::size_t domains = 0;
  while (auto domain = reader.next()) {
    ++domains;
    // A restored domain always has its name, and only its own probe records.
    if (domain->domain.empty()) std::abort();
    for (const auto& probe : domain->probes)
      if (probe.domain != domain->domain) std::abort();
  }
  // At most one problem per line plus one for an unfinished block at the end.
  if (domains + reader.problems().size() > reader.lines() + 1) std::abort();

  // Each line as one record, as probe_from_record sees it.
  std::istringstream lines(bytes);
  std::string line;
  bool too_long = false;
  while (mxtls::read_bounded_line(lines.rdbuf(), line, 1 << 20, too_long)) {
    const auto record = mxtls::report::parse_json(line);
    if (record && record->type == mxtls::report::JsonValue::Type::object) {
      const auto probe = mxtls::report::probe_from_record(*record);
      (void)mxtls::to_string(probe.status);
      if (probe.failed_phase) (void)mxtls::to_string(*probe.failed_phase);
    }
  }
  return 0;
}
