// The probe scheduler with a fake prober (no network): one probe per (IP, port, MX) shared by
// every domain, the per-IP and global connection caps, the connection pacer, back-off and
// bounded retries after 4xx, exclusions, and the bounded cache of finished probes.
#include "scan/scheduler.hpp"
#include "scheduler_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <map>

using namespace mxtls;
using namespace mxtls::scan;
using mxtls::scan::testing::run_all;
using namespace std::chrono_literals;

namespace {

// A prober that holds each "connection" open for `hold`, counting what is open at once.
struct FakeProber {
  asio::io_context& io;
  std::chrono::milliseconds hold{20};
  std::size_t calls = 0, open = 0, max_open = 0;
  std::map<std::string, std::size_t> open_per_ip, max_per_ip;
  std::vector<int> greeting_codes;  // per call: 0 → ok, else a rejected greeting with this code
  std::size_t out_of_descriptors = 0;  // the first calls fail as connect() does on EMFILE

  ProbeScheduler::Prober prober() {
    return [this](const ProbeTarget& target, ProbeResult& out) -> asio::awaitable<void> {
      const std::size_t call = calls++;
      const std::string ip = target.address.to_string();
      ++open;
      max_open = std::max(max_open, open);
      max_per_ip[ip] = std::max(max_per_ip[ip], ++open_per_ip[ip]);
      asio::steady_timer timer(io, hold);
      auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
      --open;
      --open_per_ip[ip];
      ProbeResult r;
      r.domain = target.domain;
      r.mx = target.mx;
      r.preference = target.preference;
      r.ip = ip;
      r.port = target.port;
      r.started_at = "t" + std::to_string(call);
      const int code = call < greeting_codes.size() ? greeting_codes[call] : 0;
      if (call < out_of_descriptors) {
        r.status = Status::internal;
        r.failed_phase = Phase::connect;
        r.error = "local resources exhausted: Too many open files";
      } else if (code == 0) {
        r.status = Status::ok;
        r.greeting_code = 220;
      } else {
        r.status = Status::smtp_reject;
        r.failed_phase = Phase::greeting;
        r.greeting_code = code;
        r.error = "greeting " + std::to_string(code) + " busy";
      }
      out = std::move(r);
    };
  }
};

ProbeTarget target(const std::string& domain, const std::string& mx, const char* ip, int preference = 10) {
  return ProbeTarget{domain, mx, preference, asio::ip::make_address(ip), 25};
}


}  // namespace

TEST_SUITE("scan") {

TEST_CASE("ten thousand domains at one provider cause one connection per MX address") {
  asio::io_context io(1);
  FakeProber fake{io};
  ProbeScheduler scheduler(io.get_executor(), SchedulerSettings{}, fake.prober());
  std::vector<ProbeTarget> targets;
  for (int i = 0; i < 10000; ++i) {
    targets.push_back(target("d" + std::to_string(i) + ".test", "mx1.provider.test", "127.0.0.10", 5 + i % 3));
    targets.push_back(target("d" + std::to_string(i) + ".test", "mx2.provider.test", "127.0.0.11", 20));
  }
  const auto results = run_all(io, scheduler, targets);
  CHECK(fake.calls == 2);
  CHECK(scheduler.counters().connections == 2);
  CHECK(scheduler.counters().probes == 2);
  CHECK(scheduler.counters().reused == 19998);
  // Each copy is filed under its own domain with its own preference.
  CHECK(results[0].domain == "d0.test");
  CHECK(results[2 * 1234].domain == "d1234.test");
  CHECK(results[2 * 1234].preference == 5 + 1234 % 3);
  CHECK(results[2 * 1234].status == Status::ok);
  CHECK(results[2 * 1234 + 1].mx == "mx2.provider.test");
}

TEST_CASE("the same MX name on another port or address, or another name on one address, is another probe") {
  asio::io_context io(1);
  FakeProber fake{io};
  ProbeScheduler scheduler(io.get_executor(), SchedulerSettings{}, fake.prober());
  auto other_port = target("a.test", "mx.test", "127.0.0.10");
  other_port.port = 2525;
  run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.10"), other_port, target("a.test", "mx.test", "127.0.0.12"),
                          target("b.test", "other.test", "127.0.0.10")});
  CHECK(fake.calls == 4);
}

