// Phase deadlines for one connection: a single alarm (core/alarm.hpp) that every phase
// re-arms. Either a watchdog coroutine finishes when the current deadline passes (run the work
// as `co_await (work() || clock.watchdog())`), or guard(socket) ends the connection's I/O when
// it passes. Either way no phase can outlive its deadline, whatever the peer does.
#pragma once

#include "core/alarm.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace mxtls {

class PhaseClock {
 public:
  using clock = std::chrono::steady_clock;

  // `overall` bounds the whole connection, whatever the phases ask for.
  PhaseClock(const asio::any_io_executor& executor, clock::duration overall);
  ~PhaseClock() = default;
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

  // The next phase may take `limit`, but never past the overall deadline.
  void start_phase(clock::duration limit);
  // True once a deadline has passed; after guard() has ended the I/O, for good (a later phase
  // on that socket fails because of the deadline, whatever its own limit).
  bool expired() const { return fired_ || clock::now() >= deadline_; }
  // When the current phase's deadline passes.
  clock::time_point deadline() const { return deadline_; }
  // How long the current phase was allowed (for "no answer within 10 s" messages).
  clock::duration phase_limit() const { return phase_limit_; }
  bool overall_expired() const { return clock::now() >= overall_end_; }

  // Completes when the current deadline has passed; re-arming moves it.
  asio::awaitable<void> watchdog();

  // Instead of a watchdog: when a deadline passes, `socket`'s pending operations are cancelled
  // and it is shut down both ways, so the wait in progress ends at once and any later read or
  // write sees a closed connection (no wait can slip in after the cancel and hang). A probe
  // whose every wait is on one socket needs no second coroutine and no timer of its own: the
  // alarm costs no pending operation, where `work() || watchdog()` costs a parallel group and
  // three coroutine frames (about 2 KB per connection). The socket must outlive the clock.
  void guard(asio::ip::tcp::socket& socket) { guarded_ = &socket; }

 private:
  static void deadline_passed(void* self);

  clock::time_point deadline_;
  clock::time_point overall_end_;
  clock::duration phase_limit_{};
  asio::ip::tcp::socket* guarded_ = nullptr;
  asio::steady_timer* watchdog_wake_ = nullptr;  // while a watchdog() sleeps
  bool fired_ = false;
  Alarm alarm_;
};

// One deadline for one exchange, without a second coroutine racing it: when it passes,
// `on_expiry` runs (typically an I/O object's cancel()) and fired() is true from then on. The
// work checks fired() before each new wait, so a wait begun after the cancel (its previous
// step had completed but not yet resumed) cannot hang. Destroying the guard disarms it: the
// callback never runs after that.
class ExpiryGuard {
 public:
  ExpiryGuard(const asio::any_io_executor& executor, std::chrono::steady_clock::duration after,
              std::function<void()> on_expiry);
  ExpiryGuard(const ExpiryGuard&) = delete;
  ExpiryGuard& operator=(const ExpiryGuard&) = delete;
  bool fired() const { return fired_; }

 private:
  static void expire(void* self);

  std::function<void()> on_expiry_;
  bool fired_ = false;
  Alarm alarm_;
};

}  // namespace mxtls
