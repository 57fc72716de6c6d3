// One server-side SMTP connection as a byte channel: plaintext TCP first, TLS after STARTTLS.
// Every read and write carries an absolute deadline and every line is bounded: the lab, the
// fakes and `mxtls listen` must survive any client (a broken scanner, a hostile sender).
#pragma once

#include "tls/server.hpp"

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

namespace mxtls::smtp {

using Clock = std::chrono::steady_clock;

// Opens `acceptor` on `requested` (address reuse on, the system's largest backlog) and sets
// `bound` to where it listens (the port chosen when 0 was asked). On failure the acceptor is
// closed again and the error returned.
std::error_code listen_on(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& requested,
                          asio::ip::tcp::endpoint& bound);

class ServerChannel {
 public:
  explicit ServerChannel(asio::ip::tcp::socket socket);
  ~ServerChannel();
  ServerChannel(const ServerChannel&) = delete;  // the TLS stream refers to socket_: never moved
  ServerChannel& operator=(const ServerChannel&) = delete;

  enum class ReadStatus { line, eof, too_long, timeout, error };
  struct Line {
    ReadStatus status = ReadStatus::error;
    std::string text;  // without the line ending (LF or CRLF)
    std::error_code error;
  };

  // One line of at most `max_line` bytes including its line ending (RFC 5321 §4.5.3.1.6
  // counts 1000 with CRLF). A longer line is reported as too_long, never buffered whole.
  asio::awaitable<Line> read_line(std::size_t max_line, Clock::time_point deadline);
  // Raw bytes: first whatever is buffered, else one read from the wire. Timeout gives
  // asio::error::timed_out.
  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(asio::mutable_buffer buffer,
                                                                      Clock::time_point deadline);
  asio::awaitable<std::error_code> write(std::string_view bytes, Clock::time_point deadline);

  // Runs the server handshake on this connection. Plaintext the client sent after its
  // STARTTLS line is discarded first (see discarded_before_tls()).
  asio::awaitable<std::error_code> start_tls(const tls::ServerContext& context, Clock::time_point deadline);
  // Sends close_notify when TLS is active (bounded by the deadline); then closes.
  asio::awaitable<void> graceful_close(Clock::time_point deadline);

  bool tls_active() const { return tls_ready_; }
  const tls::ServerStream* tls() const { return tls_.get(); }
  std::size_t discarded_before_tls() const { return discarded_before_tls_; }
  std::size_t bytes_received() const { return bytes_received_; }
  const asio::ip::tcp::endpoint& remote() const { return remote_; }
  const asio::ip::tcp::endpoint& local() const { return local_; }

  // Called with every chunk received from the peer (decrypted once TLS is up).
  void set_recorder(std::function<void(std::string_view bytes, bool under_tls)> recorder) {
    recorder_ = std::move(recorder);
  }

  void close();  // idempotent; makes pending operations fail promptly
  bool is_open() const { return socket_.is_open(); }

 private:
  asio::awaitable<std::tuple<std::error_code, std::size_t>> wire_read(asio::mutable_buffer buffer,
                                                                      Clock::time_point deadline);

  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint remote_, local_;
  std::unique_ptr<tls::ServerStream> tls_;
  bool tls_ready_ = false;
  std::string pending_;  // received, not yet consumed; bounded by read_line's limit + one chunk
  std::size_t discarded_before_tls_ = 0;
  std::size_t bytes_received_ = 0;
  std::function<void(std::string_view, bool)> recorder_;
};

}  // namespace mxtls::smtp
