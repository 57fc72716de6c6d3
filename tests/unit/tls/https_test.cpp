// The MTA-STS HTTPS fetch: the HTTP/1.1 response parser (Content-Length, chunked, close-
// delimited, redirects refused, media type, bounds) and live fetches against the lab's policy
// server with run-time certificates (verified name, wrong name, unknown CA, timeout).
#include "tls/https_client.hpp"

#include "lab/policy_server.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kib64 = 64 * 1024;

tls::HttpsResponse fetch(const tls::Credentials& served, const std::string& host, const std::string& trust_pem,
                         std::vector<lab::PolicyDocument> docs, std::chrono::milliseconds timeout = 3s) {
  asio::io_context io;
  lab::PolicyServer server(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}, served, std::move(docs));
  server.start();
  tls::HttpsContext context(tls::ClientTlsOptions{.ca_pem = trust_pem});
  tls::HttpsResponse response;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    tls::HttpsRequest request;
    request.host = host;
    request.path = "/.well-known/mta-sts.txt";
    request.addresses = {asio::ip::make_address("127.0.0.1")};
    request.port = server.endpoint().port();
    request.timeout = timeout;
    response = co_await tls::https_get(context, request);
    server.stop();
  }, asio::detached);
  io.run();
  return response;
}

}  // namespace

TEST_SUITE("tls") {

TEST_CASE("HTTP parser: Content-Length, chunked and close-delimited bodies") {
  auto r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", false, kib64);
  CHECK(r.complete);
  CHECK(r.error.empty());
  CHECK(r.body == "hello");
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhel", false, kib64);
  CHECK_FALSE(r.complete);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhel", true, kib64);
  CHECK(r.complete);
  CHECK(r.error.find("before the whole body") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n", false, kib64);
  CHECK(r.complete);
  CHECK(r.body == "abcde");
  r = tls::parse_http_response("HTTP/1.0 200 OK\r\nContent-Type: TEXT/PLAIN; charset=utf-8\r\n\r\nuntil close", true, kib64);
  CHECK(r.error.empty());
  CHECK(r.body == "until close");
}

TEST_CASE("HTTP parser: redirects, other statuses, media types and bounds are errors") {
  auto r = tls::parse_http_response("HTTP/1.1 301 Moved\r\nLocation: https://x.test/\r\n\r\n", false, kib64);
  CHECK(r.complete);
  CHECK(r.error.find("must not follow redirects") != std::string::npos);
  CHECK(r.error.find("https://x.test/") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, kib64);
  CHECK(r.error == "HTTP status 404 (200 needed)");
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi", false, kib64);
  CHECK(r.error.find("not text/plain") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", false, kib64);
  CHECK(r.error.find("not text/plain") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 70000\r\n\r\n", false, kib64);
  CHECK(r.error.find("larger than 64 KiB") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n", false, kib64);
  CHECK(r.error.find("larger than 64 KiB") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, kib64);
  CHECK(r.error.find("malformed chunk size") != std::string::npos);
  r = tls::parse_http_response("SSH-2.0-OpenSSH\r\n\r\n", false, kib64);
  CHECK(r.error.find("not an HTTP/1.x response") != std::string::npos);
  r = tls::parse_http_response(std::string(20000, 'a'), false, kib64);
  CHECK(r.error.find("head larger") != std::string::npos);
  r = tls::parse_http_response("", true, kib64);
  CHECK(r.error.find("without an HTTP response") != std::string::npos);
  r = tls::parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", false, kib64);
  CHECK(r.error == "bad Content-Length");
}

TEST_CASE("policy fetch over HTTPS: verified name, wrong name, unknown CA") {
  const auto ca = tls::CertificateAuthority::create("mxtls https test CA");
  const auto cert = ca.issue({.common_name = "mta-sts.example.test", .dns_names = {"mta-sts.example.test"}});
  const std::vector<lab::PolicyDocument> docs{
      {"mta-sts.example.test", 200, "text/plain", "", "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n", false}};
  auto ok = fetch(cert, "mta-sts.example.test", ca.cert_pem(), docs);
  CHECK_MESSAGE(ok.ok, ok.error);
  CHECK(ok.status == 200);
  CHECK(ok.body.find("mode: enforce") != std::string::npos);

  auto wrong_name = fetch(cert, "mta-sts.other.test", ca.cert_pem(), docs);
  CHECK_FALSE(wrong_name.ok);
  CHECK(wrong_name.error.find("certificate not valid for mta-sts.other.test") != std::string::npos);

  const auto stranger = tls::CertificateAuthority::create("someone else's CA");
  auto unknown_ca = fetch(cert, "mta-sts.example.test", stranger.cert_pem(), docs);
  CHECK_FALSE(unknown_ca.ok);
  CHECK(unknown_ca.error.find("certificate not valid") != std::string::npos);
}

TEST_CASE("policy fetch: nothing listening and a silent server fail within their bounds") {
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // accepts (backlog), never speaks
  const auto ca = tls::CertificateAuthority::create("mxtls https test CA");
  tls::HttpsContext context(tls::ClientTlsOptions{.ca_pem = ca.cert_pem()});
  tls::HttpsResponse response;
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    tls::HttpsRequest request;
    request.host = "mta-sts.example.test";
    request.path = "/.well-known/mta-sts.txt";
    request.addresses = {asio::ip::make_address("127.0.0.1")};
    request.port = silent.local_endpoint().port();
    request.timeout = 300ms;
    response = co_await tls::https_get(context, request);
  }, asio::detached);
  io.run();
  CHECK_FALSE(response.ok);
  CHECK(response.error.find("within 300 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
}

}  // TEST_SUITE
