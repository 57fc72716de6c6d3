// The lab's personality SMTP server, talked to with a raw client: each personality behaves as
// specified, lines are bounded, sessions time out and end, and MAIL/RCPT/DATA are counted.
#include "unit/lab/lab_client.hpp"

#include "lab/smtp_server.hpp"
#include "tls/pki.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace {

using namespace mxtls;
using namespace mxtls::lab;
using namespace mxtls::lab::test;

const tls::Credentials& good_credentials() {
  static const tls::Credentials credentials = [] {
    auto authority = tls::CertificateAuthority::create("mxtls smtp-server test CA");
    tls::CertSpec spec;
    spec.common_name = "mx.unit.test";
    spec.dns_names = {"mx.unit.test"};
    return authority.issue(spec);
  }();
  return credentials;
}

SmtpServerOptions options_for(Personality p) {
  SmtpServerOptions options;
  options.personality = p;
  options.hostname = "mx.unit.test";
  if (personality_serves_tls(p)) options.credentials = good_credentials();
  options.idle_timeout = 3s;
  options.session_timeout = 6s;
  options.drip_interval = 20ms;
  return options;
}

// Unit tests use 127.25.1.0/24 and port 0: clear of the fleet's 127.25.0.x defaults.
asio::ip::tcp::endpoint test_endpoint() { return {asio::ip::make_address("127.25.1.1"), 0}; }

bool has_line(const Reply& reply, const std::string& keyword) {
  return std::any_of(reply.lines.begin(), reply.lines.end(),
                     [&](const std::string& line) { return line.size() > 4 && line.substr(4) == keyword; });
}

}  // namespace

TEST_SUITE("lab") {

TEST_CASE("smtp server: personality names and construction rules") {
  for (Personality p : all_personalities()) {
    CHECK(personality_from_string(to_string(p)) == p);
  }
  CHECK_FALSE(personality_from_string("nonsense"));
  asio::io_context io;
  CHECK_THROWS_AS(SmtpServer(io.get_executor(), test_endpoint(), options_for(Personality::refuse)),
                  std::invalid_argument);
  SmtpServerOptions no_credentials = options_for(Personality::good);
  no_credentials.credentials.reset();
  CHECK_THROWS_AS(SmtpServer(io.get_executor(), test_endpoint(), no_credentials), std::invalid_argument);
}

TEST_CASE("smtp server: good personality, full session, MAIL/RCPT/DATA refused and counted") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::good));
  server.start();
  REQUIRE(server.endpoint().port() != 0);

  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    auto banner = co_await client.read_reply();
    CHECK(banner.code == 220);
    CHECK(banner.lines.at(0).rfind("220 mx.unit.test ESMTP", 0) == 0);

    auto ehlo = co_await client.command("EHLO client.test");
    REQUIRE(ehlo.code == 250);
    CHECK(ehlo.lines.size() > 5);
    CHECK(ehlo.lines.at(0) == "250-mx.unit.test");
    const std::vector<std::string> keywords = {"PIPELINING", "SIZE 10240000", "STARTTLS", "ENHANCEDSTATUSCODES",
                                               "8BITMIME"};
    for (const std::string& keyword : keywords)
      CHECK_MESSAGE(has_line(ehlo, keyword), keyword.c_str());
    CHECK_FALSE(has_line(ehlo, "AUTH PLAIN LOGIN"));

    CHECK((co_await client.command("STARTTLS")).code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.unit.test"));
    CHECK(client.tls_version() == "TLSv1.3");

    auto ehlo2 = co_await client.command("EHLO client.test");
    CHECK(ehlo2.code == 250);
    CHECK_FALSE(has_line(ehlo2, "STARTTLS"));  // not offered again under TLS
    CHECK((co_await client.command("STARTTLS")).code == 554);
    CHECK((co_await client.command("NOOP")).code == 250);
    CHECK((co_await client.command("RSET")).code == 250);
    CHECK((co_await client.command("MAIL FROM:<a@client.test>")).code == 502);
    CHECK((co_await client.command("RCPT TO:<b@unit.test>")).code == 502);
    CHECK((co_await client.command("DATA")).code == 502);
    CHECK((co_await client.command("VRFY postmaster")).code == 502);
    CHECK((co_await client.command("XYZZY")).code == 500);
    CHECK((co_await client.command("QUIT")).code == 221);
    client.close();
    CHECK(co_await eventually([&] { return server.counters().active == 0; }));
  });

  const SmtpCounters c = server.counters();
  CHECK(c.sessions == 1);
  CHECK(c.ehlo == 2);
  CHECK(c.starttls == 2);
  CHECK(c.tls_handshakes == 1);
  CHECK(c.tls_failures == 0);
  CHECK(c.mail_commands == 3);
  CHECK(c.quits == 1);
  const auto transcripts = server.transcripts();
  REQUIRE(transcripts.size() == 1);
  const SessionTranscript& t = transcripts[0];
  CHECK(t.tls);
  CHECK(t.tls_version == "TLSv1.3");
  CHECK(t.sni == "mx.unit.test");
  CHECK(t.end_reason == "quit");
  REQUIRE(t.received.size() >= 4);
  CHECK(t.received[0] == "EHLO client.test");
  CHECK(t.received[1] == "STARTTLS");
  CHECK(t.received[2] == "[TLS] EHLO client.test");
  CHECK(t.received.back() == "[TLS] QUIT");
}

