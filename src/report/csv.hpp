// CSV output (RFC 4180, data/schema.md): a header, then one row per probe with the 25 fixed
// columns of DESIGN.md §5 followed by the further scalar fields of the JSON Lines record.
#pragma once

#include "core/result.hpp"

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::report {

// Column names in output order (the first 25 equal jsonl_fixed_keys()).
const std::vector<std::string_view>& csv_columns();

// One field: quoted when it holds a comma, a quote, CR or LF (quotes doubled). Ill-formed
// UTF-8 and control characters other than TAB/CR/LF become U+FFFD, so a hostile banner
// cannot smuggle terminal escape sequences into a file that is later cat'ed.
std::string csv_field(std::string_view text);

// The values of one probe row, unquoted: null → "", booleans true/false, arrays joined
// with one space.
std::vector<std::string> csv_values(const DomainResult& d, const ProbeResult& p);

// Lines end in CRLF, as RFC 4180 says.
void write_csv_header(std::ostream& out);
void write_csv_rows(std::ostream& out, const DomainResult& d);  // probes in delivery order

}  // namespace mxtls::report
