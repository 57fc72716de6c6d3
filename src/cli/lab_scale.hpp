// `mxtls lab --scale DOMAINS`: the scale lab (thousands of simulated MX hosts on 127.64.0.0/10
// and a DNS zone for DOMAINS domains) for benchmarks and the 100 000-domain test, running
// until SIGINT/SIGTERM. The options attach to an existing `lab` subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mxtls::cli {

struct ScaleLabOptions {
  std::size_t domains = 0;  // --scale; 0: scale mode off
  std::size_t hosts = 2000;
  std::size_t providers = 5;
  double provider_share = 0.6;
  std::string mix = "default";  // "good=70,silent=2,…"
  std::string delay_median = "0ms";
  double delay_spread = 0.5;
  std::string slow_banner = "5s";
  std::string drip_interval = "1s";
  std::string idle_timeout = "30s";
  std::string session_timeout = "120s";
  std::size_t busy_rejects = 1;
  std::size_t max_sessions = 12000;
  std::uint64_t seed = 1;
  std::string apex = "scale.test";
  // Shared with the plain lab: when the `lab` command already has --dns, --smtp-port and
  // --ca-out, add_scale_options leaves them alone and the caller copies them in here.
  std::string dns = "127.53.0.53:5353";
  std::uint16_t smtp_port = 2525;
  std::string ca_out;
  std::string domains_out;  // the domain list, one per line (the scanner's input)
  std::string targets_out;  // "IP PORT MXNAME PERSONALITY" per distinct MX name (bench tools)
};

void add_scale_options(CLI::App& lab_command, ScaleLabOptions& options);
// Starts the scale lab and serves until SIGINT/SIGTERM. 0 on a clean stop, 2 on a setup error.
int run_scale_lab(const ScaleLabOptions& options);

}  // namespace mxtls::cli
