// `mxtls listen`: receive a test message the way Gmail would and report whether the sending
// server used STARTTLS (grey lock) or not (red lock), with the fix for its MTA.
#pragma once

#include "cli/common.hpp"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace mxtls::cli {

struct ListenOptions {
  std::string listen = "0.0.0.0:25";  // ADDR:PORT or [IPv6]:PORT
  std::string cert_file, key_file;    // PEM; without them a self-signed certificate is made
  std::string hostname;               // default: this machine's FQDN
  bool once = false;                  // exit after the first session that delivered a message
  std::string save_dir;
  std::size_t max_size = 10 * 1024 * 1024;
  std::size_t max_sessions = 8;
  double command_timeout = 60, session_timeout = 600;
  std::vector<std::string> resolvers;  // for the peer's reverse name; default /etc/resolv.conf
  bool no_reverse = false;
  double reverse_timeout = 3;
  Format format = Format::text;
  bool no_color = false;
};

void add_listen_command(CLI::App& app, ListenOptions& options);

// Runs until SIGINT/SIGTERM (exit 0), or with --once until the first message: 0 when it came
// over TLS (grey lock), 1 when in cleartext (red lock). 2: usage error, cannot listen.
int run_listen(const ListenOptions& options);

}  // namespace mxtls::cli
