// Waiting primitives for coroutines on one io_context: a FIFO counting semaphore (connection
// slots, per-IP caps), a value many coroutines await while one computes it (probe and DNS
// deduplication), and a pacer for a global rate. Single-threaded by design: no locks.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <optional>
#include <utility>

namespace mxtls {

// A counting semaphore with FIFO hand-over: release() gives the slot straight to the oldest
// waiter, so a burst of newcomers cannot starve it.
class Slots {
 public:
  Slots(asio::any_io_executor executor, std::size_t capacity)
      : executor_(std::move(executor)), capacity_(capacity == 0 ? 1 : capacity) {}

  // Waits for a slot: true once one is held. With a deadline (for waits that a deadline must
  // bound although they are not I/O, so nothing else would cancel them), false when it passes
  // first, and then no slot is held.
  asio::awaitable<bool> acquire(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) {
    if (used_ < capacity_ && waiters_.empty()) {
      ++used_;
      co_return true;
    }
    auto waiter = std::make_shared<Waiter>(executor_, deadline);
    waiters_.push_back(waiter);
    while (!waiter->granted) {
      auto [ec] = co_await waiter->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (!ec && !waiter->granted) {  // the deadline, not release(), woke us
        waiters_.remove(waiter);
        co_return false;
      }
      // Otherwise cancel() was the wake-up call; `granted` says whether it was for us.
    }
    co_return true;
  }

  void release() {
    if (!waiters_.empty()) {  // the slot passes on; `used_` stays the same
      auto next = std::move(waiters_.front());
      waiters_.pop_front();
      next->granted = true;
      next->wake.cancel();
      return;
    }
    if (used_ > 0) --used_;
  }

  std::size_t in_use() const { return used_; }
  std::size_t waiting() const { return waiters_.size(); }
  std::size_t capacity() const { return capacity_; }
  bool idle() const { return used_ == 0 && waiters_.empty(); }

 private:
  struct Waiter {
    Waiter(const asio::any_io_executor& ex, asio::steady_timer::time_point until) : wake(ex, until) {}
    asio::steady_timer wake;
    bool granted = false;
  };
  asio::any_io_executor executor_;
  std::size_t capacity_;
  std::size_t used_ = 0;
  // A list, not a deque: an empty deque already holds a 512-byte block, and there is one
  // Slots per destination address in flight.
  std::list<std::shared_ptr<Waiter>> waiters_;
};

// Holds one slot of a Slots and gives it back when it goes out of scope.
class SlotLease {
 public:
  SlotLease() = default;
  explicit SlotLease(Slots& slots) : slots_(&slots) {}
  SlotLease(SlotLease&& other) noexcept : slots_(std::exchange(other.slots_, nullptr)) {}
  SlotLease& operator=(SlotLease&& other) noexcept {
    if (this != &other) {
      reset();
      slots_ = std::exchange(other.slots_, nullptr);
    }
    return *this;
  }
  ~SlotLease() { reset(); }
  void reset() {
    if (slots_) std::exchange(slots_, nullptr)->release();
  }

 private:
  Slots* slots_ = nullptr;
};

// A value that one coroutine computes and any number of others await. Set once.
template <typename T>
class SharedValue {
 public:
  explicit SharedValue(const asio::any_io_executor& executor)
      : ready_(executor, asio::steady_timer::time_point::max()) {}

  void set(T value) {
    value_ = std::make_unique<const T>(std::move(value));
    ready_.cancel();  // wakes every waiter at once
  }
  bool ready() const { return value_ != nullptr; }
  const T& value() const { return *value_; }

  // Until set; then read value(). Cheaper than get() for a large T: no copy in the frame.
  asio::awaitable<void> wait() {
    while (!value_) {
      auto [ec] = co_await ready_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
    }
  }

  asio::awaitable<T> get() {
    while (!value_) {
      auto [ec] = co_await ready_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
    }
    co_return *value_;
  }

 private:
  // On the heap once set: while thousands of values are awaited (a probe result is over 1 KB),
  // each holds only a pointer.
  std::unique_ptr<const T> value_;
  asio::steady_timer ready_;
};

// Spaces events at least 1/rate apart (rate per second; 0 = no limit). Each caller gets the
// next free instant and sleeps until then, so concurrent callers queue up fairly.
class Pacer {
 public:
  explicit Pacer(double per_second)
      : interval_(per_second > 0 ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(1.0 / per_second))
                                 : std::chrono::steady_clock::duration::zero()) {}

  asio::awaitable<void> wait() {
    if (interval_ == std::chrono::steady_clock::duration::zero()) co_return;
    const auto now = std::chrono::steady_clock::now();
    const auto slot = next_ > now ? next_ : now;
    next_ = slot + interval_;
    if (slot <= now) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, slot);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace mxtls
