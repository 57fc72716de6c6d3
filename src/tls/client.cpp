// TLS client for probes. The verify callback only records: a scanner must complete the
// handshake with any certificate to report on it (as Postfix does at level "may"), and judges
// the chain afterwards. Legacy protocols and ciphers are allowed on purpose: a scanner that
// refused TLS 1.0 could not report that a server only speaks TLS 1.0.
#include "tls/client.hpp"

#include "tls/certificate.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <stdexcept>

namespace mxtls::tls {
namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

// What the verify callback saw for one connection. The first error is the one worth
// reporting (later ones are often consequences of it), as Postfix logs it.
struct VerifyRecord {
  int first_error = X509_V_OK;
  int first_error_depth = -1;
};

int verify_record_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int record_verification(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* record = ssl ? static_cast<VerifyRecord*>(SSL_get_ex_data(ssl, verify_record_index())) : nullptr;
  if (!preverify_ok && record && record->first_error == X509_V_OK) {
    record->first_error = X509_STORE_CTX_get_error(store);
    record->first_error_depth = X509_STORE_CTX_get_error_depth(store);
  }
  return 1;  // never abort: the verdict is judged after the handshake
}

// Why a handshake failed, in words. An EOF mid-handshake is never a proper close: with
// SSL_OP_IGNORE_UNEXPECTED_EOF OpenSSL reports it as a clean one (eof), without it as truncated.
std::string handshake_failure_reason(const std::error_code& ec) {
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
    return "connection closed by the server during the TLS handshake";
  return ec.message();
}

// Every certificate of a PEM text becomes a trust anchor of the context's store.
void add_trust_anchors(SSL_CTX* ctx, const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr) {
    added += X509_STORE_add_cert(store, cert) == 1;
    X509_free(cert);
  }
  ERR_clear_error();  // the loop ends on a "no start line" error by design
  if (added == 0) throw std::runtime_error("no usable certificate in the given trust anchors");
}

}  // namespace

bool is_tls_layer_error(const std::error_code& ec) {
  return ec && ec.category() == asio::error::get_ssl_category();
}

struct ClientTlsContext::Impl {
  asio::ssl::context context{asio::ssl::context::tls_client};
};

ClientTlsContext::ClientTlsContext(const ClientTlsOptions& options) : impl_(std::make_unique<Impl>()) {
  SSL_CTX* ctx = impl_->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, 0);  // highest the library supports
  // SECLEVEL=0: see servers with SHA-1 signatures, small keys and TLS 1.0/1.1 instead of
  // failing on them. Anonymous (aNULL) suites are offered, but last: a server with a
  // certificate shows it, and an anonymous-only server still gets TLS, as a Postfix sender
  // at level "may" would (it is then reported as Anonymous).
  SSL_CTX_set_cipher_list(ctx, "ALL:+aNULL:@SECLEVEL=0");
  // Servers without RFC 5746 secure renegotiation are still common on port 25; OpenSSL 3
  // refuses them by default, which would hide their TLS from the report.
  SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Read-ahead: one read() takes whatever the socket holds instead of a record's 5-byte header
  // and then its body, two system calls per record. Safe here because every wait on the socket
  // follows an SSL_read that asked for more (drive() below): data OpenSSL already holds is
  // never waited for.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_verification);
  SSL_CTX_set_verify_depth(ctx, 16);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // DANE is switched on per connection (SSL_dane_enable) only where usable TLSA exist; this
  // only installs the digests it needs.
  if (SSL_CTX_dane_enable(ctx) <= 0) {
    ERR_clear_error();
    throw std::runtime_error("OpenSSL cannot enable DANE support");
  }

  if (!options.ca_pem.empty()) {
    add_trust_anchors(ctx, options.ca_pem);
    return;
  }
  if (options.ca_file.empty() && options.ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
      throw std::runtime_error("cannot load the system trust store");
    }
    return;
  }
  const char* file = options.ca_file.empty() ? nullptr : options.ca_file.c_str();
  const char* path = options.ca_path.empty() ? nullptr : options.ca_path.c_str();
  if (SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
    ERR_clear_error();
    throw std::runtime_error("cannot load trust anchors from " +
                             (file ? "--ca-file " + options.ca_file : "--ca-path " + options.ca_path));
  }
}

ClientTlsContext::~ClientTlsContext() = default;

