// JSON Lines output (data/schema.md): one record per probe, then one summary per domain.
// Output is always valid UTF-8 JSON, whatever bytes the servers sent.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::report {

// `text` as a quoted JSON string: ", \ and control characters escaped (\n, \t, … or \u00XX,
// also DEL, C1 controls, U+2028/U+2029), ill-formed UTF-8 replaced by U+FFFD.
std::string json_string(std::string_view text);
void append_json_string(std::string& out, std::string_view text);

// The 25 fixed keys of DESIGN.md §5, in their order; every probe record starts with them.
const std::vector<std::string_view>& jsonl_fixed_keys();

// One probe record without the trailing newline. `d` supplies gmail_lock and input.
std::string probe_record_json(const DomainResult& d, const ProbeResult& p);

// The domain summary record ("record":"domain") without the trailing newline.
std::string domain_record_json(const DomainResult& d);

// Every probe record of `d` (in delivery order), then its domain record; one per line.
void write_jsonl(std::ostream& out, const DomainResult& d);

}  // namespace mxtls::report
