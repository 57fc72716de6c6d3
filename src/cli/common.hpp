// Options shared by the commands that probe (check, scan, demo): resolvers, trust store,
// EHLO name, port, address families, timeouts, output format — and their translation into
// the settings structs of the scan layer.
#pragma once

#include "dns/resolver.hpp"
#include "scan/domain.hpp"
#include "tls/client.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mxtls::cli {

enum class Format { text, jsonl, csv };

struct ProbeOptions {
  std::vector<std::string> resolvers;  // IP[:PORT]; empty: /etc/resolv.conf
  std::string ca_file, ca_path;
  std::string ehlo_name;  // empty: this machine's FQDN
  std::uint16_t port = 25;
  bool only_ipv4 = false, only_ipv6 = false;
  double connect_timeout = 10, greeting_timeout = 30, command_timeout = 15, handshake_timeout = 15,
         probe_timeout = 90, dns_timeout = 3;
  int dns_attempts = 2;
  std::uint16_t mta_sts_port = 443;  // where MTA-STS policies are fetched (tests and the lab use others)
  double mta_sts_timeout = 10;
  bool no_policies = false;          // skip MTA-STS and TLS-RPT lookups
  Format format = Format::text;
  bool no_color = false;
};

void add_probe_options(CLI::App& command, ProbeOptions& options);
void add_format_option(CLI::App& command, Format& format);

// Each throws std::invalid_argument/std::runtime_error with a message naming the bad input.
dns::ResolverConfig resolver_config(const ProbeOptions& options);
scan::DomainScanSettings scan_settings(const ProbeOptions& options);
tls::ClientTlsOptions tls_options(const ProbeOptions& options);

// This machine's fully qualified name, for a truthful EHLO, read from the local system only
// (gethostname and /etc/hosts): the scanner must not send DNS queries about itself.
std::string local_fqdn();

// ANSI colour only for text on a terminal, unless --no-color or NO_COLOR says otherwise.
bool use_color(Format format, bool no_color);

}  // namespace mxtls::cli
