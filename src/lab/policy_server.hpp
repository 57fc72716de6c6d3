// The lab's HTTPS server for MTA-STS policies: one TLS listener on a lab address, answering
// GET /.well-known/mta-sts.txt per Host header with a scripted document (a policy, a redirect,
// a wrong media type, …). Loopback only; every read and write has a deadline.
#pragma once

#include "tls/pki.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mxtls::lab {

struct PolicyDocument {
  std::string host;  // "mta-sts.example.test"
  int status = 200;
  std::string content_type = "text/plain";
  std::string location;  // sent with a 3xx
  std::string body;
  bool chunked = false;  // Transfer-Encoding: chunked instead of Content-Length
};

class PolicyServer {
 public:
  // `credentials` name every host served (the lab issues one certificate with all of them).
  PolicyServer(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, tls::Credentials credentials,
               std::vector<PolicyDocument> documents,
               std::chrono::milliseconds io_timeout = std::chrono::milliseconds(5000));
  ~PolicyServer();
  PolicyServer(const PolicyServer&) = delete;
  PolicyServer& operator=(const PolicyServer&) = delete;

  void start();  // throws std::runtime_error naming address:port when it cannot listen
  void stop();   // idempotent; call on the executor's thread
  asio::ip::tcp::endpoint endpoint() const;
  std::size_t requests() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::lab
