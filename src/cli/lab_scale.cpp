// `mxtls lab --scale`: turns the command-line options into a ScaleFleet, writes the files the
// scanner and the benchmark tools read (CA, domain list, targets), prints one line saying
// what runs where, and serves until SIGINT/SIGTERM.
#include "cli/lab_scale.hpp"

#include "dns/resolver.hpp"
#include "lab/scale.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>

namespace mxtls::cli {
namespace {

void write_file(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  fill(out);
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::chrono::milliseconds milliseconds(const std::string& text, const char* option) {
  try {
    return std::chrono::duration_cast<std::chrono::milliseconds>(lab::parse_duration(text));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(option) + ": " + e.what());
  }
}

// Adds an option unless the command already has one by that name (the plain lab's).
template <typename T>
void add_unless_present(CLI::App& command, const std::string& name, T& value, const std::string& help) {
  if (command.get_option_no_throw(name) != nullptr) return;
  command.add_option(name, value, help)->capture_default_str();
}

}  // namespace

void add_scale_options(CLI::App& lab, ScaleLabOptions& o) {
  const std::string group = "Scale lab (--scale)";
  auto add = [&](const std::string& name, auto& value, const std::string& help) {
    lab.add_option(name, value, help)->capture_default_str()->group(group);
  };
  add("--scale", o.domains, "run the scale lab with this many domains instead of the built-in fleet");
  add("--hosts", o.hosts, "simulated MX hosts, one listening address each on 127.64.0.0/10");
  add("--providers", o.providers, "shared provider hosts (always good) among the hosts");
  add("--provider-share", o.provider_share, "fraction of domains whose MX is a provider host");
  add("--mix", o.mix,
      "personality weights, e.g. good=70,no_starttls=8,self_signed=8,busy=4,slow_banner=3,tarpit=1,silent=2,"
      "refused=4,tls_stall=0 (or 'default')");
  add("--delay-median", o.delay_median, "median of the lognormal delay before each SMTP reply (e.g. 80ms)");
  add("--delay-spread", o.delay_spread, "sigma of that lognormal (0: every reply waits the median)");
  add("--slow-banner", o.slow_banner, "slow_banner hosts wait this long before their banner");
  add("--drip-interval", o.drip_interval, "tarpit hosts send one byte per interval");
  add("--idle-timeout", o.idle_timeout, "a session waiting this long for a client line is closed");
  add("--session-timeout", o.session_timeout, "no session lasts longer (silent and tarpit hosts hold until then)");
  add("--busy-rejects", o.busy_rejects, "busy hosts answer 421 to this many of every N+1 connections");
  add("--max-sessions", o.max_sessions, "concurrent connections over the whole fleet; beyond, new ones are closed");
  add("--seed", o.seed, "seed for personalities, provider choice and delays (same seed, same lab)");
  add("--apex", o.apex, "zone apex of the scale lab's domains");
  add("--domains-out", o.domains_out, "write the domain list here, one per line (the scanner's input)");
  add("--targets-out", o.targets_out, "write 'IP PORT MXNAME PERSONALITY' per distinct MX name here");
  add_unless_present(lab, "--dns", o.dns, "DNS listen address IP:PORT (loopback)");
  add_unless_present(lab, "--smtp-port", o.smtp_port, "port every lab SMTP server listens on");
  add_unless_present(lab, "--ca-out", o.ca_out, "write the lab CA certificate (PEM) here");
}

int run_scale_lab(const ScaleLabOptions& o) {
  try {
    lab::ScaleFleetOptions options;
    options.zone.domains = o.domains;
    options.zone.hosts = o.hosts;
    options.zone.providers = o.providers;
    options.zone.provider_share = o.provider_share;
    options.zone.mix = lab::parse_personality_mix(o.mix);
    options.zone.seed = o.seed;
    options.zone.apex = o.apex;
    const auto dns = dns::parse_server(o.dns);
    if (!dns.address().is_loopback()) throw std::invalid_argument("--dns must be a loopback address");
    options.dns_address = dns.address();
    options.dns_port = dns.port();
    options.smtp_port = o.smtp_port;
    try {
      options.delay_median = lab::parse_duration(o.delay_median);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("--delay-median: ") + e.what());
    }
    if (!(o.delay_spread >= 0 && o.delay_spread <= 3)) throw std::invalid_argument("--delay-spread must be in [0, 3]");
    options.delay_spread = o.delay_spread;
    options.slow_banner = milliseconds(o.slow_banner, "--slow-banner");
    options.drip_interval = milliseconds(o.drip_interval, "--drip-interval");
    options.idle_timeout = milliseconds(o.idle_timeout, "--idle-timeout");
    options.session_timeout = milliseconds(o.session_timeout, "--session-timeout");
    if (options.drip_interval.count() <= 0) throw std::invalid_argument("--drip-interval must be positive");
    options.busy_rejects = o.busy_rejects;
    if (o.max_sessions == 0) throw std::invalid_argument("--max-sessions must be at least 1");
    options.max_sessions = o.max_sessions;

    asio::io_context io(1);
    lab::ScaleFleet fleet(io.get_executor(), options);
    fleet.start();
    if (!o.ca_out.empty()) write_file(o.ca_out, [&](std::ostream& out) { out << fleet.ca_pem(); });
    if (!o.domains_out.empty()) write_file(o.domains_out, [&](std::ostream& out) { fleet.zone().write_domains(out); });
    if (!o.targets_out.empty())
      write_file(o.targets_out, [&](std::ostream& out) { fleet.zone().write_targets(out, fleet.smtp_port()); });
    std::cout << fleet.describe() << std::endl;

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
      fleet.stop();
      io.stop();
    });
    io.run();
    const auto c = fleet.counters();
    std::cout << "mxtls lab --scale: stopped after " << c.sessions << " connections (peak " << c.peak_active
              << " open, " << c.tls_handshakes << " TLS handshakes, " << c.busy_rejected << " busy 421, "
              << c.over_limit << " over --max-sessions, " << c.timeouts << " timed out); MAIL/RCPT/DATA received: "
              << c.mail_commands << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "mxtls lab --scale: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace mxtls::cli
