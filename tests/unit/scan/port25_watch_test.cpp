// Blocked outbound port 25: the verdict from the first connection attempts (Port25Watch), the
// scheduler holding failed probes until it and stopping after "blocked" (fake prober), and a
// real scan whose connections time out (listeners with a full accept queue drop the SYNs):
// it stops early, writes nothing half-judged, and --resume from an open network finishes it.
#include "scan/bulk.hpp"
#include "scan/port25_watch.hpp"
#include "scan/scheduler.hpp"
#include "scheduler_support.hpp"

#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "fakes/scripted_smtp.hpp"
#include "report/jsonl_read.hpp"
#include "scan/output.hpp"
#include "tls/client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace mxtls;
using namespace mxtls::scan;
using mxtls::scan::testing::run_all;
using namespace std::chrono_literals;
using Verdict = Port25Watch::Verdict;

namespace {

asio::ip::address v4(int network, int host = 1) {
  return asio::ip::make_address("127.77." + std::to_string(network) + "." + std::to_string(host));
}

// `count` attempts with `outcome`, spread round-robin over `networks` /24s.
void record_many(Port25Watch& watch, std::size_t count, std::size_t networks, ConnectOutcome outcome, int first = 0) {
  for (std::size_t i = 0; i < count; ++i)
    watch.record(v4(first + static_cast<int>(i % networks), 1 + static_cast<int>(i / networks)), outcome);
}

ProbeResult connect_failure(const ProbeTarget& target, Status status, const std::string& error) {
  ProbeResult r = result_for(target);
  r.status = status;
  r.failed_phase = Phase::connect;
  r.error = error;
  return r;
}

// A prober whose connections fail at connect (a time-out) or succeed, per address.
struct FailingProber {
  asio::io_context& io;
  std::set<std::string> reachable;  // addresses whose "connection" works
  std::size_t calls = 0;

