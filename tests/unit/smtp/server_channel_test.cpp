// Unit tests for smtp/server_channel: opening a listening socket (the lab, the fakes and
// `mxtls listen` all start this way) and the channel's view of both ends of a connection.
#include "smtp/server_channel.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

TEST_CASE("listen_on: port 0 gives a real port; a port in use is an error and leaves the acceptor closed") {
  asio::io_context io;
  tcp::acceptor first(io), second(io);
  tcp::endpoint bound;
  REQUIRE_FALSE(mxtls::smtp::listen_on(first, {asio::ip::make_address("127.0.0.1"), 0}, bound));
  CHECK(first.is_open());
  CHECK(bound.port() != 0);
  CHECK(bound.address() == asio::ip::make_address("127.0.0.1"));

  tcp::endpoint second_bound;
  const std::error_code ec = mxtls::smtp::listen_on(second, bound, second_bound);
  CHECK(ec == asio::error::address_in_use);
  CHECK_FALSE(second.is_open());
  CHECK(second_bound == tcp::endpoint{});
}

TEST_CASE("a server channel knows both ends and reads one bounded line") {
  asio::io_context io;
  tcp::acceptor acceptor(io);
  tcp::endpoint bound;
  REQUIRE_FALSE(mxtls::smtp::listen_on(acceptor, {asio::ip::make_address("127.0.0.1"), 0}, bound));
  tcp::socket client(io);
  client.connect(bound);
  asio::write(client, asio::buffer(std::string("EHLO client.test\r\n") + std::string(2000, 'x') + "\r\n"));

  auto channel = std::make_unique<mxtls::smtp::ServerChannel>(acceptor.accept());
  CHECK(channel->local() == bound);
  CHECK(channel->remote() == client.local_endpoint());
  std::optional<mxtls::smtp::ServerChannel::Line> first, second;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto deadline = mxtls::smtp::Clock::now() + 5s;
        first = co_await channel->read_line(1000, deadline);
        second = co_await channel->read_line(1000, deadline);
      },
      asio::detached);
  io.run_for(10s);
  REQUIRE(first);
  CHECK(first->status == mxtls::smtp::ServerChannel::ReadStatus::line);
  CHECK(first->text == "EHLO client.test");
  REQUIRE(second);
  CHECK(second->status == mxtls::smtp::ServerChannel::ReadStatus::too_long);
}

}  // namespace
