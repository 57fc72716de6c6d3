// A tiny raw SMTP/TLS client for the lab tests (deliberately not the scanner: the lab must be
// checked independently), plus a runner that drives one test coroutine on an io_context.
#pragma once

#include "ossl/handles.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::lab::test {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
inline constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// Runs `body` to completion on `io` (failing the test after `limit`), rethrowing its exception
// so REQUIRE inside the coroutine works as usual.
inline void run(asio::io_context& io, std::function<asio::awaitable<void>()> body,
                std::chrono::milliseconds limit = 10s) {
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < until) io.run_one_for(20ms);
  REQUIRE_MESSAGE(done, "test coroutine did not finish in time");
  if (failure) std::rethrow_exception(failure);
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(tuple_awaitable);
}

// Polls `condition` every few milliseconds until it holds or `limit` passes.
inline asio::awaitable<bool> eventually(std::function<bool()> condition, std::chrono::milliseconds limit = 3s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) co_return false;
    co_await sleep_for(5ms);
  }
  co_return true;
}

struct Reply {
  int code = 0;                     // 0: no complete reply (timeout, close, junk)
  std::vector<std::string> lines;   // without CRLF
  std::string text() const {
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  }
};

class RawClient {
 public:
  explicit RawClient(asio::any_io_executor ex) : socket_(ex) {}

  asio::awaitable<std::error_code> connect(const asio::ip::tcp::endpoint& to) {
    auto [ec] = co_await socket_.async_connect(to, tuple_awaitable);
    co_return ec;
  }

  // One read of whatever arrives within `limit` ({} on timeout/close); appended to buffered().
  asio::awaitable<std::size_t> read_some(std::chrono::milliseconds limit) {
    char chunk[4096];
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    std::size_t n = 0;
    std::error_code ec;
    if (tls_) {
      auto r = co_await (tls_->async_read_some(asio::buffer(chunk), tuple_awaitable) ||
                         timer.async_wait(tuple_awaitable));
      if (r.index() == 0) std::tie(ec, n) = std::get<0>(r);
    } else {
      auto r = co_await (socket_.async_read_some(asio::buffer(chunk), tuple_awaitable) ||
                         timer.async_wait(tuple_awaitable));
      if (r.index() == 0) std::tie(ec, n) = std::get<0>(r);
    }
    last_error_ = ec;
    buffer_.append(chunk, n);
    co_return n;
  }

  asio::awaitable<std::optional<std::string>> read_line(std::chrono::milliseconds limit = 2s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto lf = buffer_.find('\n'); lf != std::string::npos) {
        std::string line = buffer_.substr(0, lf);
        buffer_.erase(0, lf + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        co_return line;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= until || buffer_.size() > 100000) co_return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
      if (co_await read_some(left) == 0) co_return std::nullopt;
    }
  }

  asio::awaitable<Reply> read_reply(std::chrono::milliseconds limit = 2s) {
    Reply reply;
    for (;;) {
      auto line = co_await read_line(limit);
      if (!line || line->size() < 3) co_return Reply{};
      reply.lines.push_back(*line);
      if (line->size() == 3 || (*line)[3] == ' ') {
        reply.code = std::stoi(line->substr(0, 3));
        co_return reply;
      }
    }
  }

  asio::awaitable<std::error_code> send(std::string bytes) {
    std::error_code ec;
    if (tls_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(bytes), tuple_awaitable);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(bytes), tuple_awaitable);
    }
    co_return ec;
  }

  asio::awaitable<Reply> command(std::string line, std::chrono::milliseconds limit = 2s) {
    co_await send(line + "\r\n");
    co_return co_await read_reply(limit);
  }

  // TLS handshake as a client: accepts any certificate (the tests inspect it), sends `sni`.
  asio::awaitable<std::error_code> start_tls(const std::string& sni, std::chrono::milliseconds limit = 3s,
                                             int max_version = 0) {
    ssl_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ssl_->set_verify_mode(asio::ssl::verify_none);
    if (max_version) SSL_CTX_set_max_proto_version(ssl_->native_handle(), max_version);
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *ssl_);
    if (!sni.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), sni.c_str());
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    auto r = co_await (tls_->async_handshake(asio::ssl::stream_base::client, tuple_awaitable) ||
                       timer.async_wait(tuple_awaitable));
    if (r.index() != 0) co_return asio::error::timed_out;
    co_return std::get<0>(std::get<0>(r));
  }

  ossl::X509Ptr peer_certificate() const {
    return tls_ ? ossl::X509Ptr(SSL_get1_peer_certificate(tls_->native_handle())) : ossl::X509Ptr{};
  }
  std::string tls_version() const { return tls_ ? SSL_get_version(tls_->native_handle()) : ""; }
  std::string tls_cipher() const {
    if (!tls_) return {};
    const SSL_CIPHER* c = SSL_get_current_cipher(tls_->native_handle());
    return c ? SSL_CIPHER_get_name(c) : "";
  }

  std::string& buffered() { return buffer_; }
  std::error_code last_error() const { return last_error_; }
  asio::ip::tcp::socket& socket() { return socket_; }
  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::unique_ptr<asio::ssl::context> ssl_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  std::string buffer_;
  std::error_code last_error_;
};

// The certificate's DNS subjectAltNames.
inline std::vector<std::string> dns_sans(X509* cert) {
  std::vector<std::string> out;
  ossl::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_STRING* s = name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
  }
  return out;
}

}  // namespace mxtls::lab::test
