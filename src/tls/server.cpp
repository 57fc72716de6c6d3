// Server-side TLS (asio::ssl over OpenSSL 3) for the lab fleet and the test fakes.
// The context is configured once from PEM strings; each STARTTLS session wraps the
// caller's socket in an asio::ssl::stream for the rest of the connection.
#include "tls/server.hpp"

#include "ossl/errors.hpp"
#include "tls/certificate.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace mxtls::tls {

namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

[[noreturn]] void fail(const std::string& what) {
  // asio may already have drained the queue into an error_code (its text is in `what`).
  const std::string reason = ossl::take_openssl_errors();
  throw std::runtime_error("TLS server context: " + what + (reason.empty() ? "" : ": " + reason));
}

// The client certificate is recorded, not judged: a sending MTA's certificate says who it claims
// to be, and refusing the handshake over it would turn a TLS session into a cleartext one.
int accept_any_client_certificate(int /*preverify_ok*/, X509_STORE_CTX* /*context*/) { return 1; }

int openssl_version(ProtocolVersion version) {
  switch (version) {
    case ProtocolVersion::library_default: return 0;
    case ProtocolVersion::tls1_0: return TLS1_VERSION;
    case ProtocolVersion::tls1_1: return TLS1_1_VERSION;
    case ProtocolVersion::tls1_2: return TLS1_2_VERSION;
    case ProtocolVersion::tls1_3: return TLS1_3_VERSION;
  }
  return 0;
}

}  // namespace

struct ServerContext::Impl {
  asio::ssl::context context{asio::ssl::context::tls_server};
};

ServerContext::ServerContext(const Credentials& credentials, const ServerOptions& options)
    : impl_(std::make_shared<Impl>()) {
  ossl::clear_openssl_errors();
  SSL_CTX* ctx = impl_->context.native_handle();

  // The lab and the fakes serve one connection at a time per session and never resume:
  // no session cache and no tickets keep every handshake a full one, which is what a
  // scanner measures, and keeps TLS 1.3 from sending tickets the client did not ask for.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // Client-initiated renegotiation is a known CPU-exhaustion lever; nothing here needs it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);

  if (options.allow_legacy) SSL_CTX_set_security_level(ctx, 0);
  if (int v = openssl_version(options.min_version); v != 0 && SSL_CTX_set_min_proto_version(ctx, v) != 1)
    fail("cannot set minimum protocol version");
  if (int v = openssl_version(options.max_version); v != 0 && SSL_CTX_set_max_proto_version(ctx, v) != 1)
    fail("cannot set maximum protocol version");
  if (!options.cipher_list.empty() && SSL_CTX_set_cipher_list(ctx, options.cipher_list.c_str()) != 1)
    fail("unusable cipher list '" + options.cipher_list + "'");
  if (!options.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, options.ciphersuites.c_str()) != 1)
    fail("unusable TLS 1.3 ciphersuites '" + options.ciphersuites + "'");

  if (options.request_client_certificate) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_client_certificate);
    // With no session cache, OpenSSL still insists on a context id once it verifies peers.
    static constexpr unsigned char session_id_context[] = "mxtls-listen";
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
  }

  std::error_code ec;
  const std::string chain = credentials.cert_pem + "\n" + credentials.chain_pem;
  impl_->context.use_certificate_chain(asio::buffer(chain), ec);
  if (ec) fail("certificate PEM rejected: " + ec.message());
  impl_->context.use_private_key(asio::buffer(credentials.key_pem), asio::ssl::context::pem, ec);
  if (ec) fail("private key PEM rejected: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1) fail("private key does not match the certificate");
}

ServerContext::~ServerContext() = default;
ServerContext::ServerContext(const ServerContext&) = default;
ServerContext& ServerContext::operator=(const ServerContext&) = default;

struct ServerStream::Impl {
  Impl(std::shared_ptr<ServerContext::Impl> ctx, asio::ip::tcp::socket& socket)
      : context(std::move(ctx)), stream(socket, context->context) {}
  std::shared_ptr<ServerContext::Impl> context;  // keeps the SSL_CTX alive with the stream
  asio::ssl::stream<asio::ip::tcp::socket&> stream;
};

ServerStream::ServerStream(const ServerContext& context, asio::ip::tcp::socket& socket)
    : impl_(std::make_unique<Impl>(context.impl_, socket)) {}

ServerStream::~ServerStream() = default;

asio::awaitable<std::error_code> ServerStream::handshake() {
  auto [ec] = co_await impl_->stream.async_handshake(asio::ssl::stream_base::server, as_tuple_awaitable);
  co_return ec;
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> ServerStream::read_some(asio::mutable_buffer buffer) {
  auto [ec, n] = co_await impl_->stream.async_read_some(buffer, as_tuple_awaitable);
  co_return std::tuple<std::error_code, std::size_t>{ec, n};
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> ServerStream::write(asio::const_buffer buffer) {
  auto [ec, n] = co_await asio::async_write(impl_->stream, buffer, as_tuple_awaitable);
  co_return std::tuple<std::error_code, std::size_t>{ec, n};
}

asio::awaitable<std::error_code> ServerStream::shutdown() {
  auto [ec] = co_await impl_->stream.async_shutdown(as_tuple_awaitable);
  co_return ec;
}

std::string ServerStream::version() const {
  SSL* ssl = impl_->stream.native_handle();
  if (!SSL_is_init_finished(ssl)) return {};
  return SSL_get_version(ssl);
}

std::string ServerStream::cipher() const {
  SSL* ssl = impl_->stream.native_handle();
  if (!SSL_is_init_finished(ssl)) return {};
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  return cipher ? SSL_CIPHER_get_name(cipher) : "";
}

std::string ServerStream::server_name() const {
  const char* name = SSL_get_servername(impl_->stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

std::string ServerStream::group() const {
  SSL* ssl = impl_->stream.native_handle();
  if (!SSL_is_init_finished(ssl)) return {};
  const int group = SSL_get_negotiated_group(ssl);
  if (group == 0) return {};
  const char* name = SSL_group_to_name(ssl, group);
  return name ? name : "";
}

int ServerStream::cipher_bits() const {
  SSL* ssl = impl_->stream.native_handle();
  if (!SSL_is_init_finished(ssl)) return 0;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  return cipher ? SSL_CIPHER_get_bits(cipher, nullptr) : 0;
}

std::optional<CertFacts> ServerStream::client_certificate() const {
  SSL* ssl = impl_->stream.native_handle();
  if (!SSL_is_init_finished(ssl)) return std::nullopt;
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) return std::nullopt;
  // On the server side the peer chain does not include the leaf.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  return describe_certificate(leaf, (chain ? sk_X509_num(chain) : 0) + 1);
}

}  // namespace mxtls::tls
