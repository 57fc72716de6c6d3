// A minimal HTTPS GET for MTA-STS policies (RFC 8461 §3.3): certificate verified for the host
// name, no redirects, bounded size and time, HTTP/1.1 with Connection: close. Failures come
// back as text, never as exceptions.
#pragma once

#include "tls/client.hpp"
#include "tls/http_response.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mxtls::tls {

// A verifying client context (unlike the probe's, which records and never aborts): the
// policy host's certificate must chain to the trust store and name the host.
class HttpsContext {
 public:
  explicit HttpsContext(const ClientTlsOptions& trust);  // throws std::runtime_error
  ~HttpsContext();
  HttpsContext(const HttpsContext&) = delete;
  HttpsContext& operator=(const HttpsContext&) = delete;
  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct HttpsRequest {
  std::string host;  // Host header, SNI and the name the certificate must match
  std::string path;  // "/.well-known/mta-sts.txt"
  std::vector<asio::ip::address> addresses;  // tried in order until one connects
  std::uint16_t port = 443;
  std::chrono::milliseconds timeout{10'000};  // the whole fetch
  std::size_t max_body = 64 * 1024;
};

struct HttpsResponse {
  bool ok = false;           // 200, text/plain, body complete within the bounds
  std::string error;         // why not, in words
  int status = 0;            // HTTP status code, 0 when none was read
  std::string content_type;  // as sent (bounded)
  std::string body;
  std::string address;       // the address the body came from, "ip:port"
};

asio::awaitable<HttpsResponse> https_get(const HttpsContext& context, HttpsRequest request);



}  // namespace mxtls::tls
