// Shared probe options and their translation into scan settings.
#include "cli/common.hpp"

#include "tls/https_client.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mxtls::cli {
namespace {

std::chrono::milliseconds to_ms(double seconds, const char* name) {
  if (!(seconds > 0) || seconds > 3600) throw std::invalid_argument(std::string(name) + " must be between 0 and 3600 seconds");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

void add_probe_options(CLI::App& command, ProbeOptions& o) {
  command.add_option("--resolver", o.resolvers, "DNS server IP[:PORT] (repeatable; default: /etc/resolv.conf)");
  command.add_option("--ca-file", o.ca_file, "trust anchors (PEM bundle) instead of the system store")->check(CLI::ExistingFile);
  command.add_option("--ca-path", o.ca_path, "trust anchors (hashed directory) instead of the system store")->check(CLI::ExistingDirectory);
  command.add_option("--ehlo-name", o.ehlo_name, "name sent in EHLO (default: this machine's FQDN)");
  command.add_option("--port", o.port, "SMTP port to probe")->capture_default_str();
  auto* v4 = command.add_flag("-4", o.only_ipv4, "IPv4 addresses only");
  command.add_flag("-6", o.only_ipv6, "IPv6 addresses only")->excludes(v4);
  command.add_option("--connect-timeout", o.connect_timeout, "seconds for the TCP connection")->capture_default_str();
  command.add_option("--greeting-timeout", o.greeting_timeout, "seconds for the 220 greeting")->capture_default_str();
  command.add_option("--command-timeout", o.command_timeout, "seconds for each EHLO/STARTTLS reply")->capture_default_str();
  command.add_option("--handshake-timeout", o.handshake_timeout, "seconds for the TLS handshake")->capture_default_str();
  command.add_option("--probe-timeout", o.probe_timeout, "seconds for a whole probe")->capture_default_str();
  command.add_option("--dns-timeout", o.dns_timeout, "seconds per DNS attempt")->capture_default_str();
  command.add_option("--dns-attempts", o.dns_attempts, "DNS attempts per server")->capture_default_str()->check(CLI::Range(1, 10));
  command.add_option("--mta-sts-port", o.mta_sts_port, "port of the HTTPS server for MTA-STS policies")->capture_default_str();
  command.add_option("--mta-sts-timeout", o.mta_sts_timeout, "seconds for an MTA-STS policy fetch")->capture_default_str();
  command.add_flag("--no-policies", o.no_policies, "do not look up MTA-STS and TLS-RPT");
  add_format_option(command, o.format);
  command.add_flag("--no-color", o.no_color, "no ANSI colours in text output");
}

void add_format_option(CLI::App& command, Format& format) {
  const std::map<std::string, Format> names{{"text", Format::text}, {"jsonl", Format::jsonl}, {"csv", Format::csv}};
  command.add_option("--format", format, "output: text, jsonl or csv")->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
}

dns::ResolverConfig resolver_config(const ProbeOptions& o) {
  dns::ResolverConfig config;
  for (const auto& text : o.resolvers) config.servers.push_back(dns::parse_server(text));
  if (config.servers.empty()) {
    std::vector<std::string> errors;
    config.servers = dns::servers_from_resolv_conf("/etc/resolv.conf", errors);
    if (config.servers.empty())
      throw std::runtime_error("no DNS server: /etc/resolv.conf has none usable; give --resolver IP[:PORT]" +
                               (errors.empty() ? std::string() : " (" + errors.front() + ")"));
  }
  config.timeout = to_ms(o.dns_timeout, "--dns-timeout");
  config.attempts = o.dns_attempts;
  return config;
}

scan::DomainScanSettings scan_settings(const ProbeOptions& o) {
  scan::DomainScanSettings s;
  s.port = o.port;
  s.ipv4 = !o.only_ipv6;
  s.ipv6 = !o.only_ipv4;
  s.probe.ehlo_name = o.ehlo_name.empty() ? local_fqdn() : o.ehlo_name;
  auto& t = s.probe.timeouts;
  t.connect = to_ms(o.connect_timeout, "--connect-timeout");
  t.greeting = to_ms(o.greeting_timeout, "--greeting-timeout");
  t.command = to_ms(o.command_timeout, "--command-timeout");
  t.handshake = to_ms(o.handshake_timeout, "--handshake-timeout");
  t.probe = to_ms(o.probe_timeout, "--probe-timeout");
  s.mta_sts_port = o.mta_sts_port;
  s.mta_sts_timeout = to_ms(o.mta_sts_timeout, "--mta-sts-timeout");
  // MTA-STS policies are fetched with the same trust store as the probes use for verdicts.
  if (!o.no_policies) s.https = std::make_shared<tls::HttpsContext>(tls_options(o));
  return s;
}

tls::ClientTlsOptions tls_options(const ProbeOptions& o) { return {o.ca_file, o.ca_path, {}}; }

std::string local_fqdn() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost.localdomain";
  std::string host = name;
  if (host.find('.') != std::string::npos) return host;
  // /etc/hosts: "ADDR fqdn alias…" — take a dotted name on the line that names this host.
  std::ifstream hosts("/etc/hosts");
  for (std::string line; std::getline(hosts, line);) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string address, word, dotted;
    words >> address;
    bool names_us = false;
    while (words >> word) {
      if (word == host) names_us = true;
      if (dotted.empty() && word.find('.') != std::string::npos && word.rfind(host + ".", 0) == 0) dotted = word;
    }
    if (names_us && !dotted.empty()) return dotted;
  }
  return host;
}

bool use_color(Format format, bool no_color) {
  return !no_color && format == Format::text && std::getenv("NO_COLOR") == nullptr && isatty(STDOUT_FILENO);
}

}  // namespace mxtls::cli
