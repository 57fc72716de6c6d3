// PhaseClock::guard: a passing deadline ends the socket's wait in progress and every later
// one, a re-armed phase is not cut short, and a handler that runs after the clock is gone
// touches nothing; ExpiryGuard alike. Real loopback sockets; the peer never writes unless a
// case says so.
#include "core/deadline.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <memory>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

// A connected pair on 127.0.0.1: `client` is guarded, `server` plays the silent peer.
struct LoopbackPair {
  explicit LoopbackPair(asio::io_context& io) : client(io), server(io) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  asio::ip::tcp::socket client;
  asio::ip::tcp::socket server;
};

}  // namespace

TEST_SUITE("core") {

TEST_CASE("a guarded socket's wait ends when its phase deadline passes, and later waits end at once") {
  asio::io_context io;
  LoopbackPair pair(io);
  std::error_code first, second;
  bool expired_after_first = false, expired_after_second = false;
  int done = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        PhaseClock clock(io.get_executor(), 30s);
        clock.guard(pair.client);
        clock.start_phase(50ms);
        std::array<char, 16> buffer;
        auto [ec1, n1] = co_await pair.client.async_read_some(asio::buffer(buffer), as_result);
        first = ec1;
        expired_after_first = clock.expired();
        // A new phase with plenty of time: the socket was ended for good, so this cannot hang,
        // and the clock still says the failure came from a deadline.
        clock.start_phase(30s);
        auto [ec2, n2] = co_await pair.client.async_read_some(asio::buffer(buffer), as_result);
        second = ec2;
        expired_after_second = clock.expired();
        ++done;
      },
      asio::detached);
  io.run_for(10s);
  REQUIRE(done == 1);
  CHECK(first);
  CHECK(expired_after_first);
  CHECK(second);
  CHECK(expired_after_second);
}

TEST_CASE("a phase re-armed before its deadline is not cut short by the old one") {
  asio::io_context io;
  LoopbackPair pair(io);
  std::error_code read_error;
  std::size_t read_bytes = 0;
  bool expired = true;
  asio::steady_timer reply_later(io, 300ms);
  reply_later.async_wait([&](const std::error_code&) { asio::write(pair.server, asio::buffer("220 ok\r\n", 8)); });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        PhaseClock clock(io.get_executor(), 30s);
        clock.guard(pair.client);
        clock.start_phase(100ms);
        clock.start_phase(5s);  // the next phase before the first deadline: the old wait is aborted
        std::array<char, 16> buffer;
        auto [ec, n] = co_await pair.client.async_read_some(asio::buffer(buffer), as_result);
        read_error = ec;
        read_bytes = n;
        expired = clock.expired();
      },
      asio::detached);
  io.run_for(10s);
  CHECK_FALSE(read_error);
  CHECK(read_bytes == 8);
  CHECK_FALSE(expired);
}

TEST_CASE("the overall deadline bounds a phase that asks for more") {
  asio::io_context io;
  LoopbackPair pair(io);
  std::error_code read_error;
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration took{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        PhaseClock clock(io.get_executor(), 100ms);
        clock.guard(pair.client);
        clock.start_phase(1h);
        std::array<char, 16> buffer;
        auto [ec, n] = co_await pair.client.async_read_some(asio::buffer(buffer), as_result);
        read_error = ec;
        took = std::chrono::steady_clock::now() - started;
      },
      asio::detached);
  io.run_for(20s);
  CHECK(read_error);
  CHECK(took < 1h);  // ended by the 100 ms overall limit (no wall-clock assertion beyond that)
}

TEST_CASE("a guard's handler that runs after its clock is gone touches nothing") {
  asio::io_context io;
  LoopbackPair pair(io);
  {
    auto clock = std::make_unique<PhaseClock>(io.get_executor(), 30s);
    clock->guard(pair.client);
    clock->start_phase(50ms);
  }  // destroyed with its handler pending: it runs later, aborted, and must not touch the clock
  io.run_for(200ms);  // under ASan a use after free here would abort
  std::error_code ec;
  CHECK(pair.client.is_open());
  pair.client.non_blocking(true, ec);
  std::array<char, 4> buffer;
  pair.client.read_some(asio::buffer(buffer), ec);
  CHECK(ec == asio::error::would_block);  // the socket was not shut down by a stale handler
}

TEST_CASE("an ExpiryGuard cancels a wait when its deadline passes, once, and never after it is gone") {
  asio::io_context io;
  LoopbackPair pair(io);
  int fired = 0;
  std::error_code read_error;
  bool fired_seen = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const ExpiryGuard deadline(io.get_executor(), 50ms, [&] {
          ++fired;
          pair.client.cancel();
        });
        std::array<char, 16> buffer;
        auto [ec, n] = co_await pair.client.async_read_some(asio::buffer(buffer), as_result);
        read_error = ec;
        fired_seen = deadline.fired();
      },
      asio::detached);
  io.run_for(10s);
  CHECK(read_error == asio::error::operation_aborted);
  CHECK(fired_seen);
  CHECK(fired == 1);

  // Gone before its deadline: the callback, which may refer to things gone with it, never runs.
  int late = 0;
  { const ExpiryGuard short_lived(io.get_executor(), 20ms, [&] { ++late; }); }
  io.restart();
  io.run_for(200ms);
  CHECK(late == 0);
}

}  // TEST_SUITE