TEST_CASE("smtp server: no_starttls, starttls_454, auth_plain_before_tls and greeting_554") {
  asio::io_context io;
  SmtpServer plain(io.get_executor(), test_endpoint(), options_for(Personality::no_starttls));
  SmtpServer refusing(io.get_executor(), test_endpoint(), options_for(Personality::starttls_454));
  SmtpServer auth(io.get_executor(), test_endpoint(), options_for(Personality::auth_plain_before_tls));
  SmtpServer rejecting(io.get_executor(), test_endpoint(), options_for(Personality::greeting_554));
  for (SmtpServer* s : {&plain, &refusing, &auth, &rejecting}) s->start();

  run(io, [&]() -> asio::awaitable<void> {
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(plain.endpoint()));
      CHECK((co_await client.read_reply()).code == 220);
      auto ehlo = co_await client.command("EHLO client.test");
      CHECK(ehlo.code == 250);
      CHECK(has_line(ehlo, "PIPELINING"));
      CHECK_FALSE(has_line(ehlo, "STARTTLS"));
      CHECK((co_await client.command("STARTTLS")).code == 502);
      CHECK((co_await client.command("HELO client.test")).code == 250);
      CHECK((co_await client.command("QUIT")).code == 221);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(refusing.endpoint()));
      CHECK((co_await client.read_reply()).code == 220);
      CHECK(has_line(co_await client.command("EHLO client.test"), "STARTTLS"));
      auto reply = co_await client.command("STARTTLS");
      CHECK(reply.code == 454);
      CHECK(reply.lines.at(0) == "454 4.7.0 TLS not available due to local problem");
      CHECK((co_await client.command("EHLO client.test")).code == 250);  // the session goes on in plaintext
      CHECK((co_await client.command("QUIT")).code == 221);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(auth.endpoint()));
      CHECK((co_await client.read_reply()).code == 220);
      auto ehlo = co_await client.command("EHLO client.test");
      CHECK(has_line(ehlo, "AUTH PLAIN LOGIN"));
      CHECK(has_line(ehlo, "STARTTLS"));
      CHECK((co_await client.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==")).code == 535);
      CHECK((co_await client.command("STARTTLS")).code == 220);
      REQUIRE_FALSE(co_await client.start_tls("mx.unit.test"));
      CHECK((co_await client.command("QUIT")).code == 221);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(rejecting.endpoint()));
      auto banner = co_await client.read_reply();
      CHECK(banner.code == 554);
      CHECK((co_await client.command("EHLO client.test")).code == 503);
      CHECK((co_await client.command("MAIL FROM:<>")).code == 502);
      CHECK((co_await client.command("QUIT")).code == 221);
    }
  });
  CHECK(refusing.counters().tls_handshakes == 0);
  CHECK(auth.counters().tls_handshakes == 1);
  CHECK(rejecting.counters().mail_commands == 1);
}

TEST_CASE("smtp server: injection sends extra plaintext after the 220, before the handshake") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::injection));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK((co_await client.command("EHLO client.test")).code == 250);
    auto ready = co_await client.command("STARTTLS");
    CHECK(ready.code == 220);
    // Both replies came in one write; whatever the reader split, the extra line is there
    // before any TLS byte.
    auto injected = co_await client.read_line(1s);
    REQUIRE(injected);
    CHECK(*injected == "250 2.0.0 injected before TLS");
    CHECK(client.buffered().empty());
    REQUIRE_FALSE(co_await client.start_tls("mx.unit.test"));
    CHECK((co_await client.command("EHLO client.test")).code == 250);
    CHECK((co_await client.command("QUIT")).code == 221);
  });
  CHECK(server.counters().tls_handshakes == 1);
}