// OpenSSL reads and writes the socket itself (SSL_set_fd, non-blocking), and the coroutine
// waits for readiness when it wants more. asio::ssl::stream would add four 17 KiB buffers per
// connection (its engine's BIO pair and record buffers): with thousands of connections in TLS
// that was most of the scanner's memory. With SSL_MODE_RELEASE_BUFFERS an idle connection
// then holds only OpenSSL's state.
struct ClientTlsSession::Impl {
  Impl(asio::ip::tcp::socket& s, SSL_CTX* ctx) : socket(s), ssl(SSL_new(ctx), &SSL_free) {
    if (!ssl) throw std::runtime_error("SSL_new failed");
    // Usually already non-blocking (the plain SMTP transport read it so): Asio would repeat
    // the ioctl on every call.
    asio::error_code ec;
    if (!socket.non_blocking()) socket.non_blocking(true, ec);
    if (ec || SSL_set_fd(ssl.get(), static_cast<int>(socket.native_handle())) != 1)
      throw std::runtime_error("cannot attach TLS to the socket");
    SSL_set_connect_state(ssl.get());
  }
  asio::ip::tcp::socket& socket;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl;
  VerifyRecord verify;
  bool dane = false;
  std::string dane_error;  // OpenSSL refused the records: DANE failed before the handshake

  // Runs `call` (SSL_do_handshake, SSL_read, SSL_write: > 0 is success) until it succeeds or
  // fails, waiting on the socket whenever OpenSSL wants to read or write. Errors become the
  // error codes asio's own TLS stream would give (stream_truncated for an EOF without
  // close_notify, the OpenSSL reason in asio's ssl category otherwise).
  template <typename Step>
  asio::awaitable<std::pair<std::error_code, int>> drive(Step call) {
    for (;;) {
      const auto [result, reason] = step(call);
      if (result > 0) co_return std::pair<std::error_code, int>{{}, result};
      if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
        const auto wait = reason == SSL_ERROR_WANT_READ ? asio::ip::tcp::socket::wait_read : asio::ip::tcp::socket::wait_write;
        auto [ec] = co_await socket.async_wait(wait, as_result);
        if (ec) co_return std::pair<std::error_code, int>{ec, 0};
        continue;
      }
      co_return std::pair<std::error_code, int>{error_of(reason), 0};
    }
  }

  // One call of `step`: its result, and SSL_get_error's reason when it is not > 0.
  template <typename Step>
  std::pair<int, int> step(Step&& call) {
    ERR_clear_error();
    errno = 0;  // SSL_ERROR_SYSCALL is explained by errno, if by anything
    const int result = call(ssl.get());
    return {result, result > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), result)};
  }

  std::error_code error_of(int reason) const {
    if (reason == SSL_ERROR_ZERO_RETURN)
      return (SSL_get_shutdown(ssl.get()) & SSL_RECEIVED_SHUTDOWN) != 0 ? std::error_code(asio::error::eof)
                                                                        : std::error_code(asio::ssl::error::stream_truncated);
    if (reason == SSL_ERROR_SYSCALL) {
      const unsigned long queued = ERR_get_error();
      if (queued != 0) return {static_cast<int>(queued), asio::error::get_ssl_category()};
      if (errno != 0) return {errno, asio::error::get_system_category()};
      return asio::ssl::error::stream_truncated;
    }
    const unsigned long queued = ERR_get_error();
    if (queued != 0) return {static_cast<int>(queued), asio::error::get_ssl_category()};
    return asio::ssl::error::unspecified_system_error;
  }
};

namespace {

// With DANE on, the handshake's verification is DANE's (a DANE-EE match succeeds without any
// chain to a trusted root), so the PKIX verdict is judged again on the recorded chain, as a
// sender at Postfix level "verify" would judge it.
VerifyRecord pkix_verify(SSL* ssl) {
  VerifyRecord record;
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) return record;
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> store(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  if (!store || X509_STORE_CTX_init(store.get(), SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), leaf,
                                    SSL_get_peer_cert_chain(ssl)) != 1) {
    record.first_error = X509_V_ERR_UNSPECIFIED;
    ERR_clear_error();
    return record;
  }
  X509_STORE_CTX_set_default(store.get(), "ssl_server");
  X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(store.get()), 16);
  X509_STORE_CTX_set_ex_data(store.get(), 0, &record);
  X509_STORE_CTX_set_verify_cb(store.get(), [](int ok, X509_STORE_CTX* ctx) -> int {
    auto* r = static_cast<VerifyRecord*>(X509_STORE_CTX_get_ex_data(ctx, 0));
    if (!ok && r && r->first_error == X509_V_OK) {
      r->first_error = X509_STORE_CTX_get_error(ctx);
      r->first_error_depth = X509_STORE_CTX_get_error_depth(ctx);
    }
    return 1;
  });
  if (X509_verify_cert(store.get()) != 1 && record.first_error == X509_V_OK)
    record.first_error = X509_STORE_CTX_get_error(store.get());
  ERR_clear_error();
  return record;
}

}  // namespace

