// The `mxtls listen` receiver driven in-process by a raw client: cleartext and STARTTLS
// sessions (with and without a client certificate), messages and their hops, --save, every
// limit (line, size, sessions, idle), the reverse lookup and its deadline, and the reports.
#include "unit/lab/lab_client.hpp"

#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "listen/receiver.hpp"
#include "listen/session_report.hpp"
#include "report/utf8.hpp"
#include "tls/pki.hpp"

#include <sys/stat.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace mxtls;
using namespace mxtls::lab::test;

const tls::Credentials& server_credentials() {
  static const tls::Credentials credentials = [] {
    tls::CertSpec spec;
    spec.common_name = "listen.unit.test";
    spec.dns_names = {"listen.unit.test"};
    return tls::self_signed(spec);
  }();
  return credentials;
}

const std::string test_message =
    "Received: from app.sender.test (app.sender.test [192.0.2.10])\r\n"
    "\tby relay.sender.test (Postfix) with ESMTP id 1A2B3C\r\n"
    "\tfor <taro@listen.test>; Sun, 22 Nov 2026 20:00:00 +0900 (JST)\r\n"
    "Received: by app.sender.test (Postfix, from userid 1000) id 0F; Sun, 22 Nov 2026 20:00:00 +0900\r\n"
    "Subject: =?UTF-8?B?44OG44K544OI?=\r\n"
    "From: sender@sender.test\r\n"
    "\r\n"
    "..a line that starts with a dot\r\n"
    "last line\r\n";

// A receiver on 127.0.0.1:0 collecting the session reports.
struct Harness {
  asio::io_context io;
  std::vector<listen::SessionReport> reports;
  std::unique_ptr<listen::Receiver> receiver;

  explicit Harness(listen::ReceiverOptions options = base_options()) {
    receiver = std::make_unique<listen::Receiver>(
        io.get_executor(), asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(options),
        [this](const listen::SessionReport& r) { reports.push_back(r); });
    receiver->start();
  }
  static listen::ReceiverOptions base_options() {
    listen::ReceiverOptions o;
    o.hostname = "listen.unit.test";
    o.credentials = server_credentials();
    return o;
  }
  asio::ip::tcp::endpoint endpoint() const { return receiver->endpoint(); }
};

// EHLO … MAIL, RCPT, DATA with `message`, the final reply code.
asio::awaitable<int> send_message(RawClient& c, const std::string& message, bool announce_size = true) {
  const std::string size = announce_size ? " SIZE=" + std::to_string(message.size()) : std::string();
  Reply r = co_await c.command("MAIL FROM:<sender@sender.test>" + size);
  if (r.code != 250) co_return r.code;
  r = co_await c.command("RCPT TO:<taro@listen.test>");
  if (r.code != 250) co_return r.code;
  r = co_await c.command("DATA");
  if (r.code != 354) co_return r.code;
  const std::error_code ec = co_await c.send(message + ".\r\n");
  if (ec) co_return 0;
  Reply done = co_await c.read_reply(5s);
  co_return done.code;
}

}  // namespace

