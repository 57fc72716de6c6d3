// `mxtls lab` (the simulated fleet of MX hosts + DNS, running until stopped) and
// `mxtls demo` (the fleet and a check of every lab domain in one process: the offline first run).
#pragma once

#include "cli/common.hpp"
#include "cli/lab_scale.hpp"
#include "core/result.hpp"

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>

#include <string>
#include <vector>

namespace mxtls::lab {
class Fleet;
}

namespace mxtls::cli {

struct LabOptions {
  std::string zone_file;  // empty: the built-in zone
  std::string dns = "127.25.0.53:5353";
  std::uint16_t smtp_port = 2525;
  bool no_smtp = false;
  std::string ca_out;  // write the lab CA here, for --ca-file of a separate `check`
  ScaleLabOptions scale;  // --scale N: thousands of hosts for benchmarks and bulk-scan tests
  bool dns_given = false;
};

struct DemoOptions {
  std::uint16_t smtp_port = 0;  // 0: any free port
  std::uint16_t dns_port = 0;
  Format format = Format::text;
  bool no_color = false;
};

void add_lab_command(CLI::App& app, LabOptions& options);
void add_demo_command(CLI::App& app, DemoOptions& options);
int run_lab(const LabOptions& options);
// Exit code 0 when every lab domain got its expected verdict, 1 otherwise.
int run_demo(const DemoOptions& options);

// Checks every domain of a started fleet through its DNS, trusting its CA, with deadlines short
// enough that the tarpit does not make the first run slow; results in the fleet's order.
std::vector<DomainResult> check_lab_domains(asio::io_context& io, const lab::Fleet& fleet);

}  // namespace mxtls::cli
