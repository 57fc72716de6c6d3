// The scripted fake SMTP server (tests/fakes): steps run in order, mismatches are reported,
// TLS works, and everything the client sends is recorded (MAIL/RCPT/DATA detection included).
#include "unit/lab/lab_client.hpp"

#include "fakes/scripted_smtp.hpp"
#include "tls/pki.hpp"

#include <doctest/doctest.h>

namespace {

using namespace mxtls;
using namespace mxtls::fakes;
using namespace mxtls::lab::test;

const tls::Credentials& fake_credentials() {
  static const tls::Credentials credentials = [] {
    tls::CertSpec spec;
    spec.common_name = "mx.fake.test";
    spec.dns_names = {"mx.fake.test"};
    return tls::self_signed(spec);
  }();
  return credentials;
}

ScriptedSmtpOptions quick() {
  ScriptedSmtpOptions options;
  options.step_timeout = 2s;
  options.drain_timeout = 500ms;
  return options;
}

}  // namespace

TEST_SUITE("lab") {

TEST_CASE("scripted fake: a plain session runs every step and records the client's lines") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(), plain_session("mx.plain.test"), quick());
  fake.start();
  CHECK(fake.endpoint().address().to_string() == "127.0.0.1");
  CHECK(fake.port() != 0);

  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    auto banner = co_await client.read_reply();
    CHECK(banner.code == 220);
    CHECK(banner.lines.at(0) == "220 mx.plain.test ESMTP fake");
    auto ehlo = co_await client.command("ehlo client.test");  // expect_prefix ignores case
    CHECK(ehlo.code == 250);
    CHECK(ehlo.lines.size() == 3);
    CHECK((co_await client.command("QUIT")).code == 221);
    client.close();
    CHECK(co_await fake.wait_finished(1, 2s));
  });

  const auto sessions = fake.sessions();
  REQUIRE(sessions.size() == 1);
  const FakeSession& s = sessions[0];
  CHECK(s.completed);
  CHECK(s.failure.empty());
  CHECK(s.steps_done == 5);
  CHECK(s.peer_closed);
  CHECK_FALSE(s.tls);
  CHECK(s.lines() == std::vector<std::string>{"ehlo client.test", "QUIT"});
  CHECK_FALSE(s.sent_mail_commands());
  CHECK_FALSE(fake.client_sent_mail_commands());
}

TEST_CASE("scripted fake: a mismatch stops the script, and late commands are still recorded") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(),
                    Script{step::reply("220 mx.fake.test ESMTP"), step::expect_prefix("EHLO "),
                           step::reply("250 mx.fake.test")},
                    quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    co_await client.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<b@fake.test>\r\n");
    CHECK((co_await client.read_reply(300ms)).code == 0);  // the fake says nothing more
    client.close();
    CHECK(co_await fake.wait_finished(1, 2s));
  });
  const FakeSession s = fake.sessions().at(0);
  CHECK_FALSE(s.completed);
  CHECK(s.steps_done == 1);
  CHECK(s.failure == "step 2 (expect_prefix \"EHLO \"): got \"MAIL FROM:<a@client.test>\"");
  CHECK(s.lines() == std::vector<std::string>{"MAIL FROM:<a@client.test>", "RCPT TO:<b@fake.test>"});
  CHECK(s.sent_mail_commands());
  CHECK(fake.client_sent_mail_commands());
}

TEST_CASE("scripted fake: commands sent after the script ended are recorded while draining") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(), Script{step::reply("220 mx.fake.test ESMTP")}, quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    co_await client.send("data\r\n");
    co_await sleep_for(50ms);
    client.close();
    CHECK(co_await fake.wait_finished(1, 2s));
  });
  const FakeSession s = fake.sessions().at(0);
  CHECK(s.completed);
  CHECK(s.sent_mail_commands());  // "data" in lower case counts too
}

TEST_CASE("scripted fake: STARTTLS session with the given credentials") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(), starttls_session(fake_credentials()), quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    auto ehlo = co_await client.command("EHLO client.test");
    CHECK(ehlo.lines.at(3) == "250-STARTTLS");
    CHECK((co_await client.command("STARTTLS")).code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.fake.test"));
    auto cert = client.peer_certificate();
    REQUIRE(cert);
    CHECK(X509_check_host(cert.get(), "mx.fake.test", 0, 0, nullptr) == 1);
    CHECK((co_await client.command("EHLO client.test")).code == 250);
    CHECK((co_await client.command("QUIT")).code == 221);
    client.close();
    CHECK(co_await fake.wait_finished(1, 2s));
  });
  const FakeSession s = fake.sessions().at(0);
  CHECK(s.failure.empty());
  CHECK(s.completed);
  CHECK(s.tls);
  CHECK(s.tls_version == "TLSv1.3");
  CHECK(s.sni == "mx.fake.test");
  CHECK(s.received_plain == "EHLO client.test\r\nSTARTTLS\r\n");
  CHECK(s.received_tls == "EHLO client.test\r\nQUIT\r\n");
}

