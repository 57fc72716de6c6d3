// Hostile SMTP peers over real loopback sockets (issue 6, item 2): silence, drip, huge lines,
// garbage, rejections at every phase, broken STARTTLS. Each case checks the deadline, bounded
// memory, a clear status/phase/detail, and that a well-behaved probe beside it is unaffected.
#include "adversarial_support.hpp"

#include "fakes/scripted_smtp.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace mxtls;
using namespace mxtls::adversarial;
using namespace std::chrono_literals;
namespace step = fakes::step;

namespace {

const std::string ehlo_with_starttls = "250-mx.fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

// Common checks of every case: the deadline (generous bound), a status with its phase and a
// detail, a bounded result, valid report output, the neighbour unaffected; then the table row.
void check_case(const char* name, const PairOutcome& out, Status status, Phase phase, const std::string& detail_part,
                std::chrono::milliseconds deadline, const std::string& memory_note = {}) {
  CAPTURE(out.hostile.error);
  CHECK(out.hostile.status == status);
  CHECK(out.hostile.failed_phase == phase);
  CHECK(out.hostile.error.find(detail_part) != std::string::npos);
  CHECK(out.hostile_took < deadline + slack);
  CHECK(result_footprint(out.hostile) < max_result_footprint);
  check_outputs_valid(out.hostile);
  check_good_neighbour(out);
  std::string note = memory_note;
  if (!note.empty()) note += "; ";
  note += "result " + std::to_string(result_footprint(out.hostile)) + " B";
  table_row(name, status_text(out.hostile) + ": " + out.hostile.error.substr(0, 90), out.hostile_took, deadline, note);
}

std::string session_failure(const PairOutcome& out) {
  return out.hostile_sessions.empty() ? std::string{} : out.hostile_sessions.front().failure;
}

// Greeting, EHLO with STARTTLS, then `starttls_answer` to STARTTLS.
fakes::Script up_to_starttls(const std::string& starttls_answer) {
  return {step::reply("220 mx.fake.test ESMTP"), step::expect_prefix("EHLO "), step::send(ehlo_with_starttls),
          step::expect("STARTTLS"), step::send(starttls_answer)};
}

}  // namespace

