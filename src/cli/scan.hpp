// `mxtls scan`: the bulk scan of a domain list (file or stdin) into JSON Lines or CSV,
// polite (per-IP cap, rate, exclusions), resumable (--resume) and splittable (--shard K/N),
// with progress on a terminal and the transparency summary at the end.
#pragma once

#include "cli/common.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mxtls::cli {

struct ScanOptions {
  ProbeOptions probe;
  std::string input = "-";
  std::string output = "-";
  bool resume = false;
  std::string shard;  // "K/N"
  std::vector<std::string> exclude_files;
  std::size_t concurrency = 100;
  std::size_t per_ip = 2;
  double rate = 0;
  int retries = 2;
  double retry_delay = 30;
  std::size_t probe_cache = 20'000;
  std::size_t dns_cache = 100'000;
  bool quiet = false;
  bool no_port25_check = false;
  std::string summary_file;
  std::size_t top = 10;
};

void add_scan_command(CLI::App& app, ScanOptions& options);
// 0: all domains scanned, no findings; 1: findings; 2: bad input lines or usage;
// 3: the output could not be written; 4: this machine's network blocks outbound port 25
// (resume with --resume from elsewhere); 130: interrupted (resume with --resume).
int run_scan(const ScanOptions& options);

struct ReportOptions {
  std::vector<std::string> files;
  std::size_t top = 10;
  bool no_color = false;
};
void add_report_command(CLI::App& app, ReportOptions& options);
// Reads saved JSON Lines (one scan or the shards of one) and prints the summary.
int run_report(const ReportOptions& options);

}  // namespace mxtls::cli
