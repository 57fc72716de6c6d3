// A scripted fake SMTP server for unit tests: listens on 127.0.0.1 port 0, runs a list of
// steps per connection (send, expect a line, start TLS, sleep, drip, garbage, close, …) and
// records every byte the client sent, so a test can assert e.g. that no MAIL/RCPT/DATA came.
#pragma once

#include "tls/pki.hpp"
#include "tls/server.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mxtls::fakes {

// One step of a scripted session; build them with the functions in namespace `step`.
struct Step {
  enum class Kind { send, expect_line, expect_prefix, start_tls, sleep, close, drip, garbage, read_bytes, wait_close };
  Kind kind = Kind::send;
  std::string bytes;                          // send/drip: what to send; expect: the text
  std::chrono::milliseconds interval{0};      // sleep: how long; drip: between bytes; wait_close: limit
  std::size_t count = 0;                      // garbage: how many bytes; read_bytes: at most
  std::shared_ptr<const tls::ServerContext> tls;  // start_tls
};
using Script = std::vector<Step>;

namespace step {
Step send(std::string bytes);        // raw bytes, exactly as given
Step reply(std::string line);        // `line` + CRLF
Step expect(std::string line);       // next client line equals `line` (ASCII case-insensitive, no CRLF)
Step expect_prefix(std::string prefix);  // next client line starts with `prefix` (case-insensitive)
// TLS handshake as server; throws std::runtime_error here if the credentials are unusable.
Step start_tls(const tls::Credentials& credentials, const tls::ServerOptions& options = {});
Step sleep(std::chrono::milliseconds duration);
Step close();                        // hang up now (no draining)
Step drip(std::string bytes, std::chrono::milliseconds interval);  // one byte per interval
Step garbage(std::size_t count);     // `count` binary bytes (no CR/LF), sent in 64 KiB writes
Step read_bytes(std::size_t max);    // one raw read (e.g. a ClientHello), recorded
Step wait_close(std::chrono::milliseconds limit);  // until the client closes (fails after limit)
}  // namespace step

// A typical well-behaved STARTTLS server: banner, EHLO reply with STARTTLS, 220, handshake,
// EHLO reply after TLS, QUIT → 221.
Script starttls_session(const tls::Credentials& credentials, const std::string& hostname = "mx.fake.test",
                        const tls::ServerOptions& options = {});
// The same without STARTTLS: banner, EHLO reply, QUIT → 221.
Script plain_session(const std::string& hostname = "mx.fake.test");

struct ScriptedSmtpOptions {
  asio::ip::address address = asio::ip::make_address("127.0.0.1");
  std::uint16_t port = 0;                          // 0: a free port
  std::chrono::milliseconds step_timeout{5000};    // each read/write/handshake step
  // After the last step (or a failed one) the fake keeps reading, and recording, until the
  // client closes or this passes: whatever a client sends late is still seen by the test.
  std::chrono::milliseconds drain_timeout{2000};
  std::size_t max_line = 4096;                     // a longer client line fails an expect step
  std::size_t max_record = 1 << 20;                // bytes recorded per session and direction
};

// What happened in one connection.
struct FakeSession {
  std::string remote;             // "127.0.0.1:54321"
  std::string received_plain;     // client bytes before TLS (bounded by max_record)
  std::string received_tls;       // client bytes decrypted after the handshake
  std::size_t steps_done = 0;     // steps that completed
  bool completed = false;         // every step ran
  std::string failure;            // why the script stopped early: "step 2 (expect "EHLO"): got "HELO a""
  bool tls = false;               // handshake completed
  std::string tls_version, tls_cipher, sni;
  std::size_t discarded_before_tls = 0;  // client bytes pipelined after its STARTTLS line
  bool peer_closed = false;       // the client closed (or reset) the connection
  bool finished = false;          // the session's coroutine has ended

  // Client lines (plain, then TLS), split on LF with CR stripped.
  std::vector<std::string> lines() const;
  // Did the client send MAIL, RCPT, DATA or BDAT (at the start of any line, any case)?
  bool sent_mail_commands() const;
};

class ScriptedSmtp {
 public:
  // Every connection runs `script`.
  ScriptedSmtp(asio::any_io_executor executor, Script script, ScriptedSmtpOptions options = {});
  // Connection i runs scripts[i]; connections beyond the list are closed at once.
  ScriptedSmtp(asio::any_io_executor executor, std::vector<Script> scripts, ScriptedSmtpOptions options = {});
  ~ScriptedSmtp();  // stops
  ScriptedSmtp(const ScriptedSmtp&) = delete;
  ScriptedSmtp& operator=(const ScriptedSmtp&) = delete;

  void start();  // binds and listens; throws std::runtime_error naming address:port
  void stop();   // closes the listener and every session (call on the executor's thread)

  asio::ip::tcp::endpoint endpoint() const;  // after start()
  std::uint16_t port() const;
  std::size_t connections() const;           // accepted so far
  std::vector<FakeSession> sessions() const; // snapshot, in accept order (running ones too)
  bool client_sent_mail_commands() const;    // in any session

  // Waits (on the executor) until at least `count` sessions have finished; false on timeout.
  asio::awaitable<bool> wait_finished(std::size_t count, std::chrono::milliseconds limit);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::fakes