TEST_CASE("per-IP and global caps hold, and every probe still runs") {
  asio::io_context io(1);
  FakeProber fake{io};
  SchedulerSettings settings;
  settings.concurrency = 5;
  settings.per_ip = 2;
  ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
  std::vector<ProbeTarget> targets;
  // 30 distinct MX names on 3 addresses (no sharing): 30 probes.
  for (int i = 0; i < 30; ++i)
    targets.push_back(target("d" + std::to_string(i) + ".test", "mx" + std::to_string(i) + ".test",
                             i % 3 == 0 ? "127.0.0.20" : i % 3 == 1 ? "127.0.0.21" : "127.0.0.22"));
  const auto results = run_all(io, scheduler, targets);
  CHECK(fake.calls == 30);
  CHECK(fake.max_open <= 5);
  CHECK(fake.max_open >= 4);  // the cap is used, not just respected
  for (const auto& [ip, n] : fake.max_per_ip) CHECK_MESSAGE(n <= 2, ip);
  for (const auto& r : results) CHECK(r.status == Status::ok);
  CHECK(scheduler.open_connections() == 0);
}

TEST_CASE("a server answering 421 is backed off and retried, within bounds, and the result says so") {
  asio::io_context io(1);
  FakeProber fake{io};
  SchedulerSettings settings;
  settings.retries = 2;
  settings.retry_delay = 10ms;
  SUBCASE("busy twice, then fine") {
    fake.greeting_codes = {421, 421, 0};
    ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.30")}).front();
    CHECK(std::chrono::steady_clock::now() - start >= 30ms);  // 10 ms, then 20 ms of back-off
    CHECK(fake.calls == 3);
    CHECK(r.status == Status::ok);
    CHECK(r.attempts == 3);
    REQUIRE(r.earlier_attempts.size() == 2);
    CHECK(r.earlier_attempts[0] == "t0 greeting 421 busy");
    CHECK(scheduler.counters().retries == 2);
  }
  SUBCASE("always busy: gives up after the retries") {
    fake.greeting_codes = {421, 450, 421, 421};
    ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
    const auto r = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.30")}).front();
    CHECK(fake.calls == 3);
    CHECK(r.status == Status::smtp_reject);
    CHECK(r.attempts == 3);
    CHECK(r.earlier_attempts.size() == 2);
  }
  SUBCASE("a 554 is final: no retry") {
    fake.greeting_codes = {554};
    ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
    const auto r = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.30")}).front();
    CHECK(fake.calls == 1);
    CHECK(r.attempts == 1);
    CHECK(r.earlier_attempts.empty());
  }
}

TEST_CASE("out of descriptors or local ports is back-pressure: the connection waits, not an attempt lost") {
  asio::io_context io(1);
  FakeProber fake{io};
  fake.hold = 1ms;
  SchedulerSettings settings;
  SUBCASE("EMFILE three times, then the probe runs") {
    fake.out_of_descriptors = 3;
    ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.30")}).front();
    CHECK(std::chrono::steady_clock::now() - start >= 350ms);  // 50 + 100 + 200 ms of waiting
    CHECK(fake.calls == 4);
    CHECK(r.status == Status::ok);
    CHECK(r.attempts == 1);  // the server was asked once
    CHECK(r.earlier_attempts.empty());
    CHECK(scheduler.counters().local_waits == 3);
  }
  SUBCASE("it never clears: after the wait limit the failure is the result") {
    fake.out_of_descriptors = 1000;
    settings.local_wait_limit = 100ms;
    ProbeScheduler scheduler(io.get_executor(), settings, fake.prober());
    const auto r = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.0.30")}).front();
    CHECK(r.status == Status::internal);
    CHECK(local_resources_exhausted(r));
    CHECK(fake.calls == 3);  // waited 50, then 100 ms
  }
}

