// SMTP client session: bounded reply reading over a Transport, plus the plain-TCP transport.
#include "smtp/session.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <cassert>
#include <utility>

namespace mxtls::smtp {

namespace {
constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);
}

Transport::ReadAttempt PlainTransport::try_read(asio::mutable_buffer buffer) {
  ReadAttempt attempt;
  if (!socket_.non_blocking()) socket_.non_blocking(true, attempt.error);
  attempt.bytes = socket_.read_some(buffer, attempt.error);
  if (attempt.error == asio::error::would_block || attempt.error == asio::error::try_again) {
    attempt.error.clear();
    attempt.wait_for = asio::socket_base::wait_read;
  }
  return attempt;
}

asio::awaitable<std::error_code> PlainTransport::write_all(asio::const_buffer buffer) {
  auto [ec, n] = co_await asio::async_write(socket_, buffer, as_result);
  (void)n;
  co_return ec;
}

asio::awaitable<ReadOutcome> Session::read_reply() {
  // 10 000 connections waiting for a banner must not hold a read buffer each: they share this
  // one. Safe because a read attempt fills it without suspending, and it is parsed (or its
  // rest kept in unread_) before this coroutine suspends again.
  static thread_local std::array<char, 4096> scratch;
  ReadOutcome out;
  for (;;) {
    if (!unread_.empty()) {
      const std::size_t used = parser_.feed(unread_);
      unread_.erase(0, used);
    }
    if (parser_.state() == ReplyParser::State::complete) {
      out.kind = ReadOutcome::Kind::reply;
      out.reply = parser_.take();
      co_return out;
    }
    if (parser_.state() == ReplyParser::State::error) {
      out.kind = ReadOutcome::Kind::malformed;
      out.detail = parser_.error();
      parser_.reset();
      unread_.clear();
      co_return out;
    }
    const auto attempt = transport_->try_read(asio::buffer(scratch));
    std::error_code ec = attempt.error;
    if (attempt.wait_for) {
      auto [wait_error] = co_await transport_->socket().async_wait(*attempt.wait_for, as_result);
      if (!wait_error) continue;
      ec = wait_error;
    }
    if (ec) {
      out.kind = (ec == asio::error::eof || ec == asio::error::connection_reset) ? ReadOutcome::Kind::closed
                                                                                 : ReadOutcome::Kind::io_error;
      out.error = ec;
      co_return out;
    }
    const std::size_t used = parser_.feed(std::string_view(scratch.data(), attempt.bytes));
    unread_.assign(scratch.data() + used, attempt.bytes - used);
  }
}

asio::awaitable<std::error_code> Session::send(std::string_view command) {
  assert(command.find_first_of("\r\n") == std::string_view::npos);
  std::string line;
  line.reserve(command.size() + 2);
  line.append(command).append("\r\n");
  co_return co_await transport_->write_all(asio::buffer(line));
}

std::string Session::take_unread() {
  return std::exchange(unread_, std::string());
}

void Session::switch_transport(Transport& transport) {
  unread_.clear();
  parser_.reset();
  transport_ = &transport;
}

}  // namespace mxtls::smtp
