// `mxtls check`: normalise the names (bad ones are reported and skipped, the rest go on),
// scan every domain concurrently, judge, and print text, JSON Lines or CSV.
#include "cli/check.hpp"

#include "core/domain_name.hpp"
#include "core/gather.hpp"
#include "report/csv.hpp"
#include "report/jsonl.hpp"
#include "report/text.hpp"
#include "report/verdict.hpp"
#include "scan/port25_watch.hpp"

#include <asio/co_spawn.hpp>

#include <iostream>

namespace mxtls::cli {

void add_check_command(CLI::App& app, CheckOptions& options) {
  auto* check = app.add_subcommand("check", "probe every MX host of the given domains and explain the result");
  check->add_option("domains", options.domains, "domain names (IDNs welcome: 例え.jp)")->required();
  add_probe_options(*check, options.probe);
}

std::vector<DomainResult> check_domains(asio::io_context& io, const std::vector<NamedDomain>& domains,
                                        const dns::ResolverConfig& resolver_config,
                                        const scan::DomainScanSettings& settings, tls::ClientTlsContext& tls_context) {
  dns::Resolver resolver(io.get_executor(), resolver_config);
  scan::ProbeRunner run = [&](const scan::ProbeTarget& target, ProbeResult& out) {
    return scan::run_probe(target, settings.probe, tls_context, out);
  };
  std::vector<DomainResult> results;
  auto all = [&]() -> asio::awaitable<void> {
    std::vector<asio::awaitable<DomainResult>> scans;
    for (const auto& d : domains) scans.push_back(scan::scan_domain(d.input, d.ascii, resolver, settings, run));
    results = co_await gather(std::move(scans));
  };
  // Run until the scans are done, not until the io_context is idle: in `demo` the lab's
  // servers share this io_context and never become idle.
  io.restart();
  std::exception_ptr failure;
  asio::co_spawn(io, all(), [&](std::exception_ptr e) {
    failure = e;
    io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  for (auto& d : results) report::judge_domain(d);
  return results;
}

int write_results(std::ostream& out, const std::vector<DomainResult>& results, Format format, bool color) {
  switch (format) {
    case Format::text:
      for (const auto& d : results) report::write_domain_report(out, d, {color});
      if (results.size() > 1) report::write_summary_table(out, results, {color});
      break;
    case Format::jsonl:
      for (const auto& d : results) report::write_jsonl(out, d);
      break;
    case Format::csv:
      report::write_csv_header(out);
      for (const auto& d : results) report::write_csv_rows(out, d);
      break;
  }
  out.flush();
  bool problems = false;
  for (const auto& d : results) problems = problems || report::has_problems(d);
  return problems ? 1 : 0;
}

namespace {

// Not one connection got through, and some timed out or met a firewall: the servers may be
// fine and this network the trouble (home lines and cloud providers often block port 25).
void hint_at_blocked_port(const std::vector<DomainResult>& results, std::uint16_t port) {
  scan::Port25Watch watch;
  for (const auto& d : results)
    for (const auto& p : d.probes) {
      std::error_code ec;
      const auto address = asio::ip::make_address(p.ip, ec);
      const auto outcome = scan::connect_outcome(p);
      if (!ec && outcome) watch.record(address, *outcome);
    }
  for (const bool ipv6 : {false, true}) {
    using scan::ConnectOutcome;
    const std::size_t suspicious = watch.count(ipv6, ConnectOutcome::timed_out) +
                                   watch.count(ipv6, ConnectOutcome::local_firewall) +
                                   watch.count(ipv6, ConnectOutcome::host_unreachable);
    if (watch.attempts(ipv6) == 0 || watch.connected(ipv6) > 0 || suspicious == 0) continue;
    std::cerr << "mxtls: " << (ipv6 ? "IPv6" : "IPv4") << ": " << watch.evidence(ipv6, port)
              << "; if these servers should be reachable, this network may block outbound port " << port
              << " (home lines and cloud providers often do): try from another network\n";
  }
}

}  // namespace

int run_check(const CheckOptions& options) {
  bool bad_input = false;
  std::vector<NamedDomain> domains;
  for (const auto& input : options.domains) {
    auto normalised = normalize_domain(input);
    if (auto* error = std::get_if<NameError>(&normalised)) {
      std::cerr << "mxtls: \"" << input << "\": " << error->reason << " (skipped)\n";
      bad_input = true;
      continue;
    }
    domains.push_back({input, std::get<std::string>(normalised)});
  }
  int code = 0;
  try {
    const auto resolver = resolver_config(options.probe);
    const auto settings = scan_settings(options.probe);
    tls::ClientTlsContext tls_context(tls_options(options.probe));
    asio::io_context io(1);
    auto results = check_domains(io, domains, resolver, settings, tls_context);
    code = write_results(std::cout, results, options.probe.format, use_color(options.probe.format, options.probe.no_color));
    hint_at_blocked_port(results, options.probe.port);
  } catch (const std::exception& e) {
    std::cerr << "mxtls: " << e.what() << "\n";
    return 2;
  }
  return bad_input ? 2 : code;
}

}  // namespace mxtls::cli
