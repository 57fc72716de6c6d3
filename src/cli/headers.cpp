// `mxtls headers`: read the header section of each input (bounded), parse its Received:
// headers and report every hop, sender first, as text or JSON Lines.
#include "cli/headers.hpp"

#include "mail/hops_report.hpp"
#include "mail/received.hpp"
#include "report/utf8.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>

namespace mxtls::cli {

namespace {

// Reads at most `limit` bytes: the parser never looks further than the header section cap, so
// a multi-gigabyte mbox given by mistake costs nothing.
bool read_bounded(std::istream& in, std::size_t limit, std::string& out) {
  out.clear();
  char buffer[65536];
  while (out.size() < limit && in) {
    in.read(buffer, static_cast<std::streamsize>(std::min(sizeof buffer, limit - out.size())));
    out.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  return !in.bad();
}

}  // namespace

void add_headers_command(CLI::App& app, HeadersOptions& options) {
  auto* command = app.add_subcommand("headers", "show every Received: hop of a saved message and whether it used TLS");
  command->add_option("inputs", options.inputs, "message files (.eml); - reads standard input")->required();
  const std::map<std::string, Format> names{{"text", Format::text}, {"jsonl", Format::jsonl}};
  command->add_option("--format", options.format, "output: text or jsonl")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
  command->add_flag("--no-color", options.no_color, "no ANSI colours in text output");
}

int run_headers(const HeadersOptions& options) {
  const bool color = use_color(options.format, options.no_color);
  const mail::HeaderLimits limits;
  int worst = 0;
  for (const auto& input : options.inputs) {
    const std::string shown = input == "-" ? "standard input" : input;
    std::string message;
    bool ok = false;
    if (input == "-") {
      ok = read_bounded(std::cin, limits.max_section_bytes + 1, message);
    } else {
      std::ifstream file(input, std::ios::binary);
      if (!file) {
        std::cerr << "mxtls headers: cannot open " << report::terminal_safe(input) << ": " << std::strerror(errno) << "\n";
        worst = 2;
        continue;
      }
      ok = read_bounded(file, limits.max_section_bytes + 1, message);
    }
    if (!ok) {
      std::cerr << "mxtls headers: cannot read " << report::terminal_safe(shown) << "\n";
      worst = 2;
      continue;
    }
    const mail::ParsedHeaders parsed = mail::parse_headers(message, limits);
    if (parsed.fields.empty()) {
      std::cerr << "mxtls headers: " << report::terminal_safe(shown) << ": no header fields, not a mail message\n";
      worst = 2;
      continue;
    }
    if (options.format == Format::jsonl) {
      std::cout << mail::headers_report_json(parsed, input) << "\n";
    } else {
      std::cout << mail::headers_report_text(parsed, shown, color);
      if (options.inputs.size() > 1) std::cout << "\n";
    }
    if (!mail::summarize(parsed.hops).all_encrypted() && worst < 1) worst = 1;
  }
  std::cout.flush();
  return worst;
}

}  // namespace mxtls::cli
