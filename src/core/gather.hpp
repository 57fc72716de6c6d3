// Run awaitables concurrently on the current executor and collect their results in order.
// The shared state outlives a cancelled parent, so children never write into freed memory.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <vector>

namespace mxtls {

template <typename T>
asio::awaitable<std::vector<T>> gather(std::vector<asio::awaitable<T>> tasks) {
  struct State {
    explicit State(const asio::any_io_executor& ex, std::size_t n)
        : slots(n), remaining(n), all_done(ex, asio::steady_timer::time_point::max()) {}
    std::vector<std::optional<T>> slots;
    std::size_t remaining;
    asio::steady_timer all_done;  // cancelled by the last child: a one-shot event
  };
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<State>(executor, tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(
        executor,
        [state, i, task = std::move(tasks[i])]() mutable -> asio::awaitable<void> {
          try {
            state->slots[i] = co_await std::move(task);
          } catch (...) {
            // A child that throws leaves its slot empty; the caller's T must tell that apart.
          }
          if (--state->remaining == 0) state->all_done.cancel();
        },
        asio::detached);
  }
  // Wait for every child even if we are cancelled meanwhile: their results are the point.
  co_await asio::this_coro::throw_if_cancelled(false);
  while (state->remaining > 0)
    co_await state->all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  std::vector<T> out;
  out.reserve(state->slots.size());
  for (auto& slot : state->slots)
    if (slot) out.push_back(std::move(*slot));
  co_return out;
}

// Run awaitables concurrently on the current executor and wait for all of them, even when
// cancelled meanwhile (they may write into the caller's memory). Exceptions are swallowed:
// each task records its own outcome.
inline asio::awaitable<void> gather_all(std::vector<asio::awaitable<void>> tasks) {
  struct State {
    State(const asio::any_io_executor& ex, std::size_t n) : remaining(n), all_done(ex, asio::steady_timer::time_point::max()) {}
    std::size_t remaining;
    asio::steady_timer all_done;
  };
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<State>(executor, tasks.size());
  for (auto& task : tasks) {
    asio::co_spawn(
        executor,
        [state, task = std::move(task)]() mutable -> asio::awaitable<void> {
          try {
            co_await std::move(task);
          } catch (...) {
          }
          if (--state->remaining == 0) state->all_done.cancel();
        },
        asio::detached);
  }
  co_await asio::this_coro::throw_if_cancelled(false);
  while (state->remaining > 0)
    co_await state->all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace mxtls
