// Server-side TLS for the lab fleet and the test fakes: a context built from PEM credentials
// with protocol/cipher options, and a TLS stream started on an already-connected TCP socket
// after a plaintext SMTP exchange (STARTTLS). No OpenSSL types in this header (pimpl).
#pragma once

#include "core/result.hpp"
#include "tls/pki.hpp"

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

namespace mxtls::tls {

enum class ProtocolVersion { library_default, tls1_0, tls1_1, tls1_2, tls1_3 };

struct ServerOptions {
  ProtocolVersion min_version = ProtocolVersion::library_default;
  ProtocolVersion max_version = ProtocolVersion::library_default;
  std::string cipher_list;   // TLS <= 1.2 cipher list (OpenSSL syntax); empty = OpenSSL default
  std::string ciphersuites;  // TLS 1.3 suites; empty = OpenSSL default
  // Security level 0: lets OpenSSL 3 serve TLS 1.0/1.1 and weak ciphers, which the lab needs
  // to imitate old servers. Never set outside test/lab servers.
  bool allow_legacy = false;
  // Send a CertificateRequest so a client that has a certificate shows it (mxtls listen reports
  // what a sending MTA presents). Never required and never judged: every certificate, and no
  // certificate, is accepted, as a receiving MTA at "may" does.
  bool request_client_certificate = false;
};

// An SSL_CTX for serving. Copies share the same underlying context (cheap to copy).
class ServerContext {
 public:
  // Throws std::runtime_error with OpenSSL's reason when the PEM data or options are unusable
  // (bad PEM, key does not match the certificate, unknown cipher list, …).
  explicit ServerContext(const Credentials& credentials, const ServerOptions& options = {});
  ~ServerContext();
  ServerContext(const ServerContext&);
  ServerContext& operator=(const ServerContext&);

  struct Impl;

 private:
  friend class ServerStream;
  std::shared_ptr<Impl> impl_;
};

// TLS over a TCP socket the caller owns and keeps alive while the stream exists. Operations
// report failures as values; the caller bounds each one with a deadline (they honour
// per-operation cancellation, e.g. `co_await (stream.handshake() || timer.async_wait(...))`).
class ServerStream {
 public:
  ServerStream(const ServerContext& context, asio::ip::tcp::socket& socket);
  ~ServerStream();
  ServerStream(const ServerStream&) = delete;
  ServerStream& operator=(const ServerStream&) = delete;

  asio::awaitable<std::error_code> handshake();
  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(asio::mutable_buffer buffer);
  // Writes every byte of `buffer` (or fails).
  asio::awaitable<std::tuple<std::error_code, std::size_t>> write(asio::const_buffer buffer);
  // Sends close_notify; does not close the socket.
  asio::awaitable<std::error_code> shutdown();

  // Facts about the established session (empty before a successful handshake).
  std::string version() const;      // OpenSSL name, e.g. "TLSv1.3"
  std::string cipher() const;       // OpenSSL name, e.g. "TLS_AES_256_GCM_SHA384"
  std::string server_name() const;  // SNI the client sent, or empty
  std::string group() const;        // key exchange group, e.g. "X25519", or empty
  int cipher_bits() const;          // symmetric key bits of the cipher, 0 before the handshake
  // The certificate the client sent (only when the context asked for one), or nothing.
  std::optional<CertFacts> client_certificate() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxtls::tls
