// gather / gather_all: every task runs to its end before the caller resumes (even when the
// caller is cancelled, since tasks may write into its memory), results come back in order, a
// task that throws is dropped without stopping the others; one task or many.
#include "core/gather.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

asio::awaitable<int> after(std::chrono::milliseconds delay, int value) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  if (value < 0) throw std::runtime_error("task failed");
  co_return value;
}

// A plain task: were a cancellation to reach it, its wait would throw and it would never write.
asio::awaitable<void> write_later(std::chrono::milliseconds delay, int& slot, int value) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  slot = value;
}

template <typename Body>
void run(Body body) {
  asio::io_context io;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body();
        finished = true;
      },
      asio::detached);
  io.run_for(20s);
  REQUIRE(finished);
}

}  // namespace

TEST_SUITE("core") {

TEST_CASE("gather returns results in task order and leaves out a task that threw") {
  std::vector<int> got;
  run([&]() -> asio::awaitable<void> {
    std::vector<asio::awaitable<int>> tasks;
    tasks.push_back(after(60ms, 1));
    tasks.push_back(after(10ms, -1));
    tasks.push_back(after(30ms, 3));
    got = co_await gather(std::move(tasks));
  });
  CHECK(got == std::vector<int>{1, 3});
}

TEST_CASE("gather of one task, and of one that throws") {
  std::vector<int> one, none;
  run([&]() -> asio::awaitable<void> {
    std::vector<asio::awaitable<int>> a;
    a.push_back(after(5ms, 7));
    one = co_await gather(std::move(a));
    std::vector<asio::awaitable<int>> b;
    b.push_back(after(5ms, -1));
    none = co_await gather(std::move(b));
    co_await gather_all({});
  });
  CHECK(one == std::vector<int>{7});
  CHECK(none.empty());
}

TEST_CASE("a cancelled gather_all still waits until every task has written its slot") {
  using namespace asio::experimental::awaitable_operators;
  for (const int tasks : {1, 3}) {
    CAPTURE(tasks);
    std::vector<int> slots(static_cast<std::size_t>(tasks), 0);
    std::vector<int> seen_on_return;
    run([&]() -> asio::awaitable<void> {
      auto gathered = [&]() -> asio::awaitable<void> {
        std::vector<asio::awaitable<void>> children;
        for (int i = 0; i < tasks; ++i) children.push_back(write_later(40ms, slots[static_cast<std::size_t>(i)], i + 1));
        co_await gather_all(std::move(children));
        seen_on_return = slots;
      };
      asio::steady_timer short_timer(co_await asio::this_coro::executor, 5ms);
      // The timer wins the race and cancels the gather; it must still finish its tasks first.
      co_await (gathered() || short_timer.async_wait(asio::use_awaitable));
    });
    std::vector<int> expected;
    for (int i = 0; i < tasks; ++i) expected.push_back(i + 1);
    CHECK(seen_on_return == expected);
    CHECK(slots == expected);
  }
}

}  // TEST_SUITE
