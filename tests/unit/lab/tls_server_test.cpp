// Server-side TLS (src/tls/server): contexts from PEM credentials, protocol limits, and a
// handshake started on an already-connected socket after a plaintext exchange.
#include "unit/lab/lab_client.hpp"

#include "tls/pki.hpp"
#include "tls/server.hpp"

#include <doctest/doctest.h>

namespace {

using namespace mxtls;
using namespace mxtls::lab::test;

const tls::CertificateAuthority& ca() {
  static const auto authority = tls::CertificateAuthority::create("mxtls tls-server test CA");
  return authority;
}

tls::Credentials leaf(const std::string& name) {
  tls::CertSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  return ca().issue(spec);
}

struct ServerSide {
  std::string sni, version, cipher, line;
  std::error_code handshake_error;
};

// Accepts one connection, speaks "220 go" in plaintext, then TLS; echoes one line as "250 <line>".
asio::awaitable<void> serve_once(asio::ip::tcp::acceptor& acceptor, const tls::ServerContext& context,
                                 ServerSide& out) {
  auto [aec, socket] = co_await acceptor.async_accept(tuple_awaitable);
  REQUIRE_FALSE(aec);
  std::string banner = "220 go\r\n";
  co_await asio::async_write(socket, asio::buffer(banner), tuple_awaitable);
  tls::ServerStream stream(context, socket);
  out.handshake_error = co_await stream.handshake();
  out.sni = stream.server_name();
  if (out.handshake_error) co_return;
  out.version = stream.version();
  out.cipher = stream.cipher();
  char buffer[512];
  std::string received;
  while (received.find('\n') == std::string::npos) {
    auto [ec, n] = co_await stream.read_some(asio::buffer(buffer));
    if (ec) co_return;
    received.append(buffer, n);
  }
  out.line = received.substr(0, received.find('\r'));
  std::string reply = "250 " + out.line + "\r\n";
  auto [wec, written] = co_await stream.write(asio::buffer(reply));
  CHECK_FALSE(wec);
  CHECK(written == reply.size());
  co_await stream.shutdown();
}

asio::ip::tcp::acceptor listen_local(asio::io_context& io) {
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor;
}

}  // namespace

TEST_SUITE("lab") {

TEST_CASE("tls server: context rejects unusable credentials and options") {
  const tls::Credentials good = leaf("mx.one.test");
  CHECK_NOTHROW(tls::ServerContext{good});

  tls::Credentials garbage = good;
  garbage.cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  CHECK_THROWS_AS(tls::ServerContext{garbage}, std::runtime_error);

  tls::Credentials mismatched = good;
  mismatched.key_pem = leaf("mx.two.test").key_pem;  // another key pair
  try {
    tls::ServerContext context(mismatched);
    FAIL("a key that does not match the certificate was accepted");
  } catch (const std::runtime_error& e) {
    // OpenSSL notices either when loading the key ("key values mismatch") or on the check.
    const std::string what = e.what();
    CHECK_MESSAGE((what.find("mismatch") != std::string::npos || what.find("does not match") != std::string::npos),
                  what);
  }

  tls::ServerOptions bad_ciphers;
  bad_ciphers.cipher_list = "NO-SUCH-CIPHER";
  CHECK_THROWS_AS(tls::ServerContext(good, bad_ciphers), std::runtime_error);
}

TEST_CASE("tls server: STARTTLS-style handshake on a connected socket, then lines over TLS") {
  asio::io_context io;
  auto acceptor = listen_local(io);
  const tls::ServerContext context(leaf("mx.sni.test"));
  ServerSide server;
  asio::co_spawn(io, serve_once(acceptor, context, server), asio::detached);

  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(acceptor.local_endpoint()));
    auto banner = co_await client.read_reply();
    CHECK(banner.code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.sni.test"));
    auto reply = co_await client.command("EHLO client.test");
    CHECK(reply.code == 250);
    CHECK(reply.lines.at(0) == "250 EHLO client.test");
    auto cert = client.peer_certificate();
    REQUIRE(cert);
    CHECK(X509_check_host(cert.get(), "mx.sni.test", 0, 0, nullptr) == 1);
    CHECK(co_await eventually([&] { return !server.line.empty(); }));
  });
  CHECK(server.sni == "mx.sni.test");
  CHECK(server.version == "TLSv1.3");
  CHECK_FALSE(server.cipher.empty());
  CHECK(server.line == "EHLO client.test");
}

TEST_CASE("tls server: max_version TLS 1.2 is what the client gets") {
  asio::io_context io;
  auto acceptor = listen_local(io);
  tls::ServerOptions options;
  options.max_version = tls::ProtocolVersion::tls1_2;
  const tls::ServerContext context(leaf("mx.old.test"), options);
  ServerSide server;
  asio::co_spawn(io, serve_once(acceptor, context, server), asio::detached);

  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(acceptor.local_endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.old.test"));
    CHECK(client.tls_version() == "TLSv1.2");
    CHECK((co_await client.command("NOOP")).code == 250);
  });
  CHECK(server.version == "TLSv1.2");
}

TEST_CASE("tls server: min_version TLS 1.3 refuses a TLS 1.2 client") {
  asio::io_context io;
  auto acceptor = listen_local(io);
  tls::ServerOptions options;
  options.min_version = tls::ProtocolVersion::tls1_3;
  const tls::ServerContext context(leaf("mx.new.test"), options);
  ServerSide server;
  asio::co_spawn(io, serve_once(acceptor, context, server), asio::detached);

  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(acceptor.local_endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK(co_await client.start_tls("mx.new.test", 3s, TLS1_2_VERSION));
    CHECK(co_await eventually([&] { return bool(server.handshake_error); }));
  });
  CHECK(server.version.empty());
}

}  // TEST_SUITE