  ProbeScheduler::Prober prober() {
    return [this](const ProbeTarget& target, ProbeResult& out) -> asio::awaitable<void> {
      ++calls;
      asio::steady_timer timer(io, 1ms);
      auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
      if (reachable.contains(target.address.to_string())) {
        out = result_for(target);
        out.status = Status::ok;
        out.greeting_code = 220;
        co_return;
      }
      out = connect_failure(target, Status::timeout, "connect: no answer within 10 s");
    };
  }
};


std::vector<ProbeTarget> targets_in(int networks, int first = 0) {
  std::vector<ProbeTarget> targets;
  for (int n = first; n < first + networks; ++n)
    targets.push_back(ProbeTarget{"d" + std::to_string(n) + ".test", "mx.d" + std::to_string(n) + ".test", 10, v4(n), 25});
  return targets;
}

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("port 25 watch: sixteen time-outs in eight networks mean a blocked port") {
  Port25Watch watch;
  record_many(watch, 15, 8, ConnectOutcome::timed_out);
  CHECK(watch.verdict(false) == Verdict::undecided);
  CHECK(watch.record(v4(3, 9), ConnectOutcome::timed_out));
  CHECK(watch.verdict(false) == Verdict::blocked);
  CHECK(watch.verdict(true) == Verdict::undecided);
  CHECK(watch.any_blocked());
  CHECK(watch.evidence(false) == "0 of 16 connections to port 25 in 8 networks got through: 16 timed out");
  // After the verdict the sample is closed.
  CHECK_FALSE(watch.record(v4(40), ConnectOutcome::connected));
  CHECK(watch.attempts(false) == 16);
}

TEST_CASE("port 25 watch: mixed failures, one connection in sixteen is still a block") {
  Port25Watch watch;
  record_many(watch, 9, 9, ConnectOutcome::timed_out);
  watch.record(v4(20), ConnectOutcome::connected);
  record_many(watch, 3, 3, ConnectOutcome::refused, 30);
  record_many(watch, 3, 3, ConnectOutcome::host_unreachable, 40);
  CHECK(watch.verdict(false) == Verdict::blocked);
  CHECK(watch.evidence(false, 2525) ==
        "1 of 16 connections to port 2525 in 16 networks got through: 9 timed out, 3 refused, 3 host unreachable");
}

TEST_CASE("port 25 watch: two connections through mean the port is open, at once") {
  Port25Watch watch;
  watch.record(v4(1), ConnectOutcome::timed_out);
  watch.record(v4(2), ConnectOutcome::connected);
  CHECK(watch.verdict(false) == Verdict::undecided);
  CHECK(watch.record(v4(3), ConnectOutcome::connected));
  CHECK(watch.verdict(false) == Verdict::reachable);
  CHECK_FALSE(watch.any_blocked());
}

TEST_CASE("port 25 watch: a dead provider is not a blocked port (one /24, however many attempts)") {
  Port25Watch watch;
  for (int host = 1; host <= 100; ++host) watch.record(v4(5, host), ConnectOutcome::timed_out);
  CHECK(watch.verdict(false) == Verdict::undecided);
  CHECK(watch.give_up(false));
  CHECK(watch.verdict(false) == Verdict::inconclusive);
  CHECK_FALSE(watch.give_up(false));
  CHECK(watch.evidence(false) == "0 of 100 connections to port 25 in 1 network got through: 100 timed out");
}

TEST_CASE("port 25 watch: a local firewall (EPERM/EACCES) is certain after four attempts in two networks") {
  Port25Watch watch;
  record_many(watch, 3, 3, ConnectOutcome::local_firewall);
  CHECK(watch.verdict(false) == Verdict::undecided);
  watch.record(v4(0, 2), ConnectOutcome::local_firewall);
  CHECK(watch.verdict(false) == Verdict::blocked);
  CHECK(watch.evidence(false) ==
        "0 of 4 connections to port 25 in 3 networks got through: 4 refused by this machine's firewall (EPERM/EACCES)");
}

TEST_CASE("port 25 watch: no IPv6 route is its own verdict and leaves IPv4 alone") {
  Port25Watch watch;
  for (int n = 0; n < 16; ++n) {
    const auto address = asio::ip::make_address("fd00:" + std::to_string(n % 8) + "::" + std::to_string(n + 1));
    watch.record(address, ConnectOutcome::no_route);
  }
  CHECK(watch.verdict(true) == Verdict::no_route);
  CHECK_FALSE(watch.any_blocked());
  CHECK(watch.verdict(false) == Verdict::undecided);
  // An IPv4-mapped address counts as IPv4.
  watch.record(asio::ip::make_address("::ffff:127.77.1.1"), ConnectOutcome::connected);
  CHECK(watch.attempts(false) == 1);
  CHECK(watch.attempts(true) == 16);
}

TEST_CASE("connect_outcome: what each connect failure says about the path") {
  const ProbeTarget t{"a.test", "mx.a.test", 10, v4(1), 25};
  CHECK(connect_outcome(connect_failure(t, Status::timeout, "connect: no answer within 10 s")) == ConnectOutcome::timed_out);
  CHECK(connect_outcome(connect_failure(t, Status::refused, "connection refused")) == ConnectOutcome::refused);
  CHECK(connect_outcome(connect_failure(t, Status::refused, "host unreachable: No route to host")) ==
        ConnectOutcome::host_unreachable);
  CHECK(connect_outcome(connect_failure(t, Status::refused, "no route: Network is unreachable")) == ConnectOutcome::no_route);
  CHECK(connect_outcome(connect_failure(t, Status::refused, "blocked by a firewall on this machine: Operation not permitted")) ==
        ConnectOutcome::local_firewall);
  CHECK_FALSE(connect_outcome(connect_failure(t, Status::internal, "local resources exhausted: Too many open files")));
  ProbeResult greeted = result_for(t);
  greeted.status = Status::smtp_reject;
  greeted.failed_phase = Phase::greeting;
  CHECK(connect_outcome(greeted) == ConnectOutcome::connected);
  ProbeResult excluded = result_for(t);
  excluded.status = Status::excluded;
  excluded.failed_phase = Phase::connect;
  CHECK_FALSE(connect_outcome(excluded));
}

TEST_CASE("scheduler: failed connections wait for the verdict; after 'blocked' nothing more is connected") {
  asio::io_context io(1);
  FailingProber fake{io};
  SchedulerSettings settings;
  settings.concurrency = 4;
  ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
  std::vector<bool> verdicts;
  scheduler.on_port25_verdict([&](bool ipv6) { verdicts.push_back(ipv6); });
  const auto results = run_all(io, scheduler, targets_in(30));
  CHECK(scheduler.port25().verdict(false) == Verdict::blocked);
  CHECK(verdicts == std::vector<bool>{false});
  // Four at a time: the verdict comes with the sixteenth failure; the rest are never tried.
  CHECK(fake.calls >= 16);
  CHECK(fake.calls <= 20);
  for (const auto& r : results) {
    CHECK_MESSAGE(held_back_by_blocked_port(r), r.domain << ": " << r.error);
    CHECK(r.attempts == 0);
  }
  CHECK(results[0].error ==
        "not probed: outbound SMTP looks blocked by this machine's network (0 of 16 connections to port 25 in 16 "
        "networks got through: 16 timed out)");
  CHECK(scheduler.counters().held_for_port25 >= 15);

  const std::size_t calls = fake.calls;
  const auto later = run_all(io, scheduler, targets_in(1, 50));
  CHECK(held_back_by_blocked_port(later[0]));
  CHECK(fake.calls == calls);
}

TEST_CASE("scheduler: with the port open, failures are handed back as they are") {
  asio::io_context io(1);
  FailingProber fake{io};
  fake.reachable = {v4(0).to_string(), v4(1).to_string()};
  SchedulerSettings settings;
  settings.concurrency = 1;  // in list order: two connections through, then failures
  ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
  const auto results = run_all(io, scheduler, targets_in(20));
  CHECK(scheduler.port25().verdict(false) == Verdict::reachable);
  CHECK(results[0].status == Status::ok);
  CHECK(results[5].status == Status::timeout);
  CHECK(fake.calls == 20);
  CHECK(scheduler.counters().held_for_port25 == 0);
}

TEST_CASE("scheduler: too few servers for a verdict, the failures go on after the stall time") {
  asio::io_context io(1);
  FailingProber fake{io};
  SchedulerSettings settings;
  settings.port25_stall = 50ms;
  ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
  const auto start = std::chrono::steady_clock::now();
  const auto results = run_all(io, scheduler, targets_in(3));
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(scheduler.port25().verdict(false) == Verdict::inconclusive);
  for (const auto& r : results) CHECK(r.status == Status::timeout);
  CHECK(scheduler.counters().held_for_port25 == 3);
}

TEST_CASE("scheduler: a stall check still asleep when its scheduler is gone ends quietly") {
  asio::io_context io(1);
  FailingProber fake{io};
  SchedulerSettings settings;
  settings.port25_stall = 1s;  // the check sleeps in 100 ms ticks
  auto scheduler = std::make_unique<ProbeScheduler>(io.get_executor(), settings, fake.prober());
  const auto targets = targets_in(16);
  std::vector<ProbeResult> results(targets.size());
  std::size_t done = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      co_await scheduler->run(targets[i], results[i]);
      if (++done == targets.size()) io.stop();  // the verdict came; the stall check still sleeps
    }, asio::detached);
  }
  io.run();
  REQUIRE(done == targets.size());
  CHECK(scheduler->port25().verdict(false) == Verdict::blocked);
  scheduler.reset();
  // The check wakes with its scheduler gone: under ASan a use after free would fail here.
  io.restart();
  io.run();
  CHECK(held_back_by_blocked_port(results[0]));
}

