// HTTPS GET for MTA-STS. Security decisions: the certificate must verify for the policy host
// (RFC 8461 §3.3; a policy from an unauthenticated server would let an attacker downgrade),
// redirects are reported and never followed (§3.3), the body is bounded (a hostile server
// must not make us buffer without limit) and so is the time, across every phase.
#include "tls/https_client.hpp"

#include "core/endpoint_text.hpp"
#include "core/text.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <charconv>
#include <stdexcept>

namespace mxtls::tls {
namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t max_head = 16 * 1024;

}  // namespace

struct HttpsContext::Impl {
  asio::ssl::context context{asio::ssl::context::tls_client};
};

HttpsContext::HttpsContext(const ClientTlsOptions& trust) : impl_(std::make_unique<Impl>()) {
  SSL_CTX* ctx = impl_->context.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  // a sender's policy fetch, not a scan
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);   // verification failure aborts: that is the point
  if (!trust.ca_pem.empty()) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(trust.ca_pem.data(), static_cast<int>(trust.ca_pem.size())), &BIO_free);
    int added = 0;
    while (X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr) {
      added += X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert) == 1;
      X509_free(cert);
    }
    ERR_clear_error();
    if (added == 0) throw std::runtime_error("no usable certificate in the given trust anchors");
  } else if (trust.ca_file.empty() && trust.ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
      throw std::runtime_error("cannot load the system trust store");
    }
  } else if (SSL_CTX_load_verify_locations(ctx, trust.ca_file.empty() ? nullptr : trust.ca_file.c_str(),
                                           trust.ca_path.empty() ? nullptr : trust.ca_path.c_str()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("cannot load trust anchors for MTA-STS policy fetches");
  }
}

HttpsContext::~HttpsContext() = default;

namespace {

asio::awaitable<HttpsResponse> fetch(const HttpsContext& context, const HttpsRequest& request) {
  HttpsResponse out;
  auto executor = co_await asio::this_coro::executor;
  std::string last_error = "no address for " + request.host;
  for (const auto& address : request.addresses) {
    asio::ip::tcp::socket socket(executor);
    const asio::ip::tcp::endpoint endpoint(address, request.port);
    auto [connect_error] = co_await socket.async_connect(endpoint, as_result);
    const std::string where = endpoint_text(address, request.port);
    if (connect_error) {
      last_error = "connect to " + where + ": " + connect_error.message();
      continue;
    }
    asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, context.impl().context);
    SSL* ssl = stream.native_handle();
    SSL_set_tlsext_host_name(ssl, request.host.c_str());
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl, request.host.c_str());
    auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::client, as_result);
    if (handshake_error) {
      const long verify = SSL_get_verify_result(ssl);
      out.error = "TLS to " + where + ": " +
                  (verify != X509_V_OK ? std::string("certificate not valid for ") + request.host + ": " +
                                             X509_verify_cert_error_string(verify)
                                       : handshake_error.message());
      out.address = where;
      ERR_clear_error();
      co_return out;  // a bad certificate is the verdict, not a reason to try elsewhere
    }
    const std::string query = "GET " + request.path + " HTTP/1.1\r\nHost: " + request.host +
                              "\r\nUser-Agent: mxtls\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(query), as_result);
    (void)written;
    if (write_error) {
      out.error = "sending the request to " + where + ": " + write_error.message();
      co_return out;
    }
    std::string received;
    std::array<char, 4096> chunk;
    const std::size_t limit = request.max_body + max_head + 4096;
    ParsedHttp parsed;
    while (true) {
      auto [read_error, n] = co_await stream.async_read_some(asio::buffer(chunk), as_result);
      received.append(chunk.data(), n);
      const bool closed = static_cast<bool>(read_error);
      parsed = parse_http_response(received, closed, request.max_body);
      if (parsed.complete) break;
      if (received.size() > limit) {
        parsed.error = "response larger than " + std::to_string(limit / 1024) + " KiB";
        break;
      }
    }
    ERR_clear_error();
    out.address = where;
    out.status = parsed.status;
    out.content_type = parsed.content_type;
    out.error = parsed.error;
    out.body = std::move(parsed.body);
    out.ok = out.error.empty();
    co_return out;
  }
  out.error = last_error;
  co_return out;
}

}  // namespace

asio::awaitable<HttpsResponse> https_get(const HttpsContext& context, HttpsRequest request) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, request.timeout);
  auto outcome = co_await (fetch(context, request) || timer.async_wait(asio::use_awaitable));
  if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
  HttpsResponse late;
  late.error = "no complete answer from https://" + request.host + request.path + " within " +
               std::to_string(request.timeout.count()) + " ms";
  co_return late;
}

}  // namespace mxtls::tls
