// Hostile TLS peers after STARTTLS (issue 6, item 2): a renegotiation request, a chain of 100
// certificates, a certificate with 10 000 SANs, ill-formed UTF-8 in certificate names. Each
// case: the deadline, a clear status, bounded certificate facts, valid report output, and a
// well-behaved probe beside it unaffected.
#include "adversarial_support.hpp"

#include "fakes/hostile_smtp.hpp"
#include "fakes/scripted_smtp.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace mxtls;
using namespace mxtls::adversarial;
using namespace std::chrono_literals;

namespace {

tls::CertSpec spec(const std::string& common_name, std::vector<std::string> dns_names) {
  tls::CertSpec s;
  s.common_name = common_name;
  s.dns_names = std::move(dns_names);
  return s;
}

std::vector<std::string> many_names(int count, const std::string& suffix) {
  std::vector<std::string> names{"mx.fake.test"};
  for (int i = 1; i < count; ++i) names.push_back("n" + std::to_string(i) + suffix);
  return names;
}

}  // namespace

TEST_SUITE("adversarial") {

TEST_CASE("adversarial tls: the server requests renegotiation, then answers anyway") {
  asio::io_context io;
  fakes::RenegotiatingSmtp server(io.get_executor(), pki().good);
  server.start();
  auto out = probe_beside_good(io, server.endpoint(), hostile_settings(), [&] { server.stop(); });
  const auto report = server.report();
  CHECK(report.handshake_done);
  CHECK(report.tls_version == "TLSv1.2");
  CHECK(report.hello_request_sent);
  // The client declines (SSL_OP_NO_RENEGOTIATION): no second handshake ever completes.
  CHECK(report.renegotiations_completed == 0);
  CAPTURE(report.after_hello_request);
  const auto& r = out.hostile;
  CAPTURE(r.error);
  CHECK(r.status == Status::ok);
  REQUIRE(r.tls.has_value());
  CHECK(r.tls->version == "TLSv1.2");
  CHECK(r.ehlo_after_tls == std::vector<std::string>{"8BITMIME"});
  CHECK(out.hostile_took < probe_limit + slack);
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("tls: HelloRequest after EHLO (server carries on)", status_text(r) + "; server saw: " +
            report.after_hello_request.substr(0, 60) + "; renegotiations " + std::to_string(report.renegotiations_completed),
            out.hostile_took, probe_limit, "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial tls: the server insists on renegotiation before answering EHLO") {
  asio::io_context io;
  fakes::RenegotiationOptions options;
  options.reply_before_renegotiating = false;
  options.step_timeout = 1500ms;
  fakes::RenegotiatingSmtp server(io.get_executor(), pki().good, options);
  server.start();
  auto out = probe_beside_good(io, server.endpoint(), hostile_settings(), [&] { server.stop(); });
  const auto report = server.report();
  CHECK(report.hello_request_sent);
  CHECK(report.renegotiations_completed == 0);
  const auto& r = out.hostile;
  CAPTURE(r.error);
  CAPTURE(report.after_hello_request);
  // The EHLO after TLS never gets its answer but the server's fatal alert: a TLS failure in
  // that phase, within its deadline.
  CHECK(r.status == Status::tls_error);
  CHECK(r.error.find("TLS error after the handshake: ") != std::string::npos);
  CHECK(r.error.find("alert") != std::string::npos);
  CHECK(r.failed_phase == Phase::ehlo_after_tls);
  CHECK_FALSE(r.error.empty());
  REQUIRE(r.tls.has_value());  // the first handshake's facts are kept
  CHECK(out.hostile_took < phase_limit + phase_limit + slack);
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("tls: HelloRequest, server waits for the new handshake",
            status_text(r) + ": " + r.error.substr(0, 80), out.hostile_took, probe_limit,
            "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial tls: a chain of 100 certificates") {
  const auto credentials = fakes::leaf_under_long_chain(pki().ca, 99, spec("mx.fake.test", {"mx.fake.test"}));
  auto out = probe_script_beside_good(fakes::starttls_session(credentials));
  const auto& r = out.hostile;
  CAPTURE(r.error);
  // Either the handshake completes and the chain is judged (too long for depth 16), or the
  // client refuses the oversized Certificate message: both are clear, bounded outcomes.
  if (r.status == Status::ok) {
    REQUIRE(r.tls.has_value());
    REQUIRE(r.tls->cert.has_value());
    CHECK(r.tls->cert->chain_length == 100);
    CHECK(r.tls->verdict == CertVerdict::untrusted);
    CHECK_FALSE(r.tls->verify_error.empty());
  } else {
    CHECK(r.status == Status::tls_error);
    CHECK(r.failed_phase == Phase::handshake);
  }
  CHECK(out.hostile_took < probe_limit + slack);
  CHECK(result_footprint(r) < max_result_footprint);
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("tls: 100-certificate chain",
            status_text(r) + (r.tls ? ", " + std::string(to_string(r.tls->verdict)) + ": " + r.tls->verify_error
                                    : ": " + r.error.substr(0, 80)),
            out.hostile_took, probe_limit, "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial tls: a certificate with 10 000 SANs (fits the 100 KB certificate list limit)") {
  const auto credentials = pki().ca.issue(spec("mx.fake.test", many_names(10'000, ".t")));
  auto out = probe_script_beside_good(fakes::starttls_session(credentials));
  const auto& r = out.hostile;
  CAPTURE(r.error);
  CHECK(r.status == Status::ok);
  REQUIRE(r.tls.has_value());
  REQUIRE(r.tls->cert.has_value());
  // At most 100 names are kept, plus one "(N more)" note.
  CHECK(r.tls->cert->sans.size() <= 101);
  CHECK(r.tls->cert->sans.front() == "mx.fake.test");
  CHECK(r.tls->verdict == CertVerdict::verified);
  CHECK(out.hostile_took < probe_limit + slack);
  CHECK(result_footprint(r) < max_result_footprint);
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("tls: 10 000 SANs (~90 KB certificate)",
            status_text(r) + ", " + std::to_string(r.tls->cert->sans.size()) + " SANs kept: " + r.tls->cert->sans.back(),
            out.hostile_took, probe_limit, "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial tls: a certificate with 10 000 long SANs (past the certificate list limit)") {
  const auto credentials = pki().ca.issue(spec("mx.fake.test", many_names(10'000, ".a-rather-long-name.example.test")));
  auto out = probe_script_beside_good(fakes::starttls_session(credentials));
  const auto& r = out.hostile;
  CAPTURE(r.error);
  if (r.status == Status::ok) {
    REQUIRE(r.tls.has_value());
    REQUIRE(r.tls->cert.has_value());
    CHECK(r.tls->cert->sans.size() <= 101);
  } else {
    CHECK(r.status == Status::tls_error);
    CHECK(r.failed_phase == Phase::handshake);
    CHECK(r.error.find("TLS handshake failed") != std::string::npos);
  }
  CHECK(out.hostile_took < probe_limit + slack);
  CHECK(result_footprint(r) < max_result_footprint);
  check_outputs_valid(r);
  check_good_neighbour(out);
  table_row("tls: 10 000 long SANs (~400 KB certificate)", status_text(r) + ": " + r.error.substr(0, 80),
            out.hostile_took, probe_limit, "result " + std::to_string(result_footprint(r)) + " B");
}

TEST_CASE("adversarial tls: ill-formed UTF-8 and control bytes in certificate names") {
  const std::string raw_cn = std::string("mx\xff\xfe.\xc3\x28\x1b[2J\x00.fake.test", 22);
  const std::vector<std::string> raw_sans{"mx.fake.test", "bad\xff\xc0\xaf.fake.test", std::string("nul\x00.test", 9),
                                          "\xe2\x80\xae" "tset.ekaf", "\xed\xa0\x80.surrogate.test"};
  const auto credentials = fakes::leaf_with_raw_names(pki().ca, raw_cn, raw_sans);
  auto out = probe_script_beside_good(fakes::starttls_session(credentials));
  const auto& r = out.hostile;
  CAPTURE(r.error);
  CHECK(r.status == Status::ok);
  REQUIRE(r.tls.has_value());
  REQUIRE(r.tls->cert.has_value());
  const auto& cert = *r.tls->cert;
  CHECK(valid_utf8(cert.subject));
  CHECK(cert.subject.find('\x1b') == std::string::npos);
  CHECK(cert.subject.find('\0') == std::string::npos);
  CHECK(cert.sans.size() == raw_sans.size());
  for (const auto& san : cert.sans) {
    CAPTURE(san);
    CHECK(valid_utf8(san));
    CHECK(san.find('\0') == std::string::npos);
  }
  CHECK(r.tls->name_matched);  // the one clean SAN still matches
  const std::string json = check_outputs_valid(r);
  CHECK(json.find('\x1b') == std::string::npos);
  check_good_neighbour(out);
  table_row("tls: invalid UTF-8 / NUL / ESC in CN and SANs", status_text(r) + ", subject \"" + cert.subject.substr(0, 50) + "\"",
            out.hostile_took, probe_limit, "result " + std::to_string(result_footprint(r)) + " B");
}

}  // TEST_SUITE
