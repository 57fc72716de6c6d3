// `mxtls scan` and `mxtls report`: options, files, signals and progress around the bulk engine
// (src/scan/bulk). Everything finished is on disk as whole blocks at every moment, so any
// way the process ends leaves a file that --resume continues.
#include "cli/scan.hpp"

#include "dns/resolver.hpp"
#include "dns/wire.hpp"
#include "report/jsonl_read.hpp"
#include "report/summary.hpp"
#include "report/verdict.hpp"
#include "scan/bulk.hpp"
#include "scan/exclude.hpp"
#include "scan/output.hpp"
#include "tls/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace mxtls::cli {
namespace {

using namespace std::chrono_literals;

void add_scan_options(CLI::App& scan, ScanOptions& o) {
  scan.add_option("-i,--input", o.input, "domain list, one per line ('-': standard input)")->capture_default_str();
  scan.add_option("-o,--output", o.output, "results, appended ('-': standard output)")->capture_default_str();
  scan.add_flag("--resume", o.resume, "continue an interrupted scan: skip the domains already in --output");
  scan.add_option("--shard", o.shard, "scan only part K of N of the list (stable split by domain hash), e.g. 2/8");
  scan.add_option("--exclude", o.exclude_files, "file of addresses, networks (CIDR) and domains never to contact (repeatable)")
      ->check(CLI::ExistingFile);
  scan.add_option("--concurrency", o.concurrency, "connections open at once")->capture_default_str()->check(CLI::Range(1, 1'000'000));
  scan.add_option("--per-ip", o.per_ip, "connections open at once to one server address")->capture_default_str()->check(CLI::Range(1, 1000));
  scan.add_option("--rate", o.rate, "new connections per second over the whole scan (0: no limit)")->capture_default_str()->check(CLI::Range(0.0, 1e6));
  scan.add_option("--retries", o.retries, "retries of a server that answered 4xx (421 busy, …)")->capture_default_str()->check(CLI::Range(0, 10));
  scan.add_option("--retry-delay", o.retry_delay, "seconds before the first retry, doubled for each further one")->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  scan.add_option("--probe-cache", o.probe_cache, "finished probes kept for domains sharing MX hosts")->capture_default_str()->check(CLI::Range(1, 100'000'000));
  scan.add_option("--dns-cache", o.dns_cache, "DNS answers kept for the scan")->capture_default_str()->check(CLI::Range(0, 100'000'000));
  scan.add_flag("-q,--quiet", o.quiet, "no progress, notes or summary on standard error");
  scan.add_flag("--no-port25-check", o.no_port25_check,
                "do not stop when the first connections show that this network blocks outbound port 25");
  scan.add_option("--summary", o.summary_file, "also write the summary to this file");
  scan.add_option("--top", o.top, "MX operators listed in the summary")->capture_default_str();
}

// MTA-STS policy fetches in flight across the scan (HTTPS connections beside the probes).
constexpr std::size_t policy_fetches_in_flight = 100;

// Each probe needs a socket; beside them the resolver holds at most its queries in flight plus
// its idle sockets, and the policy fetches theirs. Raise the soft descriptor limit to what that
// takes (or the hard limit) and lower the concurrency if even that is not enough, rather than
// failing connections with EMFILE.
std::size_t fit_descriptor_limit(std::size_t concurrency, std::size_t dns_queries, std::size_t dns_servers, bool quiet) {
  const std::size_t others = dns_queries + dns::max_idle_udp_sockets * dns_servers + policy_fetches_in_flight + 64;
  const auto needed = [others](std::size_t c) { return static_cast<rlim_t>(c + others); };
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return concurrency;
  if (limit.rlim_cur < needed(concurrency)) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed(concurrency) : std::min(limit.rlim_max, needed(concurrency));
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur >= needed(concurrency)) return concurrency;
  const std::size_t fitting = limit.rlim_cur > others ? static_cast<std::size_t>(limit.rlim_cur - others) : 1;
  if (!quiet)
    std::cerr << "mxtls: the open-file limit (" << limit.rlim_cur << ") allows " << fitting << " connections, not "
              << concurrency << "; using " << fitting << " (raise it with ulimit -n)\n";
  return std::max<std::size_t>(fitting, 1);
}

std::uint64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t lines = 0;
  char chunk[1 << 16];
  bool last_newline = true;
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    const auto n = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < n; ++i) lines += chunk[i] == '\n';
    last_newline = chunk[n - 1] == '\n';
  }
  return lines + (last_newline ? 0 : 1);
}

std::string duration_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<long>(seconds);
  char buffer[32];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60) std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buffer, sizeof buffer, "%lds", s);
  return buffer;
}

