// `mxtls check DOMAIN...`: the detailed report for a few domains, and the engine `demo`
// reuses: resolve, probe every MX address concurrently on one io_context, judge.
#pragma once

#include "cli/common.hpp"
#include "core/result.hpp"

#include <asio/io_context.hpp>

#include <iosfwd>
#include <string>
#include <vector>

namespace mxtls::cli {

struct CheckOptions {
  ProbeOptions probe;
  std::vector<std::string> domains;
};

void add_check_command(CLI::App& app, CheckOptions& options);

// Exit code: 0 all good, 1 findings, 2 usage or input error (DESIGN.md §2).
int run_check(const CheckOptions& options);

// Scans already normalised domains (A-labels, with the user's spelling beside them) and judges
// them; results come back in the order given.
struct NamedDomain {
  std::string input;
  std::string ascii;
};
std::vector<DomainResult> check_domains(asio::io_context& io, const std::vector<NamedDomain>& domains,
                                        const dns::ResolverConfig& resolver, const scan::DomainScanSettings& settings,
                                        tls::ClientTlsContext& tls_context);

// Writes the results in the chosen format; returns the exit code they imply (0 or 1).
int write_results(std::ostream& out, const std::vector<DomainResult>& results, Format format, bool color);

}  // namespace mxtls::cli
