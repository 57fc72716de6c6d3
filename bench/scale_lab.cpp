// mxtls-scale-lab: the scale lab as its own small program, with exactly the options
// `mxtls lab --scale` takes, so the benchmarks can start it (pinned with taskset) whether or
// not the main binary has the scale mode wired in.
#include "cli/lab_scale.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app("mxtls scale lab: thousands of simulated MX hosts on 127.64.0.0/10 and their DNS zone");
  mxtls::cli::ScaleLabOptions options;
  mxtls::cli::add_scale_options(app, options);
  app.get_option("--scale")->required();
  CLI11_PARSE(app, argc, argv);
  return mxtls::cli::run_scale_lab(options);
}