TEST_SUITE("adversarial") {

TEST_CASE("adversarial smtp: silence after accept") {
  auto out = probe_script_beside_good({step::wait_close(3s)});
  check_case("smtp: silence", out, Status::timeout, Phase::greeting, "no answer within 250 ms", phase_limit);
  CHECK(out.hostile_took >= phase_limit - 10ms);
}

TEST_CASE("adversarial smtp: banner dripped one byte per 150 ms") {
  auto out = probe_script_beside_good({step::drip("220 drip.fake.test ESMTP slowly\r\n", 150ms)});
  check_case("smtp: drip banner (1 byte/150 ms, 250 ms phase)", out, Status::timeout, Phase::greeting,
             "no answer within", phase_limit);
}

TEST_CASE("adversarial smtp: EHLO reply dripped; each byte in time, the phase is not") {
  auto out = probe_script_beside_good({step::reply("220 mx.fake.test ESMTP"), step::expect_prefix("EHLO "),
                                       step::drip(ehlo_with_starttls, 60ms)});
  check_case("smtp: drip EHLO reply (1 byte/60 ms)", out, Status::timeout, Phase::ehlo, "no answer within",
             phase_limit);
}

TEST_CASE("adversarial smtp: a 10 MB banner line without CRLF") {
  auto out = probe_script_beside_good({step::send("220 " + std::string(10 * 1024 * 1024, 'A')), step::wait_close(3s)});
  // The parser gives up at its 2048-byte line bound; the fake's 10 MB write fails once we hang up.
  CHECK(out.hostile.banner.empty());
  const auto failure = session_failure(out);
  check_case("smtp: 10 MB line, no CRLF", out, Status::protocol_error, Phase::greeting,
             "reply line longer than 2048 bytes", phase_limit,
             "line cut at 2048 B; fake: " + (failure.empty() ? std::string("all 10 MB buffered by the kernel") : failure));
}

TEST_CASE("adversarial smtp: 10 MB of binary garbage") {
  auto out = probe_script_beside_good({step::garbage(10 * 1024 * 1024), step::wait_close(3s)});
  check_case("smtp: 10 MB binary garbage", out, Status::protocol_error, Phase::greeting, "", phase_limit,
             "fake: " + session_failure(out));
  CHECK(out.hostile.error.find("longer than") != std::string::npos);
}

TEST_CASE("adversarial smtp: an endless multi-line banner") {
  std::string lines;
  for (int i = 0; i < 20000; ++i) lines += "220-this banner never ends " + std::to_string(i) + "\r\n";
  auto out = probe_script_beside_good({step::send(lines), step::wait_close(3s)});
  check_case("smtp: endless multi-line banner (20 000 lines)", out, Status::protocol_error, Phase::greeting,
             "reply has more than 128 lines", phase_limit);
}

TEST_CASE("adversarial smtp: NUL bytes and terminal escapes in the banner") {
  const std::string banner = std::string("220 mx.fake.test \x00\x01\x7f", 20) + "\x1b[31mred\x1b[0m \xe2\x80\xae" + "evil";
  fakes::Script script = fakes::starttls_session(pki().good);
  script.front() = step::send(banner + "\r\n");
  auto out = probe_script_beside_good(script);
  const auto& r = out.hostile;
  CHECK(r.status == Status::ok);
  CHECK(r.greeting_code == 220);
  CHECK(r.banner.find('\0') == std::string::npos);
  CHECK(r.banner.find('\x1b') == std::string::npos);
  CHECK(r.banner.find("\\x00") != std::string::npos);
  CHECK(r.banner.find("\\x1B") != std::string::npos);
  const std::string json = check_outputs_valid(r);
  CHECK(json.find('\x1b') == std::string::npos);
  check_good_neighbour(out);
  CHECK(out.hostile_took < probe_limit + slack);
  table_row("smtp: NUL, ESC, U+202E in banner", status_text(r) + ": banner \"" + r.banner.substr(0, 60) + "\"",
            out.hostile_took, probe_limit, "banner " + std::to_string(r.banner.size()) + " B");
}

TEST_CASE("adversarial smtp: binary garbage instead of a banner") {
  auto out = probe_script_beside_good({step::send(std::string("\x16\x03\x01\x02\x00\x00\xff\xfe\x00\r\n", 11)),
                                       step::wait_close(3s)});
  check_case("smtp: binary garbage line as banner", out, Status::protocol_error, Phase::greeting,
             "not an SMTP reply", phase_limit);
  CHECK(out.hostile.banner.empty());
}

TEST_CASE("adversarial smtp: invalid UTF-8 in the banner") {
  fakes::Script script = fakes::starttls_session(pki().good);
  script.front() = step::reply("220 mx.fake.test \xff\xfe \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf ok \xe6\x97\xa5");
  auto out = probe_script_beside_good(script);
  const auto& r = out.hostile;
  CHECK(r.status == Status::ok);
  CHECK(valid_utf8(r.banner));
  CHECK(r.banner.find("\\xFF") != std::string::npos);
  CHECK(r.banner.find("\xe6\x97\xa5") != std::string::npos);  // well-formed UTF-8 is kept
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("smtp: invalid UTF-8 in banner", status_text(r) + ": banner \"" + r.banner.substr(0, 60) + "\"",
            out.hostile_took, probe_limit, "banner " + std::to_string(r.banner.size()) + " B");
}

TEST_CASE("adversarial smtp: 421, 4xx and 5xx at the greeting") {
  for (const char* reply : {"421 4.3.2 too busy, come back later", "450 4.7.1 greylisted", "554 5.7.1 no thanks"}) {
    CAPTURE(reply);
    auto out = probe_script_beside_good({step::reply(reply), step::wait_close(3s)});
    check_case((std::string("smtp: greeting ") + std::string(reply).substr(0, 3)).c_str(), out, Status::smtp_reject,
               Phase::greeting, std::string("greeting ") + std::string(reply).substr(0, 3), phase_limit);
    CHECK(out.hostile.greeting_code == std::stoi(std::string(reply).substr(0, 3)));
  }
}

TEST_CASE("adversarial smtp: 421, 4xx and 5xx to EHLO") {
  for (const char* reply : {"421 4.3.2 closing", "451 4.3.0 local error", "554 5.5.0 go away"}) {
    CAPTURE(reply);
    auto out = probe_script_beside_good({step::reply("220 mx.fake.test ESMTP"), step::expect_prefix("EHLO "),
                                         step::reply(reply), step::wait_close(3s)});
    check_case((std::string("smtp: EHLO answered ") + std::string(reply).substr(0, 3)).c_str(), out,
               Status::smtp_reject, Phase::ehlo, std::string("EHLO answered ") + std::string(reply).substr(0, 3),
               phase_limit);
    CHECK_FALSE(out.hostile.starttls.has_value());
  }
}

TEST_CASE("adversarial smtp: EHLO 500, then HELO refused too") {
  auto out = probe_script_beside_good({step::reply("220 mx.fake.test ESMTP"), step::expect_prefix("EHLO "),
                                       step::reply("500 5.5.1 what"), step::expect_prefix("HELO "),
                                       step::reply("554 5.7.1 not you either"), step::wait_close(3s)});
  check_case("smtp: EHLO 500 then HELO 554", out, Status::smtp_reject, Phase::ehlo, "554", phase_limit);
}

TEST_CASE("adversarial smtp: 4xx and 5xx to STARTTLS") {
  for (const char* reply : {"454 4.7.0 TLS not available", "421 4.7.0 closing", "500 5.5.1 unknown command",
                            "554 5.7.0 no"}) {
    CAPTURE(reply);
    fakes::Script script = up_to_starttls(std::string(reply) + "\r\n");
    script.push_back(step::wait_close(3s));
    auto out = probe_script_beside_good(script);
    check_case((std::string("smtp: STARTTLS answered ") + std::string(reply).substr(0, 3)).c_str(), out,
               Status::smtp_reject, Phase::starttls, std::string("STARTTLS answered ") + std::string(reply).substr(0, 3),
               phase_limit);
    CHECK(out.hostile.starttls_code == std::stoi(std::string(reply).substr(0, 3)));
    CHECK_FALSE(out.hostile.tls.has_value());
  }
}

TEST_CASE("adversarial smtp: STARTTLS answered 220, then plaintext instead of a handshake") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));  // the ClientHello
  script.push_back(step::send("250 this is not TLS at all\r\n"));
  script.push_back(step::wait_close(3s));
  auto out = probe_script_beside_good(script);
  check_case("smtp: 220 then plaintext instead of TLS", out, Status::tls_error, Phase::handshake,
             "TLS handshake failed", phase_limit);
  CHECK_FALSE(out.hostile.tls.has_value());
  CHECK(out.hostile.ehlo_after_tls.empty());
}