// One status line on a terminal, rewritten in place every second.
class Progress {
 public:
  Progress(const scan::BulkScan& scan, std::uint64_t total_lines) : scan_(scan), total_(total_lines) {}

  std::string line() const {
    const auto& c = scan_.counters();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(c.finished) / elapsed : 0;
    std::ostringstream out;
    out << "mxtls scan: " << c.finished << " done";
    if (total_ > 0) {
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.1f", 100.0 * static_cast<double>(c.lines) / static_cast<double>(total_));
      out << " · line " << c.lines << "/" << total_ << " (" << pct << "%)";
    }
    out << " · " << c.in_flight << " domains, " << scan_.scheduler().open_connections() << " connections open";
    char r[32];
    std::snprintf(r, sizeof r, "%.1f", rate);
    out << " · " << r << " domains/s";
    if (total_ > 0 && c.lines > 0 && elapsed > 1) {
      const double lines_per_s = static_cast<double>(c.lines) / elapsed;
      out << " · ETA " << duration_text(static_cast<double>(total_ - std::min(total_, c.lines)) / lines_per_s);
    }
    const auto status_count = [&](Status s) { return c.probe_status[static_cast<std::size_t>(s)]; };
    out << " · timeouts " << status_count(Status::timeout) << ", refused " << status_count(Status::refused)
        << ", dns " << status_count(Status::dns_error);
    if (c.input_problems) out << ", bad lines " << c.input_problems;
    return out.str();
  }

