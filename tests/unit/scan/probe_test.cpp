// The probe against scripted fake servers on 127.0.0.1: every verdict, every way a server can
// fail or misbehave, and the promises that hold whatever it does — a status and detail, the
// phase that failed, the deadline kept, and never a MAIL/RCPT/DATA sent.
#include "scan/probe.hpp"

#include "fakes/scripted_smtp.hpp"
#include "tls/client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>

using namespace mxtls;
using namespace std::chrono_literals;
namespace step = fakes::step;

namespace {

struct TestPki {
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls probe test CA");
  tls::Credentials good = ca.issue({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"}});
};
const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

scan::ProbeSettings fast_settings() {
  scan::ProbeSettings s;
  s.ehlo_name = "scanner.mxtls.test";
  s.timeouts.connect = 2s;
  s.timeouts.greeting = 2s;
  s.timeouts.command = 2s;
  s.timeouts.handshake = 2s;
  s.timeouts.quit = 1s;
  s.timeouts.probe = 10s;
  return s;
}

struct ProbeRun {
  ProbeResult result;
  std::vector<fakes::FakeSession> sessions;
  std::chrono::milliseconds took{};
};

// Runs one probe of "mx.fake.test" at the fake and returns the result and what the fake saw;
// `prepare` may set up the settings with the probe's io_context first.
ProbeRun probe(fakes::Script script, scan::ProbeSettings settings = fast_settings(),
               const std::function<void(asio::io_context&, scan::ProbeSettings&)>& prepare = {}) {
  asio::io_context io;
  if (prepare) prepare(io, settings);
  fakes::ScriptedSmtpOptions options;
  options.drain_timeout = 500ms;
  fakes::ScriptedSmtp fake(io.get_executor(), std::move(script), options);
  fake.start();
  tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = pki().ca.cert_pem()});
  ProbeRun run;
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    scan::ProbeTarget target{"fake.test", "mx.fake.test", 10, fake.endpoint().address(), fake.port()};
    run.result = co_await scan::run_probe(target, settings, context);
    run.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    co_await fake.wait_finished(1, 3s);
    fake.stop();
  }, asio::detached);
  io.run();
  run.sessions = fake.sessions();
  return run;
}

void check_no_mail_commands(const ProbeRun& run) {
  for (const auto& s : run.sessions) CHECK_FALSE(s.sent_mail_commands());
}

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("good server: STARTTLS, TLS 1.3, Verified, EHLO again, QUIT") {
  auto run = probe(fakes::starttls_session(pki().good));
  const auto& r = run.result;
  CHECK(r.status == Status::ok);
  CHECK_FALSE(r.failed_phase.has_value());
  CHECK(r.error.empty());
  CHECK(r.greeting_code == 220);
  CHECK(r.banner == "mx.fake.test ESMTP fake");
  REQUIRE(r.starttls.has_value());
  CHECK(*r.starttls);
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->version == "TLSv1.3");
  CHECK(r.tls->cipher.rfind("TLS_", 0) == 0);
  CHECK_FALSE(r.tls->group.empty());
  CHECK(r.tls->verdict == CertVerdict::verified);
  REQUIRE(r.tls->cert.has_value());
  CHECK(r.tls->cert->sans == std::vector<std::string>{"mx.fake.test"});
  CHECK(r.tls->cert->chain_length >= 1);
  CHECK(r.ehlo_after_tls.size() == 3);
  CHECK(r.injected_after_starttls.empty());
  REQUIRE(run.sessions.size() == 1);
  CHECK(run.sessions[0].completed);
  CHECK(run.sessions[0].sni == "mx.fake.test");
  CHECK(run.sessions[0].lines().front() == "EHLO scanner.mxtls.test");
  CHECK(run.sessions[0].lines().back() == "QUIT");
  check_no_mail_commands(run);
  CHECK(r.phase_ms.size() >= 7);
}

TEST_CASE("a handshake slot is held for the handshake only; with none free, the deadline ends the wait") {
  std::shared_ptr<Slots> slots;
  auto run = probe(fakes::starttls_session(pki().good), fast_settings(), [&](asio::io_context& io, scan::ProbeSettings& s) {
    slots = std::make_shared<Slots>(io.get_executor(), 1);
    s.handshakes = slots;
  });
  CHECK(run.result.status == Status::ok);
  CHECK(slots->idle());

  // The only slot is taken for good: the probe must still end, at its handshake deadline.
  auto starved = probe(fakes::starttls_session(pki().good), fast_settings(), [&](asio::io_context& io, scan::ProbeSettings& s) {
    slots = std::make_shared<Slots>(io.get_executor(), 1);
    asio::co_spawn(io, slots->acquire(), asio::detached);  // never released
    s.handshakes = slots;
  });
  CHECK(starved.result.status == Status::timeout);
  CHECK(starved.result.failed_phase == Phase::handshake);
  CHECK(starved.result.error.find("handshake slots") != std::string::npos);
  CHECK(slots->waiting() == 0);  // the expired waiter left the queue
  CHECK(slots->in_use() == 1);
  check_no_mail_commands(starved);
}

