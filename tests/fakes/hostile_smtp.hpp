// Hostile SMTP/TLS peers the scripted fake cannot express, for the adversarial tests: a TLS 1.2
// server that asks for renegotiation after STARTTLS, and certificates the test PKI refuses to
// make (raw, ill-formed UTF-8 bytes in the subject CN and SANs; a chain of 100 certificates).
#pragma once

#include "tls/pki.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace mxtls::fakes {

// A leaf signed by `ca` whose subject CN (T61String) and DNS SANs
// (IA5String) hold the given bytes verbatim, ill-formed UTF-8 and control bytes included.
tls::Credentials leaf_with_raw_names(const tls::CertificateAuthority& ca, const std::string& raw_common_name,
                                     const std::vector<std::string>& raw_dns_names);

// `intermediates` CAs chained under `root`, then a leaf for `spec` issued by the last one; the
// credentials' chain_pem carries every intermediate (leaf + intermediates certificates sent).
tls::Credentials leaf_under_long_chain(const tls::CertificateAuthority& root, int intermediates,
                                       const tls::CertSpec& spec);

struct RenegotiationOptions {
  // true: send HelloRequest, then answer the EHLO anyway (a server that carries on when the
  // client declines); false: send HelloRequest and wait for the new handshake before answering.
  bool reply_before_renegotiating = true;
  std::chrono::milliseconds step_timeout{3000};
};

// What the renegotiating server saw on its (single) connection.
struct RenegotiationReport {
  bool handshake_done = false;
  bool hello_request_sent = false;
  std::string tls_version;
  std::string after_hello_request;  // the next client line, or why reading it failed
  int renegotiations_completed = 0;  // ClientHellos after the first (the client went along)
  bool finished = false;
};

// STARTTLS server on 127.0.0.1 (port 0), TLS 1.2 only: banner, EHLO (offers STARTTLS), 220,
// handshake, reads the EHLO over TLS, calls SSL_renegotiate and sends HelloRequest.
class RenegotiatingSmtp {
 public:
  RenegotiatingSmtp(asio::any_io_executor executor, const tls::Credentials& credentials,
                    RenegotiationOptions options = {});
  ~RenegotiatingSmtp();
  RenegotiatingSmtp(const RenegotiatingSmtp&) = delete;
  RenegotiatingSmtp& operator=(const RenegotiatingSmtp&) = delete;

  void start();  // throws std::runtime_error
  void stop();
  asio::ip::tcp::endpoint endpoint() const;
  RenegotiationReport report() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::fakes
