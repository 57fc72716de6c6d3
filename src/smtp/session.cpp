// SMTP client session: bounded reply reading over a Transport, plus the plain-TCP transport.
#include "smtp/session.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cassert>

namespace mxtls::smtp {

namespace {
constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);
}

asio::awaitable<std::pair<std::error_code, std::size_t>> PlainTransport::read_some(asio::mutable_buffer buffer) {
  auto [ec, n] = co_await socket_.async_read_some(buffer, as_result);
  co_return std::pair<std::error_code, std::size_t>{ec, n};
}

asio::awaitable<std::error_code> PlainTransport::write_all(asio::const_buffer buffer) {
  auto [ec, n] = co_await asio::async_write(socket_, buffer, as_result);
  (void)n;
  co_return ec;
}

asio::awaitable<ReadOutcome> Session::read_reply() {
  ReadOutcome out;
  for (;;) {
    if (unread_len_ > 0) {
      const std::size_t used = parser_.feed(std::string_view(buffer_.data() + unread_pos_, unread_len_));
      unread_pos_ += used;
      unread_len_ -= used;
      if (parser_.state() == ReplyParser::State::complete) {
        out.kind = ReadOutcome::Kind::reply;
        out.reply = parser_.take();
        co_return out;
      }
      if (parser_.state() == ReplyParser::State::error) {
        out.kind = ReadOutcome::Kind::malformed;
        out.detail = parser_.error();
        parser_.reset();
        unread_len_ = 0;
        co_return out;
      }
    }
    auto [ec, n] = co_await transport_->read_some(asio::buffer(buffer_));
    if (ec) {
      out.kind = (ec == asio::error::eof || ec == asio::error::connection_reset) ? ReadOutcome::Kind::closed
                                                                                 : ReadOutcome::Kind::io_error;
      out.error = ec;
      co_return out;
    }
    unread_pos_ = 0;
    unread_len_ = n;
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
  std::string out(buffer_.data() + unread_pos_, unread_len_);
  unread_pos_ = unread_len_ = 0;
  return out;
}

void Session::switch_transport(Transport& transport) {
  unread_pos_ = unread_len_ = 0;
  parser_.reset();
  transport_ = &transport;
}

}  // namespace mxtls::smtp