TEST_CASE("certificate verdicts: self-signed, wrong name, expired, TLS 1.2 only") {
  SUBCASE("self-signed → Untrusted with OpenSSL's reason") {
    auto self = tls::self_signed({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"}});
    auto r = probe(fakes::starttls_session(self)).result;
    CHECK(r.status == Status::ok);
    REQUIRE(r.tls.has_value());
    CHECK(r.tls->verdict == CertVerdict::untrusted);
    CHECK(r.tls->verify_error.find("self-signed") != std::string::npos);
  }
  SUBCASE("chain fine, name wrong → Trusted") {
    auto other = pki().ca.issue({.common_name = "mail.other.test", .dns_names = {"mail.other.test"}});
    auto r = probe(fakes::starttls_session(other)).result;
    REQUIRE(r.tls.has_value());
    CHECK(r.tls->verdict == CertVerdict::trusted);
    CHECK_FALSE(r.tls->name_matched);
  }
  SUBCASE("expired → Untrusted, 'certificate has expired'") {
    auto expired = pki().ca.issue({.common_name = "mx.fake.test", .dns_names = {"mx.fake.test"},
                                   .not_before = -48h, .not_after = -24h});
    auto r = probe(fakes::starttls_session(expired)).result;
    REQUIRE(r.tls.has_value());
    CHECK(r.tls->verdict == CertVerdict::untrusted);
    CHECK(r.tls->verify_error.find("expired") != std::string::npos);
  }
  SUBCASE("TLS 1.2 only server") {
    tls::ServerOptions only12;
    only12.max_version = tls::ProtocolVersion::tls1_2;
    auto r = probe(fakes::starttls_session(pki().good, "mx.fake.test", only12)).result;
    REQUIRE(r.tls.has_value());
    CHECK(r.tls->version == "TLSv1.2");
    CHECK(r.tls->verdict == CertVerdict::verified);
    CHECK(r.tls->cipher.find("ECDHE") != std::string::npos);
  }
}

TEST_CASE("no STARTTLS → not-offered, polite QUIT, AUTH before TLS recorded") {
  auto run = probe({
      step::reply("220 plain.fake.test ESMTP"),
      step::expect_prefix("EHLO "),
      step::send("250-plain.fake.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
      step::expect("QUIT"),
      step::reply("221 bye"),
  });
  const auto& r = run.result;
  CHECK(r.status == Status::not_offered);
  CHECK(r.failed_phase == Phase::ehlo);
  REQUIRE(r.starttls.has_value());
  CHECK_FALSE(*r.starttls);
  CHECK(r.auth_before_tls == std::vector<std::string>{"PLAIN", "LOGIN"});
  CHECK_FALSE(r.tls.has_value());
  CHECK(run.sessions.at(0).completed);
  check_no_mail_commands(run);
}

TEST_CASE("EHLO refused → HELO fallback recorded, no STARTTLS possible") {
  auto run = probe({
      step::reply("220 old.fake.test SMTP"),
      step::expect_prefix("EHLO "),
      step::reply("502 5.5.2 Error: command not recognized"),
      step::expect_prefix("HELO "),
      step::reply("250 old.fake.test"),
      step::expect("QUIT"),
      step::reply("221 bye"),
  });
  CHECK(run.result.used_helo);
  CHECK(run.result.status == Status::not_offered);
  CHECK(run.sessions.at(0).completed);
}

TEST_CASE("STARTTLS answered 454 → smtp-reject at starttls") {
  auto run = probe({
      step::reply("220 broken.fake.test ESMTP"),
      step::expect_prefix("EHLO "),
      step::send("250-broken.fake.test\r\n250 STARTTLS\r\n"),
      step::expect("STARTTLS"),
      step::reply("454 4.7.0 TLS not available due to local problem"),
      step::expect("QUIT"),
      step::reply("221 bye"),
  });
  CHECK(run.result.status == Status::smtp_reject);
  CHECK(run.result.failed_phase == Phase::starttls);
  CHECK(run.result.starttls_code == 454);
  CHECK(run.result.error.find("454") != std::string::npos);
}

TEST_CASE("greeting 421/554 → smtp-reject at greeting") {
  auto r = probe({step::reply("554 5.7.1 go away"), step::wait_close(2s)}).result;
  CHECK(r.status == Status::smtp_reject);
  CHECK(r.failed_phase == Phase::greeting);
  CHECK(r.greeting_code == 554);
  CHECK(r.banner == "5.7.1 go away");
}

TEST_CASE("plaintext injected after the STARTTLS 220 is recorded and discarded") {
  auto run = probe({
      step::reply("220 inject.fake.test ESMTP"),
      step::expect_prefix("EHLO "),
      step::send("250-inject.fake.test\r\n250 STARTTLS\r\n"),
      step::expect("STARTTLS"),
      step::send("220 ready\r\n250-injected\r\n250 more\r\n"),
      step::start_tls(pki().good),
      step::expect_prefix("EHLO "),
      step::send("250-inject.fake.test\r\n250 8BITMIME\r\n"),
      step::expect("QUIT"),
      step::reply("221 bye"),
  });
  const auto& r = run.result;
  CHECK(r.injected_after_starttls == "250-injected\\x0D\\x0A250 more\\x0D\\x0A");
  CHECK(r.status == Status::ok);  // the handshake still worked: the bytes were never read as TLS replies
  REQUIRE(r.tls.has_value());
  CHECK(r.ehlo_after_tls == std::vector<std::string>{"8BITMIME"});
}

TEST_CASE("hostile and broken servers end with a status, a phase and a detail, within the deadline") {
  auto settings = fast_settings();
  settings.timeouts.greeting = 300ms;
  settings.timeouts.command = 300ms;
  settings.timeouts.handshake = 300ms;

  SUBCASE("silence") {
    auto run = probe({step::sleep(3s)}, settings);
    CHECK(run.result.status == Status::timeout);
    CHECK(run.result.failed_phase == Phase::greeting);
    CHECK(run.result.error.find("no answer within 300 ms") != std::string::npos);
    CHECK(run.took < 2500ms);
  }
  SUBCASE("slow drip never completes the banner in time") {
    auto run = probe({step::drip("220 drip.fake.test ESMTP slowly\r\n", 100ms)}, settings);
    CHECK(run.result.status == Status::timeout);
    CHECK(run.result.failed_phase == Phase::greeting);
  }
  SUBCASE("a 10 MB line") {
    auto run = probe({step::send("220 "), step::garbage(10 * 1024 * 1024)}, settings);
    CHECK(run.result.status == Status::protocol_error);
    CHECK(run.result.failed_phase == Phase::greeting);
    CHECK(run.result.error.find("longer than") != std::string::npos);
  }
  SUBCASE("binary garbage") {
    auto run = probe({step::send(std::string("\x16\x03\x01\x00\x00\xff\r\n", 8)), step::wait_close(2s)}, settings);
    CHECK(run.result.status == Status::protocol_error);
    CHECK(run.result.banner.empty());
  }
  SUBCASE("close right after accept") {
    auto run = probe({step::close()}, settings);
    CHECK(run.result.status == Status::closed);
    CHECK(run.result.failed_phase == Phase::greeting);
  }
  SUBCASE("silence after EHLO") {
    auto run = probe({step::reply("220 x ESMTP"), step::expect_prefix("EHLO"), step::sleep(2s)}, settings);
    CHECK(run.result.status == Status::timeout);
    CHECK(run.result.failed_phase == Phase::ehlo);
  }
  SUBCASE("close in the middle of the handshake") {
    auto run = probe({
        step::reply("220 x ESMTP"), step::expect_prefix("EHLO"), step::send("250-x\r\n250 STARTTLS\r\n"),
        step::expect("STARTTLS"), step::reply("220 go"), step::read_bytes(4096), step::close()}, settings);
    CHECK(run.result.status == Status::tls_error);
    CHECK(run.result.failed_phase == Phase::handshake);
    CHECK_FALSE(run.result.tls.has_value());
  }
  SUBCASE("plaintext instead of a handshake") {
    auto run = probe({
        step::reply("220 x ESMTP"), step::expect_prefix("EHLO"), step::send("250-x\r\n250 STARTTLS\r\n"),
        step::expect("STARTTLS"), step::reply("220 go"), step::read_bytes(4096),
        step::send("500 what is this\r\n"), step::wait_close(2s)}, settings);
    CHECK(run.result.status == Status::tls_error);
    CHECK(run.result.failed_phase == Phase::handshake);
  }
  SUBCASE("silent during the handshake") {
    auto run = probe({
        step::reply("220 x ESMTP"), step::expect_prefix("EHLO"), step::send("250-x\r\n250 STARTTLS\r\n"),
        step::expect("STARTTLS"), step::reply("220 go"), step::sleep(3s)}, settings);
    CHECK(run.result.status == Status::timeout);
    CHECK(run.result.failed_phase == Phase::handshake);
    CHECK(run.took < 2500ms);
  }
  SUBCASE("the overall probe deadline bounds a server that answers each phase just in time") {
    settings.timeouts.probe = 500ms;
    settings.timeouts.greeting = 2s;
    auto run = probe({step::drip("220 drip.fake.test ESMTP slowly\r\n", 100ms)}, settings);
    CHECK(run.result.status == Status::timeout);
    CHECK(run.took < 2000ms);
  }
}

TEST_CASE("connection refused") {
  asio::io_context io;
  // A port that was just free: bind, learn the port, close.
  asio::ip::tcp::acceptor probe_port(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = probe_port.local_endpoint().port();
  probe_port.close();
  tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = pki().ca.cert_pem()});
  ProbeResult r;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    // A named target: GCC 12 double-destroys braced temporaries passed to a coroutine.
    scan::ProbeTarget target{"fake.test", "mx.fake.test", 0, asio::ip::make_address("127.0.0.1"), port};
    const auto settings = fast_settings();
    r = co_await scan::run_probe(std::move(target), settings, context);
  }, asio::detached);
  io.run();
  CHECK(r.status == Status::refused);
  CHECK(r.failed_phase == Phase::connect);
  CHECK(r.error == "connection refused");
  CHECK(r.ip == "127.0.0.1");
}

}  // TEST_SUITE
