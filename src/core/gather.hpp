// Run awaitables concurrently on the current executor: gather_all waits for all of them,
// gather collects their results in order.
#pragma once

#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <vector>

namespace mxtls {

namespace detail {

// A lone task awaited in place needs no spawned frame nor shared state. Like a spawned task it
// must not see a cancellation of ours, so ours is switched off while it runs and reconnected
// after. (scan_domain inlines the same shield for a domain's single probe, to save even this
// frame per domain in flight.)
inline asio::awaitable<void> await_shielded(asio::awaitable<void> task) {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  try {
    co_await std::move(task);
  } catch (...) {
    // The task records its own outcome, as in spawn_all_and_wait.
  }
  co_await asio::this_coro::reset_cancellation_state();
}

inline asio::awaitable<void> spawn_all_and_wait(std::vector<asio::awaitable<void>> tasks) {
  struct State {
    State(const asio::any_io_executor& ex, std::size_t n) : remaining(n), all_done(ex, asio::steady_timer::time_point::max()) {}
    std::size_t remaining;
    asio::steady_timer all_done;
  };
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<State>(executor, tasks.size());
  for (auto& task : tasks) {
    // The completion handler receives a task's exception, if any, and drops it: each task
    // records its own outcome; one that throws must not stop the others.
    asio::co_spawn(executor, std::move(task), [state](std::exception_ptr) {
      if (--state->remaining == 0) state->all_done.cancel();
    });
  }
  co_await asio::this_coro::throw_if_cancelled(false);
  while (state->remaining > 0)
    co_await state->all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace detail

// Run awaitables concurrently on the current executor and wait for all of them, even when
// cancelled meanwhile (they may write into the caller's memory). Exceptions are swallowed:
// each task records its own outcome. Not a coroutine itself: the single-task case keeps only
// the small frame of await_shielded.
inline asio::awaitable<void> gather_all(std::vector<asio::awaitable<void>> tasks) {
  if (tasks.size() == 1) return detail::await_shielded(std::move(tasks.front()));
  return detail::spawn_all_and_wait(std::move(tasks));
}

template <typename T>
asio::awaitable<void> fill_slot(asio::awaitable<T> task, std::optional<T>& slot) {
  slot = co_await std::move(task);
}

// Run awaitables concurrently on the current executor and collect their results in order; a
// child that throws is left out. The slots live in this frame, which gather_all keeps waiting
// (even when cancelled) until every child is done writing.
template <typename T>
asio::awaitable<std::vector<T>> gather(std::vector<asio::awaitable<T>> tasks) {
  std::vector<std::optional<T>> slots(tasks.size());
  std::vector<asio::awaitable<void>> children;
  children.reserve(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) children.push_back(fill_slot(std::move(tasks[i]), slots[i]));
  co_await gather_all(std::move(children));
  std::vector<T> out;
  out.reserve(slots.size());
  for (auto& slot : slots)
    if (slot) out.push_back(std::move(*slot));
  co_return out;
}

}  // namespace mxtls
