// A personality-driven SMTP server for the lab fleet: one coroutine per session, bounded lines,
// per-session deadlines. Each personality imitates one kind of real (or broken) MX host; the
// server counts what clients did so tests can prove a scanner never sent MAIL/RCPT/DATA.
#pragma once

#include "tls/pki.hpp"
#include "tls/server.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::lab {

enum class Personality {
  no_starttls,            // plain ESMTP, STARTTLS not advertised
  good,                   // STARTTLS, certificate from the lab CA naming the MX host
  self_signed,            // STARTTLS, self-signed certificate naming the MX host
  wrong_name,             // STARTTLS, lab-CA certificate for an unrelated name
  expired,                // STARTTLS, lab-CA certificate that expired yesterday
  tls12_only,             // STARTTLS, good certificate, TLS 1.2 at most
  starttls_454,           // STARTTLS advertised, answered "454 4.7.0 TLS not available…"
  tarpit,                 // accepts the connection and never says anything
  refuse,                 // nothing listens: the fleet starts no server for it
  auth_plain_before_tls,  // "AUTH PLAIN LOGIN" offered before STARTTLS (good TLS after)
  injection,              // "220 ready" to STARTTLS plus extra plaintext in the same write
  garbage_banner,         // binary bytes instead of a greeting, then close
  drip,                   // a never-ending banner, one byte every drip_interval
  close_mid_handshake,    // STARTTLS accepted, reads the ClientHello, closes
  greeting_554,           // "554" banner: no SMTP service here
};

std::string_view to_string(Personality);
std::optional<Personality> personality_from_string(std::string_view);
// Every personality, in declaration order.
const std::vector<Personality>& all_personalities();
// Does this personality complete TLS handshakes (and therefore need credentials)?
bool personality_serves_tls(Personality);

struct SmtpServerOptions {
  Personality personality = Personality::good;
  std::string hostname = "mx.lab.test";    // used in the banner and the EHLO reply
  std::optional<tls::Credentials> credentials;  // required when personality_serves_tls()
  tls::ServerOptions tls_options;          // tls12_only sets max_version itself
  std::size_t max_line = 1000;             // bytes including CRLF (RFC 5321 §4.5.3.1.6)
  std::chrono::milliseconds idle_timeout{30000};     // waiting for one client line / write
  std::chrono::milliseconds session_timeout{120000};  // a whole session, whatever happens
  std::chrono::milliseconds drip_interval{200};
  std::size_t max_sessions = 512;    // concurrent; beyond it a client gets 421 and is closed
  std::size_t max_errors = 10;       // unknown/refused commands before the server hangs up
  std::size_t transcript_sessions = 64;  // finished transcripts kept (oldest dropped)
  std::size_t transcript_lines = 200;    // lines kept per transcript
};

// What one session looked like (bounded; lines are sanitised to printable ASCII).
struct SessionTranscript {
  std::string remote;                  // "127.0.0.1:54321"
  std::vector<std::string> received;   // client lines in order; "[TLS] " prefix once under TLS
  bool tls = false;                    // handshake completed
  std::string tls_version;
  std::string tls_cipher;
  std::string sni;                     // server name the client asked for
  std::string tls_error;               // handshake failure text
  std::size_t discarded_before_tls = 0;  // bytes the client pipelined after STARTTLS
  std::string end_reason;              // "quit", "peer closed", "idle timeout", …
};

struct SmtpCounters {
  std::uint64_t sessions = 0;          // accepted connections
  std::uint64_t active = 0;            // sessions running now
  std::uint64_t rejected_busy = 0;     // closed at once because max_sessions were running
  std::uint64_t commands = 0;          // client lines answered as commands
  std::uint64_t ehlo = 0;              // EHLO and HELO
  std::uint64_t starttls = 0;          // STARTTLS commands
  std::uint64_t tls_handshakes = 0;    // completed
  std::uint64_t tls_failures = 0;      // failed or timed out
  std::uint64_t mail_commands = 0;     // MAIL, RCPT, DATA, BDAT: a scanner must send none
  std::uint64_t quits = 0;
  std::uint64_t timeouts = 0;          // sessions ended by the idle or session deadline
};

class SmtpServer {
 public:
  // Throws std::invalid_argument for Personality::refuse or missing credentials.
  SmtpServer(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, SmtpServerOptions options);
  ~SmtpServer();  // stops
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming address:port on failure.
  void start();
  // Stops accepting and closes every session. Call on the executor's thread (or while the
  // io_context is not running). Idempotent.
  void stop();

  asio::ip::tcp::endpoint endpoint() const;  // the bound one (port filled in after start)
  const SmtpServerOptions& options() const;
  SmtpCounters counters() const;
  std::vector<SessionTranscript> transcripts() const;  // finished sessions, oldest first

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::lab