TEST_CASE("scheduler: --no-port25-check keeps every failure and connects to everything") {
  asio::io_context io(1);
  FailingProber fake{io};
  SchedulerSettings settings;
  settings.watch_port25 = false;
  ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
  const auto results = run_all(io, scheduler, targets_in(30));
  CHECK(fake.calls == 30);
  for (const auto& r : results) CHECK(r.status == Status::timeout);
  CHECK(scheduler.port25().verdict(false) == Verdict::undecided);
}

TEST_CASE("bulk scan: connections that time out everywhere stop the scan early; --resume from an open network finishes it") {
  constexpr int domains = 24;
  asio::io_context io;
  std::ostringstream zone;
  zone << "$ORIGIN test.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. ( 1 3600 600 86400 300 )\n@ IN NS ns.test.\n"
       << "ns IN A 127.0.0.1\n";
  std::string list;
  for (int n = 0; n < domains; ++n) {
    zone << "d" << n << " IN MX 10 mx.d" << n << ".test.\nmx.d" << n << " IN A " << v4(n).to_string() << "\n";
    list += "d" + std::to_string(n) + ".test\n";
  }
  dns::ZoneServer dns_server{io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, zone.str()};
  dns_server.start();
  const auto dir = std::filesystem::temp_directory_path() / ("mxtls-port25-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string out = (dir / "scan.jsonl").string();
  auto ca = tls::CertificateAuthority::create("mxtls port 25 test CA");

  // A listener whose accept queue is full drops every further SYN: from the outside that is a
  // filtered port, and connect() times out (no root, no firewall needed).
  std::vector<asio::ip::tcp::acceptor> listeners;
  std::vector<asio::ip::tcp::socket> fillers;
  std::uint16_t port = 0;
  for (int n = 0; n < domains; ++n) {
    auto& listener = listeners.emplace_back(io);
    listener.open(asio::ip::tcp::v4());
    listener.set_option(asio::socket_base::reuse_address(true));
    listener.bind({v4(n), port});
    listener.listen(0);
    port = listener.local_endpoint().port();
    fillers.emplace_back(io).connect(listener.local_endpoint());
  }

  struct Run {
    BulkCounters counters;
    std::vector<std::pair<bool, Verdict>> verdicts;
  };
  const auto scan = [&](std::uint16_t smtp_port, bool resume) {
    dns::ResolverConfig config;
    config.servers = {dns_server.endpoint()};
    config.timeout = 2s;
    dns::Resolver resolver(io.get_executor(), config);
    tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = ca.cert_pem()});
    BulkSettings settings;
    settings.domain.port = smtp_port;
    settings.domain.ipv6 = false;
    settings.domain.probe.ehlo_name = "scanner.mxtls.test";
    settings.domain.probe.timeouts.connect = 300ms;
    settings.scheduler.concurrency = 8;
    ResumeState resumed;
    if (resume) resumed = prepare_resume(out, OutputFormat::jsonl);
    ResultWriter writer(out, OutputFormat::jsonl);
    Run run;
    BulkHooks hooks;
    hooks.on_domain = [&](const DomainResult& d) { writer.write(d); };
    hooks.on_port25_verdict = [&](bool ipv6, const Port25Watch& watch) { run.verdicts.emplace_back(ipv6, watch.verdict(ipv6)); };
    if (resume) hooks.is_done = [&](const std::string& ascii) { return resumed.done.contains(ascii); };
    BulkScan bulk(io, resolver, context, nullptr, settings, hooks);
    auto input = std::make_unique<DomainListReader>(std::make_unique<std::istringstream>(list), "list.txt");
    asio::co_spawn(io, bulk.run(std::move(input)), [&](std::exception_ptr) { io.stop(); });
    io.restart();
    io.run();
    run.counters = bulk.counters();
    return run;
  };
  const auto records = [&] {
    std::ifstream in(out);
    report::JsonlDomainReader reader(in, out);
    std::map<std::string, DomainResult> seen;
    while (auto d = reader.next()) {
      CHECK_MESSAGE(!seen.contains(d->domain), d->domain << " written twice");
      seen[d->domain] = std::move(*d);
    }
    return seen;
  };

  const auto start = std::chrono::steady_clock::now();
  const auto blocked = scan(port, false);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(blocked.verdicts.size() == 1);
  CHECK(blocked.verdicts[0] == std::pair<bool, Verdict>{false, Verdict::blocked});
  CHECK(blocked.counters.finished == 0);
  CHECK(blocked.counters.held_back == blocked.counters.started);
  CHECK(blocked.counters.started < domains);  // stopped before the end of the list
  CHECK(records().empty());
  // Two rounds of eight 300 ms time-outs make the sample; the rest are not waited for.
  CHECK(took >= 600ms);
  MESSAGE("blocked port: verdict and stop after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                                  << " ms, " << blocked.counters.started << " domains held back");

  // From a network that lets port 25 out: every server answers.
  listeners.clear();
  fillers.clear();
  auto creds = ca.issue({.common_name = "mx.test", .dns_names = {"*.d0.test"}});
  std::vector<std::unique_ptr<fakes::ScriptedSmtp>> servers;
  std::uint16_t open_port = 0;
  for (int n = 0; n < domains; ++n) {
    fakes::ScriptedSmtpOptions options;
    options.address = v4(n);
    options.port = open_port;
    options.drain_timeout = 200ms;
    servers.push_back(std::make_unique<fakes::ScriptedSmtp>(io.get_executor(), fakes::starttls_session(creds), options));
    servers.back()->start();
    open_port = servers.back()->port();
  }
  const auto resumed = scan(open_port, true);
  CHECK(resumed.counters.already_done == 0);
  CHECK(resumed.counters.finished == domains);
  REQUIRE(resumed.verdicts.size() == 1);
  CHECK(resumed.verdicts[0].second == Verdict::reachable);
  const auto all = records();
  CHECK(all.size() == domains);
  for (const auto& [name, d] : all) {
    REQUIRE_MESSAGE(d.probes.size() == 1, name);
    CHECK_MESSAGE(d.probes[0].status == Status::ok, name << ": " << d.probes[0].error);
  }
  for (const auto& server : servers) CHECK_FALSE(server->client_sent_mail_commands());
  std::filesystem::remove_all(dir);
}

}  // TEST_SUITE