ClientTlsSession::ClientTlsSession(asio::ip::tcp::socket& socket, ClientTlsContext& context,
                                   const std::string& server_name, const DaneRequest* dane)
    : smtp::Transport(socket), impl_(std::make_unique<Impl>(socket, context.impl().context.native_handle())) {
  SSL* ssl = impl_->ssl.get();
  SSL_set_ex_data(ssl, verify_record_index(), &impl_->verify);
  // SNI is the MX host name (DESIGN.md §3); an IP literal must not be sent as SNI. With DANE
  // it is the TLSA base domain, which for SMTP is that same MX host name (RFC 7672 §3.2.2).
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (dane && !dane->records.empty()) impl_->dane = enable_dane(ssl, *dane, impl_->dane_error);
}

ClientTlsSession::~ClientTlsSession() = default;

asio::awaitable<HandshakeOutcome> ClientTlsSession::handshake() {
  auto [ec, done] = co_await impl_->drive([](SSL* ssl) { return SSL_do_handshake(ssl); });
  (void)done;
  HandshakeOutcome out;
  if (ec) {
    out.error = ec;
    out.detail = handshake_failure_reason(ec);
    out.closed_by_peer = ec == asio::ssl::error::stream_truncated || ec == asio::error::eof ||
                         ec == asio::error::connection_reset;
  }
  ERR_clear_error();
  co_return out;
}

TlsFacts ClientTlsSession::facts(const std::string& host) const {
  SSL* ssl = impl_->ssl.get();
  TlsFacts f;
  f.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    f.cipher = SSL_CIPHER_get_name(cipher);
    f.cipher_bits = SSL_CIPHER_get_bits(cipher, nullptr);
  }
  if (const int group = SSL_get_negotiated_group(ssl); group != 0) {
    if (const char* name = SSL_group_to_name(ssl, group)) f.group = name;
  }
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) {
    f.verdict = CertVerdict::anonymous;
    return f;
  }
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  f.cert = describe_certificate(leaf, chain ? sk_X509_num(chain) : 1);
  f.name_matched = certificate_matches_host(leaf, host);
  const VerifyRecord verify = impl_->dane ? pkix_verify(ssl) : impl_->verify;
  if (verify.first_error != X509_V_OK) {
    f.verdict = CertVerdict::untrusted;
    f.verify_error = X509_verify_cert_error_string(verify.first_error);
    if (verify.first_error_depth > 0)
      f.verify_error += " (at depth " + std::to_string(verify.first_error_depth) + ")";
  } else {
    f.verdict = f.name_matched ? CertVerdict::verified : CertVerdict::trusted;
  }
  return f;
}

void ClientTlsSession::dane_outcome(DaneFacts& facts) const {
  if (!impl_->dane) {
    if (!impl_->dane_error.empty()) {
      facts.state = DaneState::failed;
      facts.detail = impl_->dane_error;
    }
    return;
  }
  record_dane_outcome(impl_->ssl.get(), impl_->verify.first_error, impl_->verify.first_error_depth, facts);
}

smtp::Transport::ReadAttempt ClientTlsSession::try_read(asio::mutable_buffer buffer) {
  ReadAttempt attempt;
  if (buffer.size() == 0) return attempt;
  const int wanted = static_cast<int>(std::min<std::size_t>(buffer.size(), 1 << 30));
  const auto [result, reason] = impl_->step([&](SSL* ssl) { return SSL_read(ssl, buffer.data(), wanted); });
  if (result > 0) attempt.bytes = static_cast<std::size_t>(result);
  else if (reason == SSL_ERROR_WANT_READ) attempt.wait_for = asio::socket_base::wait_read;
  else if (reason == SSL_ERROR_WANT_WRITE) attempt.wait_for = asio::socket_base::wait_write;  // a key update, say
  else attempt.error = impl_->error_of(reason);
  return attempt;
}

asio::awaitable<std::error_code> ClientTlsSession::write_all(asio::const_buffer buffer) {
  const auto* bytes = static_cast<const char*>(buffer.data());
  std::size_t left = buffer.size();
  while (left > 0) {
    // A write OpenSSL could not finish is repeated with the same arguments, as it requires.
    const int chunk = static_cast<int>(std::min<std::size_t>(left, 1 << 30));
    auto [ec, n] = co_await impl_->drive([&](SSL* ssl) { return SSL_write(ssl, bytes, chunk); });
    if (ec) co_return ec;
    bytes += n;
    left -= static_cast<std::size_t>(n);
  }
  co_return std::error_code{};
}

}  // namespace mxtls::tls
