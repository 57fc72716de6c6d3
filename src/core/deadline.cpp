// PhaseClock and ExpiryGuard on the io_context's shared alarms; see deadline.hpp.
#include "core/deadline.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

namespace mxtls {

PhaseClock::PhaseClock(const asio::any_io_executor& executor, clock::duration overall)
    : deadline_(clock::now() + overall), overall_end_(deadline_), alarm_(executor, &PhaseClock::deadline_passed, this) {
  alarm_.set(deadline_);
}

void PhaseClock::start_phase(clock::duration limit) {
  phase_limit_ = limit;
  deadline_ = std::min(clock::now() + limit, overall_end_);
  alarm_.set(deadline_);  // moves the alarm: the previous phase's deadline no longer counts
}

void PhaseClock::deadline_passed(void* self) {
  PhaseClock& clock = *static_cast<PhaseClock*>(self);
  if (clock.guarded_ != nullptr) {
    clock.fired_ = true;
    std::error_code ignored;
    clock.guarded_->cancel(ignored);
    clock.guarded_->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  }
  if (clock.watchdog_wake_ != nullptr) clock.watchdog_wake_->cancel();
}

asio::awaitable<void> PhaseClock::watchdog() {
  asio::steady_timer wake(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  watchdog_wake_ = &wake;
  // The alarm wakes us (cancel) when the deadline passes; a re-armed phase just moves it.
  struct Unregister {
    PhaseClock& clock;
    ~Unregister() { clock.watchdog_wake_ = nullptr; }
  } unregister{*this};
  for (;;) {
    if (clock::now() >= deadline_) co_return;  // deadline passed
    auto [ec] = co_await wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
    // Woken by the alarm (loop: the deadline has passed, unless a phase moved it meanwhile),
    // or the work finished and the operator|| cancelled us (leave).
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

ExpiryGuard::ExpiryGuard(const asio::any_io_executor& executor, std::chrono::steady_clock::duration after,
                         std::function<void()> on_expiry)
    : on_expiry_(std::move(on_expiry)), alarm_(executor, &ExpiryGuard::expire, this) {
  alarm_.set(std::chrono::steady_clock::now() + after);
}

void ExpiryGuard::expire(void* self) {
  ExpiryGuard& guard = *static_cast<ExpiryGuard*>(self);
  guard.fired_ = true;
  guard.on_expiry_();
}

}  // namespace mxtls
