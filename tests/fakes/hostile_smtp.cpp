// Hostile peers built on the OpenSSL API directly (tests may include it): certificates with raw
// name bytes, very long chains, and a TLS 1.2 server that requests renegotiation mid-session.
#include "fakes/hostile_smtp.hpp"

#include "ossl/errors.hpp"
#include "ossl/handles.hpp"
#include "ossl/pem.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <stdexcept>

namespace mxtls::fakes {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

// Our own ex_data slot for the handshake counter: asio's engine owns SSL app data (it keeps
// its verify callback there and deletes it with the stream).
int handshake_counter_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void check(bool ok, const char* what) {
  if (!ok) throw ossl::OpensslError(what);
}

}  // namespace

tls::Credentials leaf_with_raw_names(const tls::CertificateAuthority& ca, const std::string& raw_common_name,
                                     const std::vector<std::string>& raw_dns_names) {
  ossl::X509Ptr issuer = ossl::read_certificate_pem(ca.cert_pem());
  ossl::EvpPkeyPtr issuer_key = ossl::read_private_key_pem(ca.key_pem());
  ossl::EvpPkeyPtr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  check(key != nullptr, "key generation failed");
  ossl::X509Ptr cert{X509_new()};
  check(cert && X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_new failed");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr))) == 1, "serial");

  ossl::X509NamePtr subject{X509_NAME_new()};
  // The bytes go in unchecked (a type without MBSTRING_FLAG). Not as a UTF8String: OpenSSL 3
  // canonicalises UTF8Strings in names and refuses ill-formed ones, on our side and the
  // client's (such a certificate never parses). As a T61String they reach the client as they are.
  const auto* raw = reinterpret_cast<const unsigned char*>(raw_common_name.data());
  const int raw_length = static_cast<int>(raw_common_name.size());
  check(subject && X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, V_ASN1_T61STRING, raw, raw_length, -1, 0) == 1,
        "cannot set the raw subject names");
  check(X509_set_subject_name(cert.get(), subject.get()) == 1 &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.get())) == 1,
        "cannot set names");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 30) != nullptr,
        "cannot set validity");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "cannot set the key");

  if (!raw_dns_names.empty()) {
    ossl::GeneralNamesPtr names{GENERAL_NAMES_new()};
    check(names != nullptr, "GENERAL_NAMES_new");
    for (const auto& raw : raw_dns_names) {
      ossl::GeneralNamePtr entry{GENERAL_NAME_new()};
      ossl::Asn1StringPtr text{ASN1_IA5STRING_new()};
      check(entry && text && ASN1_STRING_set(text.get(), raw.data(), static_cast<int>(raw.size())) == 1, "SAN");
      GENERAL_NAME_set0_value(entry.get(), GEN_DNS, text.release());
      check(sk_GENERAL_NAME_push(names.get(), entry.get()) > 0, "SAN push");
      entry.release();  // owned by `names`
    }
    check(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "cannot add subjectAltName");
  }
  check(X509_sign(cert.get(), issuer_key.get(), EVP_sha256()) > 0, "cannot sign");
  tls::Credentials out;
  out.cert_pem = ossl::write_certificate_pem(cert.get());
  out.key_pem = ossl::write_private_key_pem(key.get());
  return out;
}

tls::Credentials leaf_under_long_chain(const tls::CertificateAuthority& root, int intermediates,
                                       const tls::CertSpec& spec) {
  tls::CertificateAuthority current = root;
  for (int i = 0; i < intermediates; ++i)
    current = current.issue_intermediate("mxtls adversarial intermediate " + std::to_string(i + 1));
  return current.issue(spec);
}

