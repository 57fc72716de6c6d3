// Human reports: the detailed `mxtls check` output per domain and the transparency-report
// style table (one row per domain). ANSI colour only when asked for.
#pragma once

#include "core/result.hpp"

#include <iosfwd>
#include <vector>

namespace mxtls::report {

struct TextOptions {
  bool color = false;  // ANSI SGR sequences; the caller decides (isatty, --no-color)
};

// Header, the Gmail lock, every MX and address with its phases, TLS facts and certificate,
// then the findings with their fixes. Expects judge_domain() to have run.
void write_domain_report(std::ostream& out, const DomainResult& d, const TextOptions& options);

// Columns: domain, MX count, STARTTLS (on every reachable MX: yes / no / k/n), TLS versions,
// certificate verdicts, lock (grey / red / —), notes. Aligned by display width, so CJK
// U-labels line up; followed by a one-line tally of locks.
void write_summary_table(std::ostream& out, const std::vector<DomainResult>& domains,
                         const TextOptions& options);

}  // namespace mxtls::report
