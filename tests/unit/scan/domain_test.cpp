// scan_domain with a fake DNS server and scripted SMTP fakes on both loopbacks: every A and
// AAAA of an MX is probed (127.0.0.1 and ::1), -4/-6 restrict it, MX preference order holds,
// and a SERVFAIL on the MX lookup becomes a dns-error record instead of an exception.
#include "scan/domain.hpp"

#include "core/text.hpp"
#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "fakes/scripted_smtp.hpp"
#include "report/verdict.hpp"
#include "tls/client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

const char* const zone = R"(
$ORIGIN dual.test.
$TTL 300
@        IN SOA ns.dual.test. hostmaster.dual.test. ( 1 3600 600 86400 300 )
@        IN NS  ns.dual.test.
ns       IN A   127.0.0.1
@        IN MX  20 backup.dual.test.
@        IN MX  10 mx.dual.test.
mx       IN A    127.0.0.1
mx       IN AAAA ::1
backup   IN AAAA ::1
)";

struct DualStack {
  asio::io_context io;
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls domain test CA");
  tls::Credentials creds = ca.issue({.common_name = "mx.dual.test", .dns_names = {"mx.dual.test", "backup.dual.test"}});
  dns::ZoneServer dns_server{io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, zone};
  std::unique_ptr<fakes::ScriptedSmtp> smtp4, smtp6;

  DualStack() {
    dns_server.start();
    fakes::ScriptedSmtpOptions v4;
    v4.drain_timeout = 300ms;
    smtp4 = std::make_unique<fakes::ScriptedSmtp>(io.get_executor(), fakes::starttls_session(creds), v4);
    smtp4->start();
    // The scanner uses one port for every address: the IPv6 fake takes the IPv4 fake's port.
    fakes::ScriptedSmtpOptions v6 = v4;
    v6.address = asio::ip::make_address("::1");
    v6.port = smtp4->port();
    smtp6 = std::make_unique<fakes::ScriptedSmtp>(io.get_executor(), fakes::starttls_session(creds), v6);
    smtp6->start();
  }

  DomainResult scan(bool ipv4, bool ipv6) {
    dns::ResolverConfig config;
    config.servers = {dns_server.endpoint()};
    config.timeout = 1s;
    dns::Resolver resolver(io.get_executor(), config);
    scan::DomainScanSettings settings;
    settings.port = smtp4->port();
    settings.ipv4 = ipv4;
    settings.ipv6 = ipv6;
    settings.probe.ehlo_name = "scanner.mxtls.test";
    settings.probe.timeouts.probe = 10s;
    tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = ca.cert_pem()});
    scan::ProbeRunner run = [&](const scan::ProbeTarget& target, ProbeResult& out) { return scan::run_probe(target, settings.probe, context, out); };
    DomainResult result;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      std::string input = "DUAL.test", ascii = "dual.test";
      result = co_await scan::scan_domain(std::move(input), std::move(ascii), resolver, settings, run);
      dns_server.stop();
      smtp4->stop();
      smtp6->stop();
    }, asio::detached);
    io.restart();
    io.run();
    report::judge_domain(result);
    return result;
  }
};

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("every A and AAAA of every MX is probed, in preference order") {
  DualStack lab;
  const auto d = lab.scan(true, true);
  CHECK(d.kind == DomainKind::mx);
  CHECK(d.input == "DUAL.test");
  REQUIRE(d.mx_hosts.size() == 2);
  CHECK(d.mx_hosts[0].name == "mx.dual.test");
  CHECK(d.mx_hosts[0].preference == 10);
  CHECK(d.mx_hosts[1].name == "backup.dual.test");
  REQUIRE(d.probes.size() == 3);
  std::vector<std::string> seen;
  for (std::size_t i : report::delivery_order(d)) {
    const auto& p = d.probes[i];
    CHECK(p.status == Status::ok);
    REQUIRE(p.tls.has_value());
    CHECK(p.tls->verdict == CertVerdict::verified);
    seen.push_back(p.mx + "[" + p.ip + "]");
  }
  CHECK(seen.front().rfind("mx.dual.test[", 0) == 0);
  CHECK(seen.back() == "backup.dual.test[::1]");
  CHECK(d.gmail_lock == GmailLock::grey);
  CHECK(lab.smtp6->connections() == 2);
  CHECK(lab.smtp4->connections() == 1);
  CHECK_FALSE(lab.smtp4->client_sent_mail_commands());
  CHECK_FALSE(lab.smtp6->client_sent_mail_commands());
}