TEST_CASE("scripted fake: TLS options reach the handshake; unusable credentials fail early") {
  tls::ServerOptions tls12;
  tls12.max_version = tls::ProtocolVersion::tls1_2;
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(),
                    Script{step::reply("220 ready"), step::expect("STARTTLS"), step::reply("220 go"),
                           step::start_tls(fake_credentials(), tls12), step::expect("QUIT"), step::reply("221 bye")},
                    quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK((co_await client.command("STARTTLS")).code == 220);
    REQUIRE_FALSE(co_await client.start_tls("mx.fake.test"));
    CHECK(client.tls_version() == "TLSv1.2");
    CHECK((co_await client.command("QUIT")).code == 221);
  });
  CHECK(fake.sessions().at(0).tls_version == "TLSv1.2");

  tls::Credentials broken = fake_credentials();
  broken.key_pem = "not a key";
  CHECK_THROWS_AS(step::start_tls(broken), std::runtime_error);
}

TEST_CASE("scripted fake: drip, garbage and close") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(),
                    Script{step::drip("220 x\r\n", 10ms), step::garbage(200000), step::close()}, quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    const auto start = std::chrono::steady_clock::now();
    auto first = co_await client.read_line(2s);
    REQUIRE(first);
    CHECK(*first == "220 x");
    CHECK(std::chrono::steady_clock::now() - start >= 40ms);  // six gaps of 10 ms
    while (co_await client.read_some(2s) > 0) {
    }
    CHECK(client.last_error() == asio::error::eof);
    CHECK(client.buffered().size() == 200000);
    CHECK(client.buffered().find_first_of("\r\n") == std::string::npos);
  });
  const FakeSession s = fake.sessions().at(0);
  CHECK(s.completed);
  CHECK(s.failure.empty());
}

TEST_CASE("scripted fake: read_bytes takes the ClientHello, then the fake hangs up mid-handshake") {
  asio::io_context io;
  ScriptedSmtp fake(io.get_executor(),
                    Script{step::reply("220 ready"), step::expect("STARTTLS"), step::reply("220 go"),
                           step::read_bytes(16384), step::close()},
                    quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK((co_await client.command("STARTTLS")).code == 220);
    CHECK(co_await client.start_tls("mx.fake.test"));
    CHECK(co_await fake.wait_finished(1, 2s));
  });
  const FakeSession s = fake.sessions().at(0);
  CHECK(s.completed);
  REQUIRE(s.received_plain.size() > 10 + 5);
  CHECK(s.received_plain.substr(0, 10) == "STARTTLS\r\n");
  CHECK(s.received_plain[10] == '\x16');  // TLS handshake record: the ClientHello
  CHECK_FALSE(s.sent_mail_commands());
}

TEST_CASE("scripted fake: one script per connection, sleep and wait_close") {
  asio::io_context io;
  std::vector<Script> scripts = {
      Script{step::sleep(60ms), step::reply("220 first")},
      Script{step::reply("220 second"), step::wait_close(2s)},
  };
  ScriptedSmtp fake(io.get_executor(), scripts, quick());
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient one(io.get_executor());
    REQUIRE_FALSE(co_await one.connect(fake.endpoint()));
    const auto start = std::chrono::steady_clock::now();
    auto first = co_await one.read_reply();
    CHECK(first.lines.at(0) == "220 first");
    CHECK(std::chrono::steady_clock::now() - start >= 50ms);
    one.close();

    RawClient two(io.get_executor());
    REQUIRE_FALSE(co_await two.connect(fake.endpoint()));
    CHECK((co_await two.read_reply()).lines.at(0) == "220 second");
    two.close();

    RawClient three(io.get_executor());
    REQUIRE_FALSE(co_await three.connect(fake.endpoint()));
    CHECK(co_await three.read_some(1s) == 0);  // no script left: closed at once
    CHECK(co_await fake.wait_finished(3, 2s));
  });
  const auto sessions = fake.sessions();
  REQUIRE(sessions.size() == 3);
  CHECK(fake.connections() == 3);
  CHECK(sessions[0].completed);
  CHECK(sessions[1].completed);
  CHECK(sessions[1].peer_closed);
  CHECK(sessions[2].failure == "no script for this connection");
}

TEST_CASE("scripted fake: an expect step times out when the client stays silent") {
  asio::io_context io;
  ScriptedSmtpOptions options = quick();
  options.step_timeout = 100ms;
  options.drain_timeout = 100ms;
  ScriptedSmtp fake(io.get_executor(), Script{step::reply("220 ready"), step::expect("EHLO x")}, options);
  fake.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect(fake.endpoint()));
    CHECK((co_await client.read_reply()).code == 220);
    CHECK(co_await fake.wait_finished(1, 2s));
  });
  CHECK(fake.sessions().at(0).failure == "step 2 (expect \"EHLO x\"): timeout");
}

}  // TEST_SUITE
