// The receiving side (`mxtls listen`): an SMTP server that advertises STARTTLS, accepts test
// messages and reports, per session, what the *sending* MTA did — the facts behind Gmail's
// grey or red lock. It relays nothing and keeps a message only when asked to (save_dir).
#pragma once

#include "core/result.hpp"
#include "mail/received.hpp"
#include "tls/pki.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::listen {

// The peer's reverse (PTR) name, or why there is none.
struct ReverseName {
  std::string name;   // without trailing dot; empty when unknown
  std::string error;  // "NXDOMAIN …", "timeout …", "lookup disabled"
};
// Supplied by the caller (the CLI uses the DNS resolver); must finish on its own deadline.
using ReverseLookup = std::function<asio::awaitable<ReverseName>(asio::ip::address)>;

struct ReceiverOptions {
  std::string hostname = "mxtls-listen.invalid";  // banner, EHLO reply, our Received: line
  std::optional<tls::Credentials> credentials;     // without them STARTTLS is not advertised
  std::size_t max_message_bytes = 10 * 1024 * 1024;  // after dot-unstuffing; SIZE advertises it
  std::size_t max_line = 1000;                     // command line incl. CRLF (RFC 5321)
  std::size_t max_data_line = 64 * 1024;           // message line: generous, still bounded
  std::size_t max_sessions = 8;                    // concurrent; more get 421 and are closed
  std::size_t max_recipients = 100;
  std::size_t max_messages_per_session = 10;
  std::size_t max_errors = 10;                     // bad commands before we hang up
  std::chrono::milliseconds command_timeout{60000};     // waiting for one command / one write
  std::chrono::milliseconds handshake_timeout{30000};
  std::chrono::milliseconds data_timeout{180000};        // the whole DATA phase
  std::chrono::milliseconds session_timeout{600000};     // a whole session, whatever happens
  std::chrono::milliseconds reverse_timeout{3000};
  std::string save_dir;      // keep each message here as .eml (mode 0600); empty: keep nothing
  ReverseLookup reverse_lookup;  // empty: no lookup ("lookup disabled")
};

struct ReceivedMessage {
  std::string mail_from;                // reverse path as given, sanitised
  std::vector<std::string> recipients;  // sanitised
  std::size_t size = 0;                 // bytes after dot-unstuffing
  std::vector<mail::ReceivedHop> hops;  // from the message's own headers, sender first
  std::vector<std::string> header_notes;
  bool headers_capped = false;
  std::string saved_as;                 // file written with save_dir
  std::string save_error;
};

struct SessionReport {
  std::uint64_t number = 0;   // 1, 2, … in accept order
  std::string started_at;     // RFC 3339 UTC
  std::string peer_ip;
  std::uint16_t peer_port = 0;
  std::string local_endpoint;  // where it connected, "127.0.27.25:2525"
  ReverseName reverse;
  std::string ehlo_name;       // the latest EHLO/HELO argument (after TLS if it said one)
  std::string ehlo_before_tls;
  bool used_helo = false;
  bool starttls_offered = false;  // we advertised it
  bool starttls_requested = false;
  std::optional<TlsFacts> tls;    // the handshake completed (cert = client certificate)
  std::string sni;
  std::string tls_error;
  std::size_t discarded_before_tls = 0;  // plaintext pipelined after STARTTLS (dropped)
  std::vector<ReceivedMessage> messages;
  std::vector<std::string> rejected;     // why a MAIL/RCPT/DATA was refused (size, limits…)
  std::string end_reason;                // "quit", "peer closed", "idle timeout", …
  std::int64_t elapsed_ms = 0;

  // What Gmail would show for mail delivered in this session: grey when TLS was used.
  GmailLock gmail_lock() const { return tls ? GmailLock::grey : GmailLock::red; }
};

struct ReceiverCounters {
  std::uint64_t sessions = 0, active = 0, rejected_busy = 0, messages = 0, tls_sessions = 0;
};

class Receiver {
 public:
  using SessionHandler = std::function<void(const SessionReport&)>;

  // Throws std::runtime_error when the credentials are unusable.
  Receiver(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, ReceiverOptions options,
           SessionHandler on_session_end);
  ~Receiver();  // stops
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  void start();  // binds; throws std::runtime_error naming the address on failure
  // Stops accepting and closes open sessions (on the executor's thread). Idempotent.
  void stop();

  asio::ip::tcp::endpoint endpoint() const;  // bound (port filled in)
  ReceiverCounters counters() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::listen