struct RenegotiatingSmtp::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, const tls::Credentials& credentials, RenegotiationOptions o)
      : executor(std::move(ex)), options(o), context(asio::ssl::context::tls_server), acceptor(executor) {
    SSL_CTX* ctx = context.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);  // renegotiation does not exist in TLS 1.3
    // Count ClientHellos received: the first starts the session, any further one would be a
    // renegotiation the client agreed to. (HANDSHAKE_DONE also fires after a HelloRequest.)
    SSL_CTX_set_info_callback(ctx, [](const SSL* ssl, int where, int) {
      if ((where & SSL_CB_ACCEPT_LOOP) == 0 || SSL_get_state(ssl) != TLS_ST_SR_CLNT_HELLO) return;
      if (auto* count = static_cast<int*>(SSL_get_ex_data(ssl, handshake_counter_index()))) ++*count;
    });
    const std::string chain = credentials.cert_pem + "\n" + credentials.chain_pem;
    context.use_certificate_chain(asio::buffer(chain));
    context.use_private_key(asio::buffer(credentials.key_pem), asio::ssl::context::pem);
  }

  asio::any_io_executor executor;
  RenegotiationOptions options;
  asio::ssl::context context;
  asio::ip::tcp::acceptor acceptor;
  std::shared_ptr<asio::ip::tcp::socket> connection;
  RenegotiationReport report;
  int client_hellos = 0;
  bool stopped = false;

  template <typename Stream>
  asio::awaitable<std::string> read_line(Stream& stream, std::string& buffer, std::string& error) {
    asio::steady_timer timer(executor, options.step_timeout);
    auto result = co_await (asio::async_read_until(stream, asio::dynamic_buffer(buffer, 4096), "\n", as_result) ||
                            timer.async_wait(as_result));
    if (result.index() == 1) {
      error = "timeout";
      co_return std::string{};
    }
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      error = ec.message();
      co_return std::string{};
    }
    std::string line = buffer.substr(0, n);
    buffer.erase(0, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    co_return line;
  }

  template <typename Stream>
  asio::awaitable<bool> write(Stream& stream, std::string text) {
    asio::steady_timer timer(executor, options.step_timeout);
    auto result = co_await (asio::async_write(stream, asio::buffer(text), as_result) || timer.async_wait(as_result));
    if (result.index() == 1) co_return false;
    auto [ec, n] = std::get<0>(result);
    (void)n;
    co_return !ec;
  }

  asio::awaitable<void> serve() {
    auto self = shared_from_this();
    auto [accept_error, accepted] = co_await acceptor.async_accept(as_result);
    if (accept_error || stopped) co_return;
    connection = std::make_shared<asio::ip::tcp::socket>(std::move(accepted));
    auto& socket = *connection;
    std::string buffer, error;
    bool ok = co_await write(socket, "220 reneg.fake.test ESMTP\r\n");
    std::string line;
    if (ok) line = co_await read_line(socket, buffer, error);
    ok = ok && line.rfind("EHLO", 0) == 0;
    if (ok) ok = co_await write(socket, "250-reneg.fake.test\r\n250 STARTTLS\r\n");
    if (ok) line = co_await read_line(socket, buffer, error);
    ok = ok && line == "STARTTLS";
    if (ok) ok = co_await write(socket, "220 go ahead\r\n");
    if (!ok) {
      finish();
      co_return;
    }
    asio::ssl::stream<asio::ip::tcp::socket&> stream(socket, context);
    SSL* ssl = stream.native_handle();
    SSL_set_ex_data(ssl, handshake_counter_index(), &client_hellos);
    {
      asio::steady_timer timer(executor, options.step_timeout);
      auto result = co_await (stream.async_handshake(asio::ssl::stream_base::server, as_result) ||
                              timer.async_wait(as_result));
      if (result.index() != 0 || std::get<0>(std::get<0>(result))) {
        finish();
        co_return;
      }
    }
    report.handshake_done = true;
    report.tls_version = SSL_get_version(ssl);
    std::string tls_buffer;
    line = co_await read_line(stream, tls_buffer, error);
    if (line.rfind("EHLO", 0) != 0) {
      report.after_hello_request = "no EHLO over TLS: " + error;
      finish();
      co_return;
    }
    // The server asks for a new handshake: SSL_renegotiate marks it, and the handshake call
    // writes the HelloRequest.
    if (SSL_renegotiate(ssl) == 1) {
      asio::steady_timer timer(executor, options.step_timeout);
      auto result = co_await (stream.async_handshake(asio::ssl::stream_base::server, as_result) ||
                              timer.async_wait(as_result));
      report.hello_request_sent = true;
      if (result.index() == 0) {
        auto [ec] = std::get<0>(result);
        if (ec) report.after_hello_request = "handshake call: " + ec.message();
      } else {
        report.after_hello_request = "handshake call: timeout";
      }
    }
    std::string next_error;
    if (options.reply_before_renegotiating) {
      const bool sent = co_await write(stream, "250-reneg.fake.test\r\n250 8BITMIME\r\n");
      if (sent) line = co_await read_line(stream, tls_buffer, next_error);
      if (report.after_hello_request.empty())
        report.after_hello_request = !sent ? "reply not sent" : next_error.empty() ? "client sent: " + line : next_error;
    } else if (report.after_hello_request.empty()) {
      // Insist: no reply until the client has renegotiated; reading drives that handshake.
      line = co_await read_line(stream, tls_buffer, next_error);
      report.after_hello_request = next_error.empty() ? "client sent: " + line : next_error;
    }
    finish();
  }

  void finish() {
    report.renegotiations_completed = client_hellos > 1 ? client_hellos - 1 : 0;
    report.finished = true;
    std::error_code ignored;
    if (connection) connection->close(ignored);
  }
};

RenegotiatingSmtp::RenegotiatingSmtp(asio::any_io_executor executor, const tls::Credentials& credentials,
                                     RenegotiationOptions options)
    : state_(std::make_shared<State>(std::move(executor), credentials, options)) {}

RenegotiatingSmtp::~RenegotiatingSmtp() { stop(); }

void RenegotiatingSmtp::start() {
  State& st = *state_;
  std::error_code ec;
  const asio::ip::tcp::endpoint where(asio::ip::make_address("127.0.0.1"), 0);
  st.acceptor.open(where.protocol(), ec);
  if (!ec) st.acceptor.bind(where, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("renegotiating SMTP fake: cannot listen: " + ec.message());
  asio::co_spawn(st.executor, st.serve(), asio::detached);
}

void RenegotiatingSmtp::stop() {
  State& st = *state_;
  st.stopped = true;
  std::error_code ignored;
  st.acceptor.close(ignored);
  if (st.connection) st.connection->close(ignored);
}

asio::ip::tcp::endpoint RenegotiatingSmtp::endpoint() const {
  std::error_code ignored;
  return state_->acceptor.local_endpoint(ignored);
}

RenegotiationReport RenegotiatingSmtp::report() const { return state_->report; }

}  // namespace mxtls::fakes
