// Phase deadlines for one connection: a single timer that every phase re-arms, and a
// watchdog coroutine that finishes when the current deadline passes. Run the work as
// `co_await (work() || clock.watchdog())`: when the watchdog wins, Asio cancels whatever the
// work was waiting on, so no phase can outlive its deadline whatever the peer does.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>

namespace mxtls {

class PhaseClock {
 public:
  using clock = std::chrono::steady_clock;

  // `overall` bounds the whole connection, whatever the phases ask for.
  PhaseClock(const asio::any_io_executor& executor, clock::duration overall);

  // The next phase may take `limit`, but never past the overall deadline.
  void start_phase(clock::duration limit);
  bool expired() const { return clock::now() >= timer_.expiry(); }
  // How long the current phase was allowed (for "no answer within 10 s" messages).
  clock::duration phase_limit() const { return phase_limit_; }
  bool overall_expired() const { return clock::now() >= overall_end_; }

  // Completes when the current deadline has passed; re-arming moves it.
  asio::awaitable<void> watchdog();

 private:
  asio::steady_timer timer_;
  clock::time_point overall_end_;
  clock::duration phase_limit_{};
};

}  // namespace mxtls