TEST_CASE("temporary_rejection: 4xx at greeting, EHLO or STARTTLS only") {
  ProbeResult r;
  r.status = Status::smtp_reject;
  r.failed_phase = Phase::greeting;
  r.greeting_code = 421;
  CHECK(temporary_rejection(r));
  r.greeting_code = 554;
  CHECK_FALSE(temporary_rejection(r));
  r.failed_phase = Phase::starttls;
  r.starttls_code = 454;
  CHECK(temporary_rejection(r));
  r.failed_phase = Phase::ehlo;
  r.error = "EHLO answered 421 too busy";
  CHECK(temporary_rejection(r));
  r.status = Status::timeout;
  CHECK_FALSE(temporary_rejection(r));
}

TEST_CASE("excluded addresses and MX names are never contacted") {
  asio::io_context io(1);
  FakeProber fake{io};
  ExclusionList exclude;
  CHECK(exclude.add("127.0.40.0/24", "x.txt:1").empty());
  CHECK(exclude.add("optout.test", "x.txt:2").empty());
  ProbeScheduler scheduler(io.get_executor(), SchedulerSettings{}, fake.prober(), &exclude);
  const auto results = run_all(io, scheduler, {target("a.test", "mx.test", "127.0.40.7"), target("b.test", "mx.optout.test", "127.0.41.1"),
                                               target("c.test", "mx.test", "127.0.41.1")});
  CHECK(fake.calls == 1);
  CHECK(results[0].status == Status::excluded);
  CHECK(results[0].error == "not contacted: excluded by x.txt:1 127.0.40.0/24");
  CHECK(results[0].attempts == 0);
  CHECK(results[1].status == Status::excluded);
  CHECK(results[2].status == Status::ok);
  CHECK(scheduler.counters().excluded == 2);
}

namespace {
// A scheduler with a probe cache of `entries`, whose prober answers at once; probe(mx) runs
// one target of that MX name on one fixed address.
struct CacheBench {
  explicit CacheBench(std::size_t entries) : fake{io}, scheduler(io.get_executor(), settings_for(entries), fake.prober()) {
    fake.hold = 0ms;
  }
  static SchedulerSettings settings_for(std::size_t entries) {
    SchedulerSettings settings;
    settings.cache_entries = entries;
    return settings;
  }
  void probe(const char* mx) { run_all(io, scheduler, {target("x.test", mx, "127.0.0.50")}); }
  asio::io_context io{1};  // first: the others are built on it
  FakeProber fake;
  ProbeScheduler scheduler;
};
}  // namespace

TEST_CASE("finished probes are cached up to the bound, least recently used first out") {
  CacheBench bench(2);
  bench.probe("a.test");
  bench.probe("b.test");
  bench.probe("a.test");  // cached: a is now the most recent
  CHECK(bench.fake.calls == 2);
  bench.probe("c.test");  // evicts b
  CHECK(bench.scheduler.cached() == 2);
  bench.probe("a.test");
  CHECK(bench.fake.calls == 3);
  bench.probe("b.test");  // evicted earlier: probed again
  CHECK(bench.fake.calls == 4);
}

TEST_CASE("without a probe cache every target is probed again and nothing is kept") {
  CacheBench bench(0);
  bench.probe("a.test");
  bench.probe("a.test");
  CHECK(bench.fake.calls == 2);
  CHECK(bench.scheduler.cached() == 0);
}

TEST_CASE("the pacer spaces new connections by the rate") {
  asio::io_context io(1);
  Pacer pacer(200);  // 5 ms apart
  std::vector<std::chrono::steady_clock::time_point> times;
  for (int i = 0; i < 6; ++i)
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await pacer.wait();
      times.push_back(std::chrono::steady_clock::now());
    }, asio::detached);
  io.run();
  REQUIRE(times.size() == 6);
  CHECK(times.back() - times.front() >= 24ms);  // at least 5 gaps of ~5 ms
}

TEST_CASE("Slots hand over in FIFO order and never exceed the capacity") {
  asio::io_context io(1);
  Slots slots(io.get_executor(), 2);
  std::vector<int> order;
  int held = 0, max_held = 0;
  for (int i = 0; i < 8; ++i)
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      co_await slots.acquire();
      SlotLease lease(slots);
      order.push_back(i);
      max_held = std::max(max_held, ++held);
      asio::steady_timer t(io, 1ms);
      auto [ec] = co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
      --held;
    }, asio::detached);
  io.run();
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(max_held == 2);
  CHECK(slots.idle());
}

}  // TEST_SUITE