 private:
  const scan::BulkScan& scan_;
  std::uint64_t total_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace

void add_scan_command(CLI::App& app, ScanOptions& options) {
  auto* scan = app.add_subcommand("scan", "bulk scan of a domain list: JSON Lines or CSV, resumable, shardable");
  options.probe.format = Format::jsonl;
  add_probe_options(*scan, options.probe);
  add_scan_options(*scan, options);
}

int run_scan(const ScanOptions& options) {
  const bool quiet = options.quiet;
  if (options.probe.format == Format::text) {
    std::cerr << "mxtls: scan writes --format jsonl or csv; the summary table goes to standard error\n";
    return 2;
  }
  const auto format = options.probe.format == Format::csv ? scan::OutputFormat::csv : scan::OutputFormat::jsonl;
  if (options.resume && options.output == "-") {
    std::cerr << "mxtls: --resume needs the output file (-o FILE) of the interrupted scan\n";
    return 2;
  }
  bool bad_input = false;
  try {
    scan::BulkSettings settings;
    settings.domain = scan_settings(options.probe);
    if (!options.shard.empty()) settings.shard = scan::parse_shard(options.shard);
    auto resolver_settings = resolver_config(options.probe);
    resolver_settings.cache_entries = options.dns_cache;
    resolver_settings.uncached_types = {dns::wire::RecordType::mx, dns::wire::RecordType::txt};
    auto& sched = settings.scheduler;
    sched.concurrency = fit_descriptor_limit(options.concurrency, resolver_settings.max_queries_in_flight,
                                             resolver_settings.servers.size(), quiet);
    sched.per_ip = options.per_ip;
    sched.rate = options.rate;
    sched.retries = options.retries;
    sched.retry_delay = std::chrono::milliseconds(static_cast<long long>(options.retry_delay * 1000));
    sched.cache_entries = options.probe_cache;
    sched.watch_port25 = !options.no_port25_check;

    scan::ExclusionList exclusions;
    for (const auto& file : options.exclude_files) {
      std::vector<scan::InputProblem> problems;
      exclusions.load(file, problems);
      for (const auto& p : problems) std::cerr << "mxtls: " << p.where << ": " << p.reason << " ('" << p.text << "'), ignored\n";
      bad_input = bad_input || !problems.empty();
    }

    report::SummaryBuilder summary;
    scan::ResumeState resumed;
    if (options.resume) {
      resumed = scan::prepare_resume(options.output, format);
      if (!quiet)
        for (const auto& note : resumed.notes) std::cerr << "mxtls: " << note << "\n";
      // The summary covers the whole output, the earlier part included.
      if (format == scan::OutputFormat::jsonl && resumed.domains > 0) {
        std::ifstream earlier(options.output, std::ios::binary);
        report::JsonlDomainReader reader(earlier, options.output);
        while (auto d = reader.next()) summary.add(*d);
      }
    }

    std::unique_ptr<scan::DomainListReader> input;
    std::uint64_t total_lines = 0;
    const bool show_progress = !quiet && isatty(STDERR_FILENO);
    if (options.input == "-") {
      input = std::make_unique<scan::DomainListReader>(std::cin, "stdin");
    } else {
      auto file = std::make_unique<std::ifstream>(options.input, std::ios::binary);
      if (!*file) {
        std::cerr << "mxtls: cannot open input '" << options.input << "'\n";
        return 2;
      }
      input = std::make_unique<scan::DomainListReader>(std::move(file), options.input);
      if (show_progress) total_lines = count_lines(options.input);
    }

    tls::ClientTlsContext tls_context(tls_options(options.probe));
    scan::ResultWriter writer(options.output, format);

    asio::io_context io(1);
    dns::Resolver resolver(io.get_executor(), resolver_settings);
    bool findings = false;
    scan::BulkHooks hooks;
    hooks.on_domain = [&](const DomainResult& d) {
      writer.write(d);
      summary.add(d);
      findings = findings || report::has_problems(d);
    };
    hooks.on_problem = [&](const scan::InputProblem& p) {
      bad_input = true;
      std::cerr << (show_progress ? "\r\x1b[K" : "") << "mxtls: " << p.where << ": " << p.reason << " ('" << p.text
                << "'), skipped\n";
    };
    hooks.on_port25_verdict = [&](bool ipv6, const scan::Port25Watch& watch) {
      const char* family = ipv6 ? "IPv6" : "IPv4";
      const auto verdict = watch.verdict(ipv6);
      const auto port = options.probe.port;
      const char* clear = show_progress ? "\r\x1b[K" : "";
      if (verdict == scan::Port25Watch::Verdict::blocked) {
        // An error, said even with -q: everything after this would be thousands of "timeouts".
        std::cerr << clear << "mxtls: outbound port " << port << " looks blocked by this machine's network (" << family
                  << "): " << watch.evidence(ipv6, port) << ".\nmxtls: home lines and cloud providers often block port 25; "
                  << "stopping: no further connections" << (ipv6 ? " (add -4 to scan over IPv4 only)" : "") << "\n";
      } else if (verdict == scan::Port25Watch::Verdict::no_route && !quiet) {
        std::cerr << clear << "mxtls: " << family << ": this machine has no route to the servers (" << watch.evidence(ipv6, port)
                  << "); their probes say `no route`" << (ipv6 ? "; add -4 to skip IPv6" : "") << "\n";
      }
    };
    if (options.resume) hooks.is_done = [&](const std::string& ascii) { return resumed.done.contains(ascii); };
    settings.domain.policy_fetches = std::make_shared<Slots>(io.get_executor(), policy_fetches_in_flight);
    scan::BulkScan bulk(io, resolver, tls_context, exclusions.empty() ? nullptr : &exclusions, settings, hooks);

    // SIGINT/SIGTERM: start nothing new and let the domains in flight finish (each probe is
    // bounded by its own deadlines); a second signal, or the grace period, ends at once.
    // Either way only whole blocks are in the output.
    bool interrupted = false;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer grace(io);
    std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int) {
      if (ec) return;
      if (interrupted) {
        io.stop();
        return;
      }
      interrupted = true;
      bulk.stop();
      std::cerr << (show_progress ? "\r\x1b[K" : "") << "mxtls: stopping: finishing " << bulk.counters().in_flight
                << " domains in flight (again to quit now)\n";
      grace.expires_after(std::chrono::milliseconds(settings.domain.probe.timeouts.probe) + 5s);
      grace.async_wait([&](const std::error_code& e) {
        if (!e) io.stop();
      });
      signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(io, bulk.run(std::move(input)), [&](std::exception_ptr e) {
      failure = e;
      done = true;
      signals.cancel();
      grace.cancel();
    });
    asio::steady_timer ticker(io);
    Progress progress(bulk, total_lines);
    std::function<void(const std::error_code&)> tick = [&](const std::error_code& ec) {
      if (ec || done) return;
      std::cerr << "\r\x1b[K" << progress.line() << std::flush;
      ticker.expires_after(1s);
      ticker.async_wait(tick);
    };
    if (show_progress) {
      ticker.expires_after(1s);
      ticker.async_wait(tick);
    }
    io.run();
    if (show_progress) std::cerr << "\r\x1b[K" << progress.line() << "\n";
    if (failure) std::rethrow_exception(failure);

    const auto& c = bulk.counters();
    if (!quiet) {
      const auto& s = bulk.scheduler().counters();
      const auto& dns_counts = resolver.cache_counters();
      std::cerr << "mxtls: " << c.finished << (c.finished == 1 ? " domain" : " domains") << " scanned";
      if (c.already_done) std::cerr << ", " << c.already_done << " done earlier (--resume)";
      if (c.other_shards) std::cerr << ", " << c.other_shards << " left to other shards";
      if (c.duplicates) std::cerr << ", " << c.duplicates << " duplicates dropped";
      if (c.excluded || s.excluded) std::cerr << ", excluded: " << c.excluded << " domains, " << s.excluded << " probes";
      std::cerr << "; " << s.connections << " connections for " << s.probes << " probes (" << s.reused
                << " shared with other domains, " << s.retries << " retries after 4xx); DNS " << dns_counts.queries
                << " queries, " << dns_counts.hits << " answered from cache\n";
      if (s.local_waits)
        std::cerr << "mxtls: " << s.local_waits << " connections had to wait for a free descriptor or local port "
                  << "(EMFILE/ENFILE/EADDRNOTAVAIL): lower --concurrency or raise `ulimit -n`\n";
      summary.write_text(std::cerr, {false, options.top});
    }
    if (!options.summary_file.empty()) {
      std::ofstream file(options.summary_file);
      summary.write_text(file, {false, options.top});
      if (!file) std::cerr << "mxtls: cannot write the summary to '" << options.summary_file << "'\n";
    }
    const auto& port25 = bulk.scheduler().port25();
    if (!quiet) {
      for (const bool ipv6 : {false, true}) {
        // Too few servers to be sure, yet not one answered: worth a word.
        if (port25.verdict(ipv6) == scan::Port25Watch::Verdict::inconclusive && port25.attempts(ipv6) > 0 &&
            port25.connected(ipv6) == 0)
          std::cerr << "mxtls: " << (ipv6 ? "IPv6" : "IPv4") << ": " << port25.evidence(ipv6, options.probe.port)
                    << "; if these servers should be reachable, this network may block outbound port "
                    << options.probe.port << "\n";
      }
    }
    if (port25.any_blocked()) {
      std::cerr << "mxtls: stopped: outbound port " << options.probe.port << " is blocked here; " << c.finished << " domains written, "
                << c.held_back << " held back"
                << (options.output == "-" ? std::string(".")
                                          : "; continue with the same command and --resume from a network that lets "
                                            "it out (or add --no-port25-check to scan from here anyway)")
                << "\n";
      return 4;
    }
    if (!bulk.fatal_error().empty()) {
      std::cerr << "mxtls: stopped: " << bulk.fatal_error() << "\nmxtls: every domain written so far is whole; "
                << "free the space and continue with the same command and --resume\n";
      return 3;
    }
    if (interrupted) {
      std::cerr << "mxtls: interrupted after " << c.finished << " domains"
                << (options.output == "-" ? std::string() : "; continue with the same command and --resume") << "\n";
      if (!done) {
        // Stopped with domains still in flight (a second signal, or the grace period ran out):
        // their coroutines hold references to the scan, resolver and sockets of this frame, and
        // unwinding would destroy those before the io_context destroys the coroutines. Every
        // record written is whole (one write(2) per domain), so there is nothing left to save.
        std::cout.flush();
        std::cerr.flush();
        std::_Exit(130);
      }
      return 130;
    }
    if (bad_input) return 2;
    return findings ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "mxtls: " << e.what() << "\n";
    return 2;
  }
}

void add_report_command(CLI::App& app, ReportOptions& options) {
  auto* report = app.add_subcommand("report", "summarise saved JSON Lines results (one scan or all its shards)");
  report->add_option("files", options.files, "JSON Lines files written by mxtls scan or check")->required()->check(CLI::ExistingFile);
  report->add_option("--top", options.top, "MX operators listed")->capture_default_str();
  report->add_flag("--no-color", options.no_color, "no ANSI colours");
}

int run_report(const ReportOptions& options) {
  report::SummaryBuilder summary;
  bool problems = false;
  // Shards are disjoint by construction; a domain found twice (the same file given twice, or
  // overlapping runs) is counted once.
  scan::DomainSet seen;
  std::uint64_t repeated = 0;
  for (const auto& path : options.files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "mxtls: cannot open '" << path << "'\n";
      problems = true;
      continue;
    }
    // CSV has no per-domain records to summarise from: say so instead of a line-by-line flood.
    std::string first;
    std::getline(in, first);
    if (first.rfind("schema_version,", 0) == 0) {
      std::cerr << "mxtls: " << path << " is CSV; report reads the JSON Lines output (scan --format jsonl)\n";
      problems = true;
      continue;
    }
    in.clear();
    in.seekg(0);
    report::JsonlDomainReader reader(in, path);
    while (auto d = reader.next()) {
      if (!seen.insert(d->domain)) {
        ++repeated;
        continue;
      }
      summary.add(*d);
    }
    for (const auto& p : reader.problems()) std::cerr << "mxtls: " << p << "\n";
    problems = problems || !reader.problems().empty();
  }
  if (repeated) std::cerr << "mxtls: " << repeated << " domains appeared more than once; counted once\n";
  summary.write_text(std::cout, {use_color(Format::text, options.no_color), options.top});
  return problems ? 2 : 0;
}

}  // namespace mxtls::cli