TEST_SUITE("listen") {

TEST_CASE("listen: a cleartext delivery is a red lock with the message's hops and the fix") {
  const auto dir = std::filesystem::temp_directory_path() / ("mxtls-listen-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto options = Harness::base_options();
  options.save_dir = dir.string();
  Harness h(options);
  run(h.io, [&]() -> asio::awaitable<void> {
    RawClient c(h.io.get_executor());
    const std::error_code ec = co_await c.connect(h.endpoint());
    REQUIRE_FALSE(ec);
    Reply greeting = co_await c.read_reply();
    CHECK(greeting.code == 220);
    CHECK(greeting.text().find("listen.unit.test") != std::string::npos);
    Reply ehlo = co_await c.command("EHLO mail.sender.test");
    CHECK(ehlo.code == 250);
    CHECK(ehlo.text().find("STARTTLS") != std::string::npos);
    CHECK(ehlo.text().find("SIZE 10485760") != std::string::npos);
    const int code = co_await send_message(c, test_message);
    CHECK(code == 250);
    Reply bye = co_await c.command("QUIT");
    CHECK(bye.code == 221);
    const bool ended = co_await eventually([&] { return !h.reports.empty(); });
    REQUIRE(ended);
  });
  REQUIRE(h.reports.size() == 1);
  const listen::SessionReport& r = h.reports[0];
  CHECK(r.gmail_lock() == GmailLock::red);
  CHECK_FALSE(r.tls);
  CHECK(r.starttls_offered);
  CHECK_FALSE(r.starttls_requested);
  CHECK(r.ehlo_name == "mail.sender.test");
  CHECK(r.peer_ip == "127.0.0.1");
  CHECK(r.reverse.error == "lookup disabled");
  CHECK(r.end_reason == "quit");
  REQUIRE(r.messages.size() == 1);
  const listen::ReceivedMessage& m = r.messages[0];
  CHECK(m.mail_from == "<sender@sender.test>");
  REQUIRE(m.recipients.size() == 1);
  CHECK(m.recipients[0] == "<taro@listen.test>");
  CHECK(m.size == test_message.size() - 1);  // one dot removed by dot-unstuffing
  REQUIRE(m.hops.size() == 2);
  CHECK(m.hops[0].local);  // pickup, the oldest hop first
  CHECK(m.hops[1].encrypted == mail::Encryption::no);

  // --save: the message with our Received: line on top, private to the owner.
  REQUIRE_FALSE(m.saved_as.empty());
  CHECK(m.save_error.empty());
  struct stat info {};
  REQUIRE(::stat(m.saved_as.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  std::ifstream saved(m.saved_as, std::ios::binary);
  std::stringstream content;
  content << saved.rdbuf();
  const std::string text = content.str();
  CHECK(text.rfind("Received: from mail.sender.test (unknown [127.0.0.1])\r\n\tby listen.unit.test (mxtls listen) with ESMTP", 0) == 0);
  CHECK(text.find("\r\n.a line that starts with a dot\r\n") != std::string::npos);
  const auto reparsed = mail::parse_headers(text);
  REQUIRE(reparsed.hops.size() == 3);
  CHECK(reparsed.hops[2].protocol == "ESMTP");
  CHECK(reparsed.hops[2].encrypted == mail::Encryption::no);
  std::filesystem::remove_all(dir);

  const std::string report = listen::session_text(r, false);
  CHECK(report.find("RED (open lock)") != std::string::npos);
  CHECK(report.find("smtp_tls_security_level = may") != std::string::npos);
  CHECK(report.find("smtp_use_tls = yes") != std::string::npos);
  CHECK(report.find("smtp_tls_loglevel = 1") != std::string::npos);
  CHECK(report.find("offered in the EHLO reply, not used by the sender") != std::string::npos);
  const std::string json = listen::session_json(r);
  CHECK(json.find("\"gmail_lock\":\"red\"") != std::string::npos);
  CHECK(json.find("\"starttls\":false") != std::string::npos);
  CHECK(json.find("\"tls_version\":null") != std::string::npos);
  CHECK(json.find("\"fix\":[\"Postfix 2.3 and later") != std::string::npos);
}

TEST_CASE("listen: STARTTLS is a grey lock with version, cipher and group; EHLO starts over") {
  Harness h;
  run(h.io, [&]() -> asio::awaitable<void> {
    RawClient c(h.io.get_executor());
    const std::error_code ec = co_await c.connect(h.endpoint());
    REQUIRE_FALSE(ec);
    Reply greeting = co_await c.read_reply();
    CHECK(greeting.code == 220);
    Reply ehlo = co_await c.command("EHLO mail.sender.test");
    CHECK(ehlo.code == 250);
    Reply go = co_await c.command("STARTTLS");
    CHECK(go.code == 220);
    const std::error_code tls_error = co_await c.start_tls("listen.unit.test");
    REQUIRE_FALSE(tls_error);
    Reply early = co_await c.command("MAIL FROM:<a@sender.test>");
    CHECK(early.code == 503);  // RFC 3207: EHLO again after TLS
    Reply again = co_await c.command("EHLO mail.sender.test");
    CHECK(again.code == 250);
    CHECK(again.text().find("STARTTLS") == std::string::npos);
    Reply twice = co_await c.command("STARTTLS");
    CHECK(twice.code == 554);
    const int code = co_await send_message(c, test_message);
    CHECK(code == 250);
    Reply bye = co_await c.command("QUIT");
    CHECK(bye.code == 221);
    const bool ended = co_await eventually([&] { return !h.reports.empty(); });
    REQUIRE(ended);
  });
  REQUIRE(h.reports.size() == 1);
  const listen::SessionReport& r = h.reports[0];
  CHECK(r.gmail_lock() == GmailLock::grey);
  REQUIRE(r.tls);
  CHECK(r.starttls_requested);
  CHECK(r.tls->version == "TLSv1.3");
  CHECK(r.tls->cipher.rfind("TLS_", 0) == 0);
  CHECK_FALSE(r.tls->group.empty());
  CHECK(r.tls->cipher_bits >= 128);
  CHECK_FALSE(r.tls->cert);  // the raw client sends no certificate
  CHECK(r.sni == "listen.unit.test");
  REQUIRE(r.messages.size() == 1);
  CHECK(h.receiver->counters().tls_sessions == 1);

  const std::string report = listen::session_text(r, false);
  CHECK(report.find("GREY (closed lock)") != std::string::npos);
  CHECK(report.find(r.tls->version + ", " + r.tls->cipher) != std::string::npos);
  CHECK(report.find("client cert    none sent") != std::string::npos);
  CHECK(report.find("smtp_tls_security_level") == std::string::npos);
  const std::string json = listen::session_json(r);
  CHECK(json.find("\"gmail_lock\":\"grey\"") != std::string::npos);
  CHECK(json.find("\"tls_version\":\"TLSv1.3\"") != std::string::npos);
  CHECK(json.find("\"fix\":null") != std::string::npos);
}

TEST_CASE("listen: a client certificate is reported with subject, issuer and SHA-256") {
  Harness h;
  tls::CertSpec spec;
  spec.common_name = "mail.sender.test";
  spec.dns_names = {"mail.sender.test"};
  const tls::Credentials client = tls::self_signed(spec);
  run(h.io, [&]() -> asio::awaitable<void> {
    RawClient c(h.io.get_executor());
    const std::error_code ec = co_await c.connect(h.endpoint());
    REQUIRE_FALSE(ec);
    Reply greeting = co_await c.read_reply();
    CHECK(greeting.code == 220);
    Reply ehlo = co_await c.command("EHLO mail.sender.test");
    CHECK(ehlo.code == 250);
    Reply go = co_await c.command("STARTTLS");
    CHECK(go.code == 220);
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_verify_mode(asio::ssl::verify_none);
    context.use_certificate_chain(asio::buffer(client.cert_pem));
    context.use_private_key(asio::buffer(client.key_pem), asio::ssl::context::pem);
    asio::ssl::stream<asio::ip::tcp::socket&> stream(c.socket(), context);
    auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
    REQUIRE_FALSE(handshake_error);
    const std::string quit = "QUIT\r\n";
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(quit), tuple_awaitable);
    CHECK_FALSE(write_error);
    const bool ended = co_await eventually([&] { return !h.reports.empty(); });
    REQUIRE(ended);
  });
  REQUIRE(h.reports.size() == 1);
  const listen::SessionReport& r = h.reports[0];
  REQUIRE(r.tls);
  REQUIRE(r.tls->cert);
  CHECK(r.tls->cert->subject.find("CN=mail.sender.test") != std::string::npos);
  CHECK(r.tls->cert->sha256 == tls::certificate_sha256(client.cert_pem));
  CHECK(r.messages.empty());
  const std::string report = listen::session_text(r, false);
  CHECK(report.find("subject CN=mail.sender.test") != std::string::npos);
  CHECK(report.find("message        none received") != std::string::npos);
  CHECK(listen::session_json(r).find("\"client_cert_sha256\":\"" + r.tls->cert->sha256 + "\"") != std::string::npos);
}

TEST_CASE("listen: size limits, long lines, command order and pipelined plaintext after STARTTLS") {
  auto options = Harness::base_options();
  options.max_message_bytes = 2048;
  Harness h(options);
  run(h.io, [&]() -> asio::awaitable<void> {
    RawClient c(h.io.get_executor());
    const std::error_code ec = co_await c.connect(h.endpoint());
    REQUIRE_FALSE(ec);
    Reply greeting = co_await c.read_reply();
    CHECK(greeting.code == 220);
    Reply early = co_await c.command("MAIL FROM:<a@b.test>");
    CHECK(early.code == 503);
    Reply no_name = co_await c.command("EHLO");
    CHECK(no_name.code == 501);
    Reply ehlo = co_await c.command("EHLO mail.sender.test");
    CHECK(ehlo.code == 250);
    Reply announced = co_await c.command("MAIL FROM:<a@b.test> SIZE=999999");
    CHECK(announced.code == 552);
    Reply data_first = co_await c.command("DATA");
    CHECK(data_first.code == 503);
    const int big = co_await send_message(c, "Subject: big\r\n\r\n" + std::string(3000, 'x') + "\r\n", false);
    CHECK(big == 552);
    const int small = co_await send_message(c, "Subject: small\r\n\r\nok\r\n");
    CHECK(small == 250);  // the session goes on after a refused message
    Reply unknown = co_await c.command("XYZZY");
    CHECK(unknown.code == 500);
    // STARTTLS with a command pipelined behind it in cleartext: dropped, never executed.
    co_await c.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
    Reply go = co_await c.read_reply();
    CHECK(go.code == 220);
    const std::error_code tls_error = co_await c.start_tls("listen.unit.test");
    REQUIRE_FALSE(tls_error);
    Reply again = co_await c.command("EHLO mail.sender.test");
    CHECK(again.code == 250);
    Reply too_long = co_await c.command("NOOP " + std::string(2000, 'a'));
    CHECK(too_long.code == 500);
    const bool ended = co_await eventually([&] { return !h.reports.empty(); });
    REQUIRE(ended);
  });
  REQUIRE(h.reports.size() == 1);
  const listen::SessionReport& r = h.reports[0];
  CHECK(r.end_reason == "command line too long");
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0].size == 22);
  REQUIRE(r.rejected.size() == 2);
  CHECK(r.rejected[0].find("SIZE=999999") != std::string::npos);
  CHECK(r.rejected[1] == "message larger than 2048 bytes");
  CHECK(r.discarded_before_tls == std::string("MAIL FROM:<injected@evil.test>\r\n").size());
  CHECK(listen::session_text(r, false).find("bytes sent in cleartext right after STARTTLS were discarded") !=
        std::string::npos);
}

TEST_CASE("listen: idle timeout, session cap and a receiver without a certificate") {
  auto options = Harness::base_options();
  options.credentials.reset();
  options.command_timeout = std::chrono::milliseconds(200);
  options.max_sessions = 1;
  Harness h(options);
  run(h.io, [&]() -> asio::awaitable<void> {
    RawClient first(h.io.get_executor());
    const std::error_code ec = co_await first.connect(h.endpoint());
    REQUIRE_FALSE(ec);
    Reply greeting = co_await first.read_reply();
    CHECK(greeting.code == 220);
    Reply ehlo = co_await first.command("EHLO mail.sender.test");
    CHECK(ehlo.text().find("STARTTLS") == std::string::npos);
    Reply refused = co_await first.command("STARTTLS");
    CHECK(refused.code == 502);

    RawClient second(h.io.get_executor());
    const std::error_code ec2 = co_await second.connect(h.endpoint());
    REQUIRE_FALSE(ec2);
    Reply busy = co_await second.read_reply();
    CHECK(busy.code == 421);

    Reply timeout = co_await first.read_reply(3s);  // say nothing: the receiver gives up
    CHECK(timeout.code == 421);
    const bool ended = co_await eventually([&] { return !h.reports.empty(); });
    REQUIRE(ended);
  });
  REQUIRE(h.reports.size() == 1);
  CHECK(h.reports[0].end_reason == "idle timeout");
  CHECK_FALSE(h.reports[0].starttls_offered);
  CHECK(h.receiver->counters().rejected_busy == 1);
  CHECK(listen::session_text(h.reports[0], false).find("not offered (mxtls listen has no certificate)") !=
        std::string::npos);
}

TEST_CASE("listen: the reverse name comes from the lookup, a slow lookup is cut at its deadline") {
  auto options = Harness::base_options();
  options.reverse_lookup = [](asio::ip::address address) -> asio::awaitable<listen::ReverseName> {
    listen::ReverseName name;
    name.name = "host-" + address.to_string() + ".sender.test";
    co_return name;
  };
  Harness h(options);
  auto slow = Harness::base_options();
  slow.reverse_timeout = std::chrono::milliseconds(100);
  slow.reverse_lookup = [](asio::ip::address) -> asio::awaitable<listen::ReverseName> {
    co_await sleep_for(10s);
    co_return listen::ReverseName{"never.test", ""};
  };
  Harness h_slow(slow);
  for (Harness* harness : {&h, &h_slow}) {
    run(harness->io, [&]() -> asio::awaitable<void> {
      RawClient c(harness->io.get_executor());
      const std::error_code ec = co_await c.connect(harness->endpoint());
      REQUIRE_FALSE(ec);
      Reply greeting = co_await c.read_reply();
      CHECK(greeting.code == 220);
      Reply bye = co_await c.command("QUIT");
      CHECK(bye.code == 221);
      const bool ended = co_await eventually([&] { return !harness->reports.empty(); });
      REQUIRE(ended);
    });
  }
  REQUIRE(h.reports.size() == 1);
  CHECK(h.reports[0].reverse.name == "host-127.0.0.1.sender.test");
  REQUIRE(h_slow.reports.size() == 1);
  CHECK(h_slow.reports[0].reverse.name.empty());
  CHECK(h_slow.reports[0].reverse.error == "no answer within 100 ms");
  CHECK(h_slow.reports[0].elapsed_ms < 5000);
}

TEST_CASE("listen: Resolver::ptr reads the PTR name, NXDOMAIN is an outcome") {
  asio::io_context io;
  dns::ZoneServer zone(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0,
                       "$TTL 60\n$ORIGIN 0.0.127.in-addr.arpa.\n@ IN SOA ns admin 1 3600 600 86400 300\n"
                       "9 IN PTR mail.sender.test.\n");
  zone.start();
  dns::ResolverConfig config;
  config.servers = {zone.endpoint()};
  config.timeout = std::chrono::milliseconds(1000);
  config.attempts = 1;
  dns::Resolver resolver(io.get_executor(), config);
  dns::PtrAnswer found, missing;
  run(io, [&]() -> asio::awaitable<void> {
    found = co_await resolver.ptr(asio::ip::make_address("127.0.0.9"));
    missing = co_await resolver.ptr(asio::ip::make_address("127.0.0.10"));
  });
  CHECK(found.outcome == dns::Outcome::ok);
  REQUIRE(found.names.size() == 1);
  CHECK(found.names[0] == "mail.sender.test");
  CHECK(missing.outcome == dns::Outcome::nxdomain);
  CHECK(missing.names.empty());
  zone.stop();
}

TEST_CASE("listen: hostile EHLO names and headers stay printable in text and JSON") {
  listen::SessionReport r;
  r.number = 7;
  r.peer_ip = "127.0.0.1";
  r.ehlo_name = "evil\x1b[31m\xe4\xbe\x8b\xff";
  r.reverse.error = "lookup disabled";
  listen::ReceivedMessage m;
  m.hops = mail::parse_headers("Received: from \xe4\xbe\x8b.test (x [192.0.2.1]) by y.test with ESMTP; now\r\n\r\n").hops;
  r.messages.push_back(m);
  const std::string text = listen::session_text(r, false);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(report::sanitize_utf8(text) == text);
  const std::string json = listen::session_json(r);
  CHECK(json.find('\x1b') == std::string::npos);
  CHECK(report::sanitize_utf8(json) == json);
}

}  // TEST_SUITE
