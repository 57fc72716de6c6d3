// The client side of an SMTP conversation over a byte transport (plain TCP, later TLS):
// send one command, read one bounded reply. Deadlines are the caller's (the probe's watchdog
// cancels whatever is pending), so nothing here waits without limit once that is in place.
#pragma once

#include "smtp/reply.hpp"

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

#include <array>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace mxtls::smtp {

// A byte stream the session talks over; implemented for plain TCP here and for TLS in src/tls.
// Reading is one attempt that never waits; when there is nothing yet the attempt says which
// readiness of the socket to wait for, and the session waits for it itself. So a connection
// waiting for its banner holds no coroutine frame of the transport's, and the bytes of a read
// are copied into the caller's buffer while the caller runs (Session relies on it to share one
// read buffer among all connections of a thread).
class Transport {
 public:
  struct ReadAttempt {
    std::error_code error;
    std::size_t bytes = 0;
    std::optional<asio::socket_base::wait_type> wait_for;  // nothing yet: wait, then try again
  };

  explicit Transport(asio::ip::tcp::socket& socket) : socket_(socket) {}
  virtual ~Transport() = default;
  virtual ReadAttempt try_read(asio::mutable_buffer) = 0;
  virtual asio::awaitable<std::error_code> write_all(asio::const_buffer) = 0;
  asio::ip::tcp::socket& socket() { return socket_; }

 protected:
  asio::ip::tcp::socket& socket_;
};

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(asio::ip::tcp::socket& socket) : Transport(socket) {}
  ReadAttempt try_read(asio::mutable_buffer) override;
  asio::awaitable<std::error_code> write_all(asio::const_buffer) override;
};

struct ReadOutcome {
  enum class Kind { reply, closed, io_error, malformed };
  Kind kind = Kind::io_error;
  Reply reply;             // when kind == reply
  std::error_code error;   // when io_error
  std::string detail;      // when malformed: the parser's reason
  bool ok() const { return kind == Kind::reply; }
};

class Session {
 public:
  explicit Session(Transport& transport, ReplyLimits limits = {}) : transport_(&transport), parser_(limits) {}

  asio::awaitable<ReadOutcome> read_reply();
  // Sends `command` + CRLF. The command must not contain CR or LF (we build every command).
  asio::awaitable<std::error_code> send(std::string_view command);

  // Bytes the peer sent beyond the last complete reply (pipelined or injected); cleared.
  std::string take_unread();
  bool has_unread() const { return !unread_.empty(); }

  // Continue over another transport (after the TLS handshake). Unread cleartext must have been
  // taken first: nothing the peer sent before the handshake may be read as if it came over TLS.
  void switch_transport(Transport& transport);

 private:
  Transport* transport_;
  ReplyParser parser_;
  // Reads go into one buffer per thread (a connection waiting for its banner owns none); what
  // a read brought beyond a complete reply is kept here for the next read_reply(), at most
  // one read's worth.
  std::string unread_;
};

}  // namespace mxtls::smtp
