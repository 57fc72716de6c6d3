// scan_domain with DANE, MTA-STS and TLS-RPT end to end, in-process: the ZoneServer plays a
// validating resolver for "signed" zones (AD bit), a scripted SMTP fake serves the MX, and the
// lab's HTTPS policy server serves the policies. Covers matched/failed DANE, pass/fail
// MTA-STS (MX not listed), redirects refused, TLS-RPT valid and invalid.
#include "scan/domain.hpp"

#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "fakes/scripted_smtp.hpp"
#include "lab/policy_server.hpp"
#include "report/verdict.hpp"
#include "tls/client.hpp"
#include "tls/https_client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <map>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

struct PolicyLab {
  asio::io_context io;
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls policy test CA");
  tls::Credentials smtp_cert = ca.issue({.common_name = "mx.sec.test", .dns_names = {"mx.sec.test", "mx.stale.test", "mx.redir.test"}});
  tls::Credentials old_cert = ca.issue({.common_name = "mx.stale.test", .dns_names = {"mx.stale.test"}});
  tls::Credentials https_cert = ca.issue({.common_name = "mta-sts.sec.test",
                                          .dns_names = {"mta-sts.sec.test", "mta-sts.stale.test", "mta-sts.redir.test"}});
  std::unique_ptr<fakes::ScriptedSmtp> smtp;
  std::unique_ptr<lab::PolicyServer> https;
  std::unique_ptr<dns::ZoneServer> dns_server;

  PolicyLab() {
    fakes::ScriptedSmtpOptions o;
    o.drain_timeout = 300ms;
    smtp = std::make_unique<fakes::ScriptedSmtp>(io.get_executor(), fakes::starttls_session(smtp_cert), o);
    smtp->start();
    std::vector<lab::PolicyDocument> docs{
        {"mta-sts.sec.test", 200, "text/plain; charset=utf-8", "",
         "version: STSv1\r\nmode: enforce\r\nmx: mx.sec.test\r\nmax_age: 604800\r\n", false},
        {"mta-sts.stale.test", 200, "text/plain", "", "version: STSv1\nmode: testing\nmx: *.elsewhere.test\nmax_age: 86400\n", true},
        {"mta-sts.redir.test", 301, "text/html", "https://elsewhere.test/mta-sts.txt", "moved", false},
    };
    https = std::make_unique<lab::PolicyServer>(io.get_executor(), asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                                https_cert, docs);
    https->start();
    const std::string port = std::to_string(smtp->port());
    const std::string zones =
        "$ORIGIN sec.test.\n$TTL 300\n@ IN SOA ns.sec.test. h.sec.test. ( 1 3600 600 86400 300 )\n@ IN NS ns\nns IN A 127.0.0.1\n"
        "@ IN MX 10 mx\nmx IN A 127.0.0.1\n"
        "_" + port + "._tcp.mx IN TLSA 3 1 1 " + tls::spki_sha256(smtp_cert.cert_pem) + "\n"
        "_mta-sts IN TXT \"v=STSv1; id=2024\"\nmta-sts IN A 127.0.0.1\n"
        "_smtp._tls IN TXT \"v=TLSRPTv1; rua=mailto:tls@sec.test\"\n"
        "$ORIGIN stale.test.\n@ IN SOA ns.stale.test. h.stale.test. ( 1 3600 600 86400 300 )\n@ IN NS ns\nns IN A 127.0.0.1\n"
        "@ IN MX 10 mx\nmx IN A 127.0.0.1\n"
        "_" + port + "._tcp.mx IN TLSA 3 1 1 " + tls::spki_sha256(old_cert.cert_pem) + "\n"
        "_mta-sts IN TXT \"v=STSv1; id=1\"\nmta-sts IN A 127.0.0.1\n"
        "_smtp._tls IN TXT \"v=TLSRPTv1; rua=ftp://x\"\n"
        "$ORIGIN redir.test.\n@ IN SOA ns.redir.test. h.redir.test. ( 1 3600 600 86400 300 )\n@ IN NS ns\nns IN A 127.0.0.1\n"
        "@ IN MX 10 mx\nmx IN A 127.0.0.1\n"
        "_" + port + "._tcp.mx IN TLSA 3 1 1 " + tls::spki_sha256(smtp_cert.cert_pem) + "\n"
        "_mta-sts IN TXT \"v=STSv1; id=1\"\nmta-sts IN A 127.0.0.1\n"
        // RFC 7672 §2.2.2: the MX host is a CNAME; TLSA at the target (current key) beats the
        // stale one at the MX name. alias2: nothing at the target, so the MX name's TLSA counts.
        "$ORIGIN alias.test.\n@ IN SOA ns.alias.test. h.alias.test. ( 1 3600 600 86400 300 )\n@ IN NS ns\nns IN A 127.0.0.1\n"
        "@ IN MX 10 mx\nmx IN CNAME target\ntarget IN A 127.0.0.1\n"
        "_" + port + "._tcp.target IN TLSA 3 1 1 " + tls::spki_sha256(smtp_cert.cert_pem) + "\n"
        "_" + port + "._tcp.mx IN TLSA 3 1 1 " + tls::spki_sha256(old_cert.cert_pem) + "\n"
        "$ORIGIN alias2.test.\n@ IN SOA ns.alias2.test. h.alias2.test. ( 1 3600 600 86400 300 )\n@ IN NS ns\nns IN A 127.0.0.1\n"
        "@ IN MX 10 mx\nmx IN CNAME target\ntarget IN A 127.0.0.1\n"
        "_" + port + "._tcp.mx IN TLSA 3 1 1 " + tls::spki_sha256(smtp_cert.cert_pem) + "\n";
    dns::ZoneServerOptions zo;
    zo.signed_zones = {"sec.test", "stale.test", "alias.test", "alias2.test"};  // redir.test stays unsigned
    dns_server = std::make_unique<dns::ZoneServer>(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, zones, zo);
    dns_server->start();
  }

