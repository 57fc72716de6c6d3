// The scanner's TLS client: one shared context (trust store, protocol range, ciphers) and a
// per-connection session that runs the handshake on the probe's socket after STARTTLS,
// records the peer chain without ever aborting on it, and judges it afterwards.
#pragma once

#include "core/result.hpp"
#include "smtp/session.hpp"
#include "tls/dane.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <system_error>

namespace mxtls::tls {

struct ClientTlsOptions {
  std::string ca_file;  // PEM bundle; with ca_path empty too, the system trust store is used
  std::string ca_path;  // hashed directory (c_rehash)
  std::string ca_pem;   // trust anchors given in memory (the lab CA); used alone when set
};

class ClientTlsContext {
 public:
  // Throws std::runtime_error naming the file when the trust store cannot be loaded.
  explicit ClientTlsContext(const ClientTlsOptions& options);
  ~ClientTlsContext();
  ClientTlsContext(const ClientTlsContext&) = delete;
  ClientTlsContext& operator=(const ClientTlsContext&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct HandshakeOutcome {
  std::error_code error;  // empty on success
  std::string detail;     // OpenSSL's reason on failure
  bool closed_by_peer = false;
};

// An error of the TLS layer itself (a fatal alert from the peer, a bad record), as opposed to
// the socket's (reset, time-out) or a plain close.
bool is_tls_layer_error(const std::error_code& ec);

// TLS over a borrowed, already connected socket. Also an smtp::Transport once established.
class ClientTlsSession final : public smtp::Transport {
 public:
  // With `dane` (usable TLSA records), OpenSSL's DANE verification runs during the handshake;
  // it never aborts it either. The certificate verdict stays the PKIX one.
  ClientTlsSession(asio::ip::tcp::socket& socket, ClientTlsContext& context, const std::string& server_name,
                   const DaneRequest* dane = nullptr);
  ~ClientTlsSession() override;

  asio::awaitable<HandshakeOutcome> handshake();
  // Version, cipher, group, certificate facts and the Verified/Trusted/Untrusted/Anonymous
  // verdict, the name checked against `host` (the MX name) by RFC 6125 rules.
  TlsFacts facts(const std::string& host) const;
  // After the handshake, when constructed with DANE: matched (record, depth) or failed (why).
  // `facts.state` stays as it is when DANE was not enabled.
  void dane_outcome(DaneFacts& facts) const;

  ReadAttempt try_read(asio::mutable_buffer) override;
  asio::awaitable<std::error_code> write_all(asio::const_buffer) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxtls::tls