TEST_CASE("adversarial smtp: close right after the ClientHello") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));
  script.push_back(step::close());
  auto out = probe_script_beside_good(script);
  check_case("smtp: close after ClientHello", out, Status::tls_error, Phase::handshake,
             "connection closed by the server during the TLS handshake", phase_limit);
}

TEST_CASE("adversarial smtp: close in the middle of a ServerHello record") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));
  // A handshake record header announcing 16 KiB, then 5 bytes of it, then the hang-up.
  script.push_back(step::send(std::string("\x16\x03\x03\x40\x00\x02\x00\x00\x46\x03", 10)));
  script.push_back(step::close());
  auto out = probe_script_beside_good(script);
  check_case("smtp: close mid-ServerHello", out, Status::tls_error, Phase::handshake,
             "connection closed by the server during the TLS handshake", phase_limit);
}

TEST_CASE("adversarial smtp: handshake bytes dripped") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));
  script.push_back(step::drip(std::string("\x16\x03\x03\x00\x40", 5) + std::string(64, '\x01'), 100ms));
  auto out = probe_script_beside_good(script);
  check_case("smtp: drip during TLS handshake", out, Status::timeout, Phase::handshake, "not finished within",
             phase_limit);
}

TEST_CASE("adversarial smtp: a fatal TLS alert instead of a ServerHello") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));
  script.push_back(step::send(std::string("\x15\x03\x03\x00\x02\x02\x28", 7)));  // fatal handshake_failure
  script.push_back(step::wait_close(3s));
  auto out = probe_script_beside_good(script);
  check_case("smtp: raw fatal alert handshake_failure", out, Status::tls_error, Phase::handshake, "handshake failure",
             phase_limit);
}

TEST_CASE("adversarial smtp: a server requiring a cipher suite the client does not offer") {
  tls::ServerOptions strict;
  strict.min_version = tls::ProtocolVersion::tls1_3;
  strict.ciphersuites = "TLS_AES_128_CCM_8_SHA256";  // not in OpenSSL's default client list
  auto out = probe_script_beside_good(fakes::starttls_session(pki().good, "mx.fake.test", strict));
  check_case("smtp: server demands TLS_AES_128_CCM_8 (alert)", out, Status::tls_error, Phase::handshake,
             "TLS handshake failed", phase_limit);
}

