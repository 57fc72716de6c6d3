// mxtls command line: wiring of the subcommands only; each lives in src/cli/.
#include "cli/check.hpp"
#include "cli/headers.hpp"
#include "cli/lab.hpp"
#include "cli/listen.hpp"
#include "cli/scan.hpp"
#include "ossl/record_buffers.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  // Before anything touches OpenSSL (see ossl/record_buffers.hpp).
  mxtls::ossl::install_record_buffer_pool();
  CLI::App app{"mxtls — remote STARTTLS probing scanner for mail servers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mxtls 0.1.0");

  mxtls::cli::CheckOptions check;
  mxtls::cli::add_check_command(app, check);
  mxtls::cli::LabOptions lab;
  mxtls::cli::add_lab_command(app, lab);
  mxtls::cli::DemoOptions demo;
  mxtls::cli::add_demo_command(app, demo);
  mxtls::cli::ScanOptions scan;
  mxtls::cli::add_scan_command(app, scan);
  mxtls::cli::ReportOptions report;
  mxtls::cli::add_report_command(app, report);

  mxtls::cli::ListenOptions listen;
  mxtls::cli::add_listen_command(app, listen);
  mxtls::cli::HeadersOptions headers;
  mxtls::cli::add_headers_command(app, headers);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses exit code 0 for --help; every real usage error becomes 2 (DESIGN.md §2).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (app.got_subcommand("check")) return mxtls::cli::run_check(check);
  if (app.got_subcommand("lab")) return mxtls::cli::run_lab(lab);
  if (app.got_subcommand("demo")) return mxtls::cli::run_demo(demo);
  if (app.got_subcommand("scan")) return mxtls::cli::run_scan(scan);
  if (app.got_subcommand("report")) return mxtls::cli::run_report(report);
  if (app.got_subcommand("listen")) return mxtls::cli::run_listen(listen);
  if (app.got_subcommand("headers")) return mxtls::cli::run_headers(headers);
  return 2;
}
