// PhaseClock: one timer per connection, re-armed by each phase; see deadline.hpp.
#include "core/deadline.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

namespace mxtls {

PhaseClock::PhaseClock(const asio::any_io_executor& executor, clock::duration overall)
    : timer_(executor), overall_end_(clock::now() + overall) {
  timer_.expires_at(overall_end_);
}

PhaseClock::~PhaseClock() {
  if (guard_) guard_->clock = nullptr;
}

void PhaseClock::start_phase(clock::duration limit) {
  phase_limit_ = limit;
  // expires_at cancels a pending wait: the watchdog wakes up and waits for the new deadline,
  // a guard's handler sees operation_aborted and a new one is armed.
  timer_.expires_at(std::min(clock::now() + limit, overall_end_));
  arm_guard();
}

void PhaseClock::guard(asio::ip::tcp::socket& socket) {
  guard_ = std::make_shared<Guard>(Guard{this, &socket});
  arm_guard();
}

void PhaseClock::arm_guard() {
  if (!guard_) return;
  timer_.async_wait([guard = guard_](const std::error_code& ec) {
    if (ec || guard->clock == nullptr) return;  // re-armed or stopped; or the clock is gone
    PhaseClock& clock = *guard->clock;
    // The deadline this handler was queued for may have been moved by a phase that started
    // between its expiry and now; the new deadline has its own handler.
    if (clock::now() < clock.timer_.expiry()) return;
    clock.fired_ = true;
    std::error_code ignored;
    guard->socket->cancel(ignored);
    guard->socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  });
}

asio::awaitable<void> PhaseClock::watchdog() {
  for (;;) {
    auto [ec] = co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (!ec && clock::now() >= timer_.expiry()) co_return;  // deadline passed
    // Woken early: either re-armed (loop and wait again) or the work finished and the
    // operator|| cancelled us (leave).
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

ExpiryGuard::ExpiryGuard(const asio::any_io_executor& executor, std::chrono::steady_clock::duration after,
                         std::function<void()> on_expiry)
    : state_(std::make_shared<State>(State{std::move(on_expiry)})), timer_(executor, after) {
  timer_.async_wait([state = state_](const std::error_code& ec) {
    if (ec || !state->armed) return;
    state->fired = true;
    state->on_expiry();
  });
}

ExpiryGuard::~ExpiryGuard() {
  state_->armed = false;  // what on_expiry refers to may go with us
}

}  // namespace mxtls
