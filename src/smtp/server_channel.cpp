// Bounded, deadline-driven line and byte I/O for one server-side connection (plain or TLS).
// Each wait races the operation against a timer, so no peer can hold a session forever.
#include "smtp/server_channel.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstring>

namespace mxtls::smtp {

namespace {
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t read_chunk = 4096;
}  // namespace

using namespace asio::experimental::awaitable_operators;

std::error_code listen_on(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& requested,
                          asio::ip::tcp::endpoint& bound) {
  std::error_code ec;
  acceptor.open(requested.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(requested, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) bound = acceptor.local_endpoint(ec);
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  return ec;
}

ServerChannel::ServerChannel(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  std::error_code ec;
  remote_ = socket_.remote_endpoint(ec);
  local_ = socket_.local_endpoint(ec);
}

ServerChannel::~ServerChannel() = default;

void ServerChannel::close() {
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> ServerChannel::wire_read(asio::mutable_buffer buffer,
                                                                             Clock::time_point deadline) {
  if (!socket_.is_open()) co_return std::tuple<std::error_code, std::size_t>{asio::error::bad_descriptor, 0};
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  std::tuple<std::error_code, std::size_t> result{asio::error::timed_out, 0};
  if (tls_) {
    auto outcome = co_await (tls_->read_some(buffer) || timer.async_wait(as_tuple_awaitable));
    if (outcome.index() == 0) result = std::get<0>(outcome);
  } else {
    auto outcome = co_await (socket_.async_read_some(buffer, as_tuple_awaitable) ||
                             timer.async_wait(as_tuple_awaitable));
    if (outcome.index() == 0) result = std::get<0>(outcome);
  }
  auto [ec, n] = result;
  if (n > 0) {
    bytes_received_ += n;
    if (recorder_) recorder_(std::string_view(static_cast<const char*>(buffer.data()), n), tls_ready_);
  }
  co_return result;
}

asio::awaitable<ServerChannel::Line> ServerChannel::read_line(std::size_t max_line, Clock::time_point deadline) {
  std::array<char, read_chunk> chunk;
  for (;;) {
    if (auto lf = pending_.find('\n'); lf != std::string::npos) {
      if (lf + 1 > max_line) co_return Line{ReadStatus::too_long, {}, {}};
      Line line{ReadStatus::line, pending_.substr(0, lf), {}};
      pending_.erase(0, lf + 1);
      if (!line.text.empty() && line.text.back() == '\r') line.text.pop_back();
      co_return line;
    }
    // No line ending within the limit: stop here rather than buffer an endless line.
    if (pending_.size() >= max_line) co_return Line{ReadStatus::too_long, {}, {}};
    auto [ec, n] = co_await wire_read(asio::buffer(chunk), deadline);
    if (n > 0) pending_.append(chunk.data(), n);
    if (ec) {
      if (n > 0) continue;  // consume what arrived first; the error repeats on the next read
      if (ec == asio::error::timed_out) co_return Line{ReadStatus::timeout, {}, ec};
      if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return Line{ReadStatus::eof, {}, ec};
      co_return Line{ReadStatus::error, {}, ec};
    }
  }
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> ServerChannel::read_some(asio::mutable_buffer buffer,
                                                                             Clock::time_point deadline) {
  if (!pending_.empty()) {
    std::size_t n = std::min(buffer.size(), pending_.size());
    std::memcpy(buffer.data(), pending_.data(), n);
    pending_.erase(0, n);
    co_return std::tuple<std::error_code, std::size_t>{std::error_code{}, n};
  }
  co_return co_await wire_read(buffer, deadline);
}

asio::awaitable<std::error_code> ServerChannel::write(std::string_view bytes, Clock::time_point deadline) {
  if (!socket_.is_open()) co_return asio::error::bad_descriptor;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto data = asio::buffer(bytes.data(), bytes.size());
  if (tls_) {
    auto outcome = co_await (tls_->write(data) || timer.async_wait(as_tuple_awaitable));
    if (outcome.index() == 0) co_return std::get<0>(std::get<0>(outcome));
  } else {
    auto outcome = co_await (asio::async_write(socket_, data, as_tuple_awaitable) ||
                             timer.async_wait(as_tuple_awaitable));
    if (outcome.index() == 0) co_return std::get<0>(std::get<0>(outcome));
  }
  co_return asio::error::timed_out;
}

asio::awaitable<std::error_code> ServerChannel::start_tls(const tls::ServerContext& context, Clock::time_point deadline) {
  if (tls_) co_return asio::error::already_started;
  // Anything pipelined after STARTTLS arrived in cleartext and must not be taken as a command
  // of the TLS session (the server side of CVE-2011-0411): drop it and count it.
  discarded_before_tls_ = pending_.size();
  pending_.clear();
  tls_ = std::make_unique<tls::ServerStream>(context, socket_);
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto outcome = co_await (tls_->handshake() || timer.async_wait(as_tuple_awaitable));
  if (outcome.index() != 0) co_return asio::error::timed_out;
  std::error_code ec = std::get<0>(outcome);
  if (!ec) tls_ready_ = true;
  co_return ec;
}

asio::awaitable<void> ServerChannel::graceful_close(Clock::time_point deadline) {
  if (tls_ready_ && socket_.is_open()) {
    asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
    // close_notify is a courtesy: a peer that never answers it must not keep us here.
    co_await (tls_->shutdown() || timer.async_wait(as_tuple_awaitable));
  }
  close();
}

}  // namespace mxtls::smtp