TEST_CASE("adversarial smtp: replies sent before the commands (banner and EHLO reply, unasked)") {
  // Banner and EHLO reply in the first segment, before the EHLO was sent.
  auto out = probe_script_beside_good({
      step::send("220 mx.fake.test ESMTP\r\n" + ehlo_with_starttls),
      step::expect_prefix("EHLO "),
      step::expect("STARTTLS"),
      step::reply("220 go ahead"),
      step::start_tls(pki().good),
      step::expect_prefix("EHLO "),
      step::send("250-mx.fake.test\r\n250 8BITMIME\r\n"),
      step::expect("QUIT"),
      step::reply("221 bye"),
  });
  const auto& r = out.hostile;
  CAPTURE(r.error);
  CAPTURE(session_failure(out));
  // All of it arrived in cleartext before STARTTLS: replies are taken in order, and nothing
  // of it is carried over the handshake.
  CHECK(r.status == Status::ok);
  CHECK(r.starttls == true);
  CHECK(r.injected_after_starttls.empty());
  CHECK(r.ehlo_after_tls == std::vector<std::string>{"8BITMIME"});
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("smtp: banner + EHLO reply before EHLO (one segment)", status_text(r), out.hostile_took, probe_limit,
            "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial smtp: the STARTTLS 220 sent before STARTTLS") {
  // Banner, EHLO reply and 220 unasked: the client starts TLS straight after its STARTTLS line,
  // and this server (like the lab's) discards what follows that line, ClientHello included,
  // as pipelined plaintext. The handshake can never finish: the phase deadline ends it.
  fakes::Script script{step::send("220 mx.fake.test ESMTP\r\n" + ehlo_with_starttls + "220 go ahead\r\n"),
                       step::expect_prefix("EHLO "), step::expect("STARTTLS"), step::start_tls(pki().good)};
  auto out = probe_script_beside_good(script);
  CHECK(out.hostile.injected_after_starttls.empty());
  check_case("smtp: 220 before STARTTLS, ClientHello swallowed", out, Status::timeout, Phase::handshake,
             "not finished within", phase_limit);
}

TEST_CASE("adversarial smtp: 250 lines injected after the STARTTLS 220 (same segment)") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n250-STARTTLS-INJECTED\r\n250 AUTH PLAIN\r\n");
  script.push_back(step::start_tls(pki().good));
  script.push_back(step::expect_prefix("EHLO "));
  script.push_back(step::send("250-mx.fake.test\r\n250 8BITMIME\r\n"));
  script.push_back(step::expect("QUIT"));
  script.push_back(step::reply("221 bye"));
  auto out = probe_script_beside_good(script);
  const auto& r = out.hostile;
  CHECK(r.status == Status::ok);
  CHECK(r.injected_after_starttls.find("250-STARTTLS-INJECTED") != std::string::npos);
  // The injected lines never count as the EHLO reply over TLS.
  CHECK(r.ehlo_after_tls == std::vector<std::string>{"8BITMIME"});
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("smtp: injection after STARTTLS 220 (same segment)", status_text(r) + ", injected recorded",
            out.hostile_took, probe_limit, "injected " + std::to_string(r.injected_after_starttls.size()) + " B");
}

TEST_CASE("adversarial smtp: 16 KiB injected after the STARTTLS 220") {
  // More than one read (4 KiB) plus what start_tls drains (512 B) can take in.
  std::string injected;
  while (injected.size() < 16384) injected += "250-INJECTED-" + std::to_string(injected.size()) + "\r\n";
  fakes::Script script = up_to_starttls("220 go ahead\r\n" + injected);
  script.push_back(step::start_tls(pki().good));
  script.push_back(step::wait_close(3s));
  auto out = probe_script_beside_good(script);
  // What does not fit the recorded part stays in the stream and breaks the handshake: it is
  // never read as SMTP.
  CHECK(out.hostile.injected_after_starttls.size() <= 256 + 8);
  CHECK_FALSE(out.hostile.injected_after_starttls.empty());
  check_case("smtp: 16 KiB injected after STARTTLS 220", out, Status::tls_error, Phase::handshake,
             "TLS handshake failed", phase_limit);
}

TEST_CASE("adversarial smtp: plaintext injected after the ClientHello (post-STARTTLS, later segment)") {
  fakes::Script script = up_to_starttls("220 go ahead\r\n");
  script.push_back(step::read_bytes(4096));
  script.push_back(step::send("250-INJECTED\r\n250 AUTH PLAIN\r\n"));
  script.push_back(step::wait_close(3s));
  auto out = probe_script_beside_good(script);
  check_case("smtp: injection after ClientHello", out, Status::tls_error, Phase::handshake, "TLS handshake failed",
             phase_limit);
  CHECK(out.hostile.ehlo_after_tls.empty());
}

}  // TEST_SUITE