TEST_CASE("smtp server: plaintext pipelined after STARTTLS is discarded, not run under TLS") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::good));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK((co_await client.command("EHLO client.test")).code == 250);
    co_await client.send("STARTTLS\r\nEHLO evil\r\n");  // one write, one segment on loopback
    CHECK((co_await client.read_reply()).code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.unit.test"));
    CHECK((co_await client.command("QUIT")).code == 221);  // "EHLO evil" was never answered
    client.close();
    CHECK(co_await eventually([&] { return server.counters().active == 0; }));
  });
  const auto transcripts = server.transcripts();
  REQUIRE(transcripts.size() == 1);
  CHECK(transcripts[0].discarded_before_tls == std::string("EHLO evil\r\n").size());
  CHECK(transcripts[0].received.back() == "[TLS] QUIT");
  CHECK(server.counters().ehlo == 1);
}

TEST_CASE("smtp server: tarpit says nothing and ends when the client leaves") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::tarpit));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    co_await client.send("EHLO anyone\r\n");
    CHECK(co_await client.read_some(300ms) == 0);
    CHECK(client.buffered().empty());
    CHECK(server.counters().active == 1);
    client.close();
    CHECK(co_await eventually([&] { return server.counters().active == 0; }));
  });
  CHECK(server.transcripts().at(0).end_reason == "peer closed");
}

TEST_CASE("smtp server: garbage banner is binary bytes, then the connection closes") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::garbage_banner));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    while (co_await client.read_some(2s) > 0) {
    }
    CHECK(client.last_error() == asio::error::eof);
    const std::string& bytes = client.buffered();
    CHECK(bytes.size() == 514);
    CHECK(bytes.find('\0') != std::string::npos);
    CHECK(bytes.find('\xff') != std::string::npos);
    CHECK(bytes.substr(bytes.size() - 2) == "\r\n");
    CHECK(bytes.find('\n') == bytes.size() - 1);
  });
}

TEST_CASE("smtp server: drip sends the banner one byte per interval and never finishes it") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::drip));  // 20 ms
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    const auto start = std::chrono::steady_clock::now();
    std::size_t reads = 0;
    while (client.buffered().size() < 6) {
      const std::size_t n = co_await client.read_some(1s);
      REQUIRE(n > 0);
      CHECK(n == 1);
      ++reads;
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(reads == 6);
    CHECK(client.buffered() == "220-mx");
    CHECK(elapsed >= 80ms);  // five intervals of 20 ms between the six bytes
    client.close();
    CHECK(co_await eventually([&] { return server.counters().active == 0; }));
  });
}

TEST_CASE("smtp server: close_mid_handshake reads the ClientHello and hangs up") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::close_mid_handshake));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK(has_line(co_await client.command("EHLO client.test"), "STARTTLS"));
    CHECK((co_await client.command("STARTTLS")).code == 220);
    auto ec = co_await client.start_tls("mx.unit.test");
    CHECK(ec);
    CHECK(ec != asio::error::timed_out);
  });
  CHECK(server.counters().tls_failures == 1);
  CHECK(server.counters().tls_handshakes == 0);
}

TEST_CASE("smtp server: an over-long line is refused and the session ends") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::no_starttls));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    // 999 bytes + CRLF is one too many (1000 including CRLF is the limit).
    auto reply = co_await client.command("NOOP " + std::string(994, 'x'));
    CHECK(reply.code == 500);
    CHECK(co_await client.read_some(2s) == 0);
    CHECK(client.last_error() == asio::error::eof);
  });
  CHECK(server.transcripts().at(0).end_reason == "line too long");
}

TEST_CASE("smtp server: a line of exactly 1000 bytes with CRLF is accepted") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::no_starttls));
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK((co_await client.command("NOOP " + std::string(993, 'x'))).code == 250);
    CHECK((co_await client.command("QUIT")).code == 221);
  });
}

