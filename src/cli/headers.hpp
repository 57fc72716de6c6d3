// `mxtls headers FILE.eml|-`: the Received: hops of a saved message, each with the TLS it
// states, so an admin sees where the message travelled in cleartext.
#pragma once

#include "cli/common.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mxtls::cli {

struct HeadersOptions {
  std::vector<std::string> inputs;  // files; "-" is standard input
  Format format = Format::text;     // text or jsonl
  bool no_color = false;
};

void add_headers_command(CLI::App& app, HeadersOptions& options);

// Exit code: 0 every hop on the network used TLS, 1 some hop was cleartext or unknown,
// 2 an input could not be read or holds no header fields.
int run_headers(const HeadersOptions& options);

}  // namespace mxtls::cli
