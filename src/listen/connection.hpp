// One accepted SMTP connection for `mxtls listen`: plaintext first, TLS after STARTTLS.
// Every read and write carries an absolute deadline and every line a length limit: the
// sender on the other side is a stranger and may be broken or hostile.
#pragma once

#include "tls/server.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace mxtls::listen {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  explicit Connection(asio::ip::tcp::socket socket);
  ~Connection();
  Connection(const Connection&) = delete;  // the TLS stream refers to socket_
  Connection& operator=(const Connection&) = delete;

  enum class ReadStatus { line, eof, too_long, timeout, error };
  struct Line {
    ReadStatus status = ReadStatus::error;
    std::string text;  // without its CRLF (or bare LF)
    std::error_code error;
  };

  // One line of at most `max_line` bytes including the line ending; a longer one is reported
  // as too_long without being buffered whole (RFC 5321 §4.5.3.1.6 counts 1000 with CRLF).
  asio::awaitable<Line> read_line(std::size_t max_line, Clock::time_point deadline);
  asio::awaitable<std::error_code> write(std::string_view bytes, Clock::time_point deadline);

  // The server side of the handshake. Plaintext pipelined after the STARTTLS line is thrown
  // away first and counted (never read as a command of the TLS session: CVE-2011-0411).
  asio::awaitable<std::error_code> start_tls(const tls::ServerContext& context, Clock::time_point deadline);
  // close_notify when TLS is up (bounded by the deadline), then close.
  asio::awaitable<void> graceful_close(Clock::time_point deadline);

  bool tls_active() const { return tls_ready_; }
  const tls::ServerStream* tls() const { return tls_.get(); }
  std::size_t discarded_before_tls() const { return discarded_before_tls_; }
  const asio::ip::tcp::endpoint& remote() const { return remote_; }
  const asio::ip::tcp::endpoint& local() const { return local_; }

  void close();  // idempotent; pending operations fail promptly
  bool is_open() const { return socket_.is_open(); }

 private:
  asio::awaitable<std::tuple<std::error_code, std::size_t>> wire_read(asio::mutable_buffer buffer,
                                                                      Clock::time_point deadline);
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint remote_, local_;
  std::unique_ptr<tls::ServerStream> tls_;
  bool tls_ready_ = false;
  std::string pending_;  // received, not yet consumed: at most one line limit plus one chunk
  std::size_t discarded_before_tls_ = 0;
};

}  // namespace mxtls::listen