TEST_CASE("smtp server: idle and session deadlines end sessions") {
  asio::io_context io;
  SmtpServerOptions idle = options_for(Personality::good);
  idle.idle_timeout = 100ms;
  SmtpServer chatty(io.get_executor(), test_endpoint(), idle);
  SmtpServerOptions short_session = options_for(Personality::tarpit);
  short_session.session_timeout = 150ms;
  SmtpServer tarpit(io.get_executor(), test_endpoint(), short_session);
  SmtpServerOptions short_drip = options_for(Personality::drip);
  short_drip.session_timeout = 150ms;
  SmtpServer drip(io.get_executor(), test_endpoint(), short_drip);
  for (SmtpServer* s : {&chatty, &tarpit, &drip}) s->start();

  run(io, [&]() -> asio::awaitable<void> {
    RawClient a(io.get_executor()), b(io.get_executor()), c(io.get_executor());
    REQUIRE_FALSE(co_await a.connect(chatty.endpoint()));
    REQUIRE_FALSE(co_await b.connect(tarpit.endpoint()));
    REQUIRE_FALSE(co_await c.connect(drip.endpoint()));
    CHECK((co_await a.read_reply()).code == 220);
    auto timeout = co_await a.read_reply(2s);  // the client says nothing
    CHECK(timeout.code == 421);
    CHECK(co_await b.read_some(2s) == 0);
    CHECK(b.last_error() == asio::error::eof);
    while (co_await c.read_some(2s) > 0) {
    }
    CHECK(c.last_error() == asio::error::eof);
  });
  CHECK(chatty.counters().timeouts == 1);
  CHECK(tarpit.counters().timeouts == 1);
  CHECK(drip.counters().timeouts == 1);
}

TEST_CASE("smtp server: several sessions at once, and the max_sessions limit") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::good));
  SmtpServerOptions one = options_for(Personality::tarpit);
  one.max_sessions = 1;
  SmtpServer busy(io.get_executor(), test_endpoint(), one);
  server.start();
  busy.start();

  run(io, [&]() -> asio::awaitable<void> {
    int finished = 0;
    auto session = [&](int i) -> asio::awaitable<void> {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(server.endpoint()));
      CHECK((co_await client.read_reply()).code == 220);
      CHECK((co_await client.command("EHLO c" + std::to_string(i) + ".test")).code == 250);
      CHECK((co_await client.command("STARTTLS")).code == 220);
      CHECK_FALSE(co_await client.start_tls("mx.unit.test"));
      CHECK((co_await client.command("QUIT")).code == 221);
      ++finished;
    };
    auto executor = co_await asio::this_coro::executor;
    for (int i = 0; i < 8; ++i) asio::co_spawn(executor, session(i), asio::detached);
    CHECK(co_await eventually([&] { return server.counters().active >= 2 || finished == 8; }));
    CHECK(co_await eventually([&] { return finished == 8; }, 8s));

    RawClient first(io.get_executor()), second(io.get_executor());
    REQUIRE_FALSE(co_await first.connect(busy.endpoint()));
    CHECK(co_await eventually([&] { return busy.counters().active == 1; }));
    REQUIRE_FALSE(co_await second.connect(busy.endpoint()));
    auto reply = co_await second.read_reply();
    CHECK(reply.code == 421);
    CHECK(co_await second.read_some(1s) == 0);
  }, 15s);
  CHECK(server.counters().sessions == 8);
  CHECK(server.counters().tls_handshakes == 8);
  CHECK(busy.counters().rejected_busy == 1);
}

TEST_CASE("smtp server: stop closes running sessions; a taken address is reported") {
  asio::io_context io;
  SmtpServer server(io.get_executor(), test_endpoint(), options_for(Personality::tarpit));
  server.start();
  SmtpServer twin(io.get_executor(), server.endpoint(), options_for(Personality::tarpit));
  try {
    twin.start();
    FAIL("a second server bound the same address and port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("127.25.1.1:" + std::to_string(server.endpoint().port())) !=
          std::string::npos);
  }
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(server.endpoint()));
    CHECK(co_await eventually([&] { return server.counters().active == 1; }));
    server.stop();
    CHECK(co_await client.read_some(2s) == 0);
    CHECK(co_await eventually([&] { return server.counters().active == 0; }));
    RawClient late(io.get_executor());
    CHECK(co_await late.connect(server.endpoint()) == asio::error::connection_refused);
  });
}

}  // TEST_SUITE