TEST_CASE("-6 probes only IPv6 addresses; -4 leaves the IPv6-only MX without address") {
  SUBCASE("-6") {
    DualStack lab;
    const auto d = lab.scan(false, true);
    REQUIRE(d.probes.size() == 2);
    for (const auto& p : d.probes) CHECK(p.ip == "::1");
    CHECK(lab.smtp4->connections() == 0);
  }
  SUBCASE("-4") {
    DualStack lab;
    const auto d = lab.scan(true, false);
    REQUIRE(d.probes.size() == 2);
    const auto order = report::delivery_order(d);
    CHECK(d.probes[order[0]].ip == "127.0.0.1");
    CHECK(d.probes[order[0]].status == Status::ok);
    const auto& backup = d.probes[order[1]];
    CHECK(backup.mx == "backup.dual.test");
    CHECK(backup.status == Status::dns_error);
    CHECK(backup.failed_phase == Phase::resolve_addr);
    CHECK(backup.error == "backup.dual.test: no A records");
    CHECK(lab.smtp6->connections() == 0);
  }
}

TEST_CASE("SERVFAIL on the MX lookup is a dns-error record, not an exception") {
  DualStack lab;
  dns::ZoneServerOptions faults;
  faults.servfail_names = {"dual.test"};
  lab.dns_server.set_options(faults);
  const auto d = lab.scan(true, true);
  CHECK(d.kind == DomainKind::dns_error);
  CHECK(ascii_lower(d.error).find("servfail") != std::string::npos);
  REQUIRE(d.probes.size() == 1);
  CHECK(d.probes[0].status == Status::dns_error);
  CHECK(d.probes[0].failed_phase == Phase::resolve_mx);
  CHECK_FALSE(d.gmail_lock.has_value());
  CHECK(lab.smtp4->connections() == 0);
}

TEST_CASE("a hostile zone's 20 MX hosts and 12 addresses per host are capped, and the rest listed") {
  std::string many = "$ORIGIN many.test.\n$TTL 300\n@ IN SOA ns.many.test. h.many.test. ( 1 3600 600 86400 300 )\n"
                     "@ IN NS ns.many.test.\nns IN A 127.0.0.1\n";
  for (int i = 0; i < 20; ++i) {
    const std::string host = "mx" + std::to_string(100 + i);
    many += "@ IN MX " + std::to_string(i) + " " + host + ".many.test.\n";
    for (int a = 1; a <= 12; ++a) many += host + " IN A 127.0.9." + std::to_string(a) + "\n";
  }
  asio::io_context io;
  dns::ZoneServer dns_server{io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, many};
  dns_server.start();
  dns::ResolverConfig config;
  config.servers = {dns_server.endpoint()};
  config.timeout = 1s;
  dns::Resolver resolver(io.get_executor(), config);
  scan::DomainScanSettings settings;
  settings.ipv6 = false;
  settings.max_mx_hosts = 3;
  settings.max_addresses_per_host = 2;
  // No connections: the runner records what it was asked to probe.
  std::vector<std::string> asked;
  scan::ProbeRunner run = [&asked](const scan::ProbeTarget& target, ProbeResult& out) -> asio::awaitable<void> {
    asked.push_back(target.mx + "[" + target.address.to_string() + "]");
    out = scan::result_for(target);
    out.status = Status::refused;
    co_return;
  };
  DomainResult d;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::string input = "many.test", ascii = "many.test";
    d = co_await scan::scan_domain(std::move(input), std::move(ascii), resolver, settings, run);
    dns_server.stop();
  }, asio::detached);
  io.run();
  CHECK(asked.size() == 6);
  CHECK(d.probes.size() == 6);  // no record for the hosts left out
  REQUIRE(d.mx_hosts.size() == 20);
  CHECK(d.mx_hosts[0].name == "mx100.many.test");
  CHECK(d.mx_hosts[0].addresses.size() == 2);
  CHECK(d.mx_hosts[0].error == "only the first 2 of 12 addresses are probed");
  CHECK(d.mx_hosts[2].name == "mx102.many.test");
  CHECK(d.mx_hosts[3].name == "mx103.many.test");
  CHECK(d.mx_hosts[3].addresses.empty());
  CHECK(d.mx_hosts[3].error == "not probed: only the 3 most preferred of 20 MX hosts are probed");
  CHECK(d.mx_hosts[19].error == d.mx_hosts[3].error);
}

}  // TEST_SUITE
