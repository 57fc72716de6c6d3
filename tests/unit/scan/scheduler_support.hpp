// Test support for the probe scheduler: every target run through it at once, on one
// io_context, until all are done; the results in the order of the targets.
#pragma once

#include "scan/scheduler.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <vector>

namespace mxtls::scan::testing {

inline std::vector<ProbeResult> run_all(asio::io_context& io, ProbeScheduler& scheduler,
                                        const std::vector<ProbeTarget>& targets) {
  std::vector<ProbeResult> results(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> { co_await scheduler.run(targets[i], results[i]); },
                   asio::detached);
  }
  io.restart();
  io.run();
  return results;
}

}  // namespace mxtls::scan::testing