  std::map<std::string, DomainResult> scan(const std::vector<std::string>& domains) {
    dns::ResolverConfig config;
    config.servers = {dns_server->endpoint()};
    config.timeout = 1s;
    dns::Resolver resolver(io.get_executor(), config);
    scan::DomainScanSettings settings;
    settings.port = smtp->port();
    settings.ipv6 = false;
    settings.probe.ehlo_name = "scanner.mxtls.test";
    settings.probe.timeouts.probe = 10s;
    settings.mta_sts_port = https->endpoint().port();
    settings.mta_sts_timeout = 5s;
    const tls::ClientTlsOptions trust{.ca_pem = ca.cert_pem()};
    settings.https = std::make_shared<tls::HttpsContext>(trust);
    tls::ClientTlsContext context(trust);
    scan::ProbeRunner run = [&](const scan::ProbeTarget& target, ProbeResult& out) { return scan::run_probe(target, settings.probe, context, out); };
    std::map<std::string, DomainResult> results;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (const auto& name : domains) {
        std::string input = name, ascii = name;
        auto d = co_await scan::scan_domain(std::move(input), std::move(ascii), resolver, settings, run);
        results[name] = std::move(d);
      }
      dns_server->stop();
      smtp->stop();
      https->stop();
    }, asio::detached);
    io.run();
    for (auto& [name, d] : results) report::judge_domain(d);
    return results;
  }
};

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("DANE, MTA-STS and TLS-RPT judged per domain") {
  PolicyLab lab;
  auto results = lab.scan({"sec.test", "stale.test", "redir.test"});

  const auto& sec = results.at("sec.test");
  CHECK(sec.dnssec_mx);
  REQUIRE(sec.probes.size() == 1);
  CHECK(sec.probes[0].status == Status::ok);
  CHECK(sec.probes[0].dnssec_addr == true);
  CHECK(sec.probes[0].dane.state == DaneState::matched);
  CHECK(sec.probes[0].dane.matched_depth == 0);
  CHECK(sec.mta_sts.mode == MtaStsMode::enforce);
  CHECK(sec.mta_sts.id == "2024");
  CHECK(sec.mta_sts.verdict == MtaStsVerdict::pass);
  CHECK(sec.mx_hosts.at(0).mta_sts_match == true);
  CHECK(sec.tls_rpt.state == TlsRptState::valid);
  CHECK(sec.tls_rpt.rua == std::vector<std::string>{"mailto:tls@sec.test"});

  const auto& stale = results.at("stale.test");
  CHECK(stale.probes.at(0).dane.state == DaneState::failed);
  CHECK(stale.mta_sts.mode == MtaStsMode::testing);  // served chunked
  CHECK(stale.mta_sts.verdict == MtaStsVerdict::fail);
  CHECK(stale.mx_hosts.at(0).mta_sts_match == false);
  CHECK(stale.tls_rpt.state == TlsRptState::invalid);
  CHECK(stale.tls_rpt.error.find("mailto: or https:") != std::string::npos);

  const auto& redir = results.at("redir.test");
  CHECK_FALSE(redir.dnssec_mx);
  CHECK(redir.probes.at(0).dnssec_addr == false);
  CHECK(redir.probes.at(0).dane.state == DaneState::not_applicable);
  CHECK(redir.mta_sts.verdict == MtaStsVerdict::error);
  CHECK(redir.mta_sts.error.find("redirect") != std::string::npos);
  CHECK_FALSE(redir.mx_hosts.at(0).mta_sts_match.has_value());
  CHECK(redir.tls_rpt.state == TlsRptState::absent);
  CHECK_FALSE(lab.smtp->client_sent_mail_commands());
}

TEST_CASE("DANE: TLSA at the MX host's secure CNAME target first, else at the MX name (RFC 7672 2.2.2)") {
  PolicyLab lab;
  auto results = lab.scan({"alias.test", "alias2.test"});
  const auto& alias = results.at("alias.test").probes.at(0);
  CHECK(alias.status == Status::ok);
  CHECK(alias.dnssec_addr == true);
  CHECK(alias.dane.state == DaneState::matched);
  CHECK(alias.dane.detail.find("TLSA at target.alias.test, the MX host's CNAME target") != std::string::npos);
  const auto& alias2 = results.at("alias2.test").probes.at(0);
  CHECK(alias2.dane.state == DaneState::matched);
  CHECK(alias2.dane.detail.find("CNAME") == std::string::npos);
}

}  // TEST_SUITE
