// Resolver against the in-process ZoneServer on 127.0.0.1 (port 0): record types, negative
// answers, CNAME re-queries, the AD bit, and the faults a stub must survive (silence, spoofed
// IDs and questions, other ports, truncation, SERVFAIL). Deadlines are short but bounds generous.
#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "dns/wire.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace mxtls::dns;
using namespace std::chrono_literals;

const char* const test_zones = R"ZONE(
$TTL 300
$ORIGIN example.test.
@        IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300
@        IN MX  20 mx2
@        IN MX  10 mx1
@        IN TXT "v=spf1 " "-all"
mx1      IN A    127.0.0.11
mx1      IN AAAA ::1
mx2      IN A    127.0.0.12
_25._tcp.mx1 IN TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
www      IN CNAME mx1
alias    IN CNAME host.other.test.
loop1    IN CNAME loop2
loop2    IN CNAME loop1
cross    IN CNAME cross.other.test.
nomail   IN MX  0 .
broken   IN A    127.0.0.13

$ORIGIN other.test.
@        IN SOA ns.other.test. admin.other.test. 1 3600 600 86400 300
host     IN A   127.0.0.21
cross    IN CNAME cross.example.test.

$ORIGIN secure.test.
@        IN SOA ns.secure.test. admin.secure.test. 1 3600 600 86400 300
@        IN MX  10 mx.secure.test.
mx       IN A   127.0.0.31
)ZONE";

// A ZoneServer on 127.0.0.1 plus an io_context to run lookups against it.
struct Lab {
  asio::io_context io;
  ZoneServer server;

  explicit Lab(ZoneServerOptions options = {}, std::string zone = test_zones)
      : server(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, std::move(zone),
               std::move(options)) {
    server.start();
  }

  ResolverConfig config(std::chrono::milliseconds timeout = 2000ms, int attempts = 2) {
    ResolverConfig config;
    config.servers = {server.endpoint()};
    config.timeout = timeout;
    config.attempts = attempts;
    return config;
  }

  // Runs one lookup to completion, then stops the server so io.run() returns.
  template <typename Lookup>
  auto run(ResolverConfig config, Lookup lookup) {
    Resolver resolver(io.get_executor(), std::move(config));
    using Result = typename decltype(lookup(resolver))::value_type;
    std::optional<Result> result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          result = co_await lookup(resolver);
          server.stop();
        },
        asio::detached);
    io.run_for(30s);  // a safety net only; every lookup has its own deadlines
    REQUIRE(result.has_value());
    return std::move(*result);
  }
};

template <typename Answer>
Answer elapsed_run(Lab& lab, ResolverConfig config, std::chrono::milliseconds& elapsed,
                   asio::awaitable<Answer> (Resolver::*method)(std::string), std::string name) {
  const auto start = std::chrono::steady_clock::now();
  auto answer = lab.run(std::move(config), [&](Resolver& r) { return (r.*method)(name); });
  elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start);
  return answer;
}

}  // namespace

TEST_SUITE("dns") {
  TEST_CASE("resolver: MX records sorted by preference") {
    Lab lab;
    const auto answer = lab.run(lab.config(), [](Resolver& r) { return r.mx("Example.Test."); });
    CHECK(answer.outcome == Outcome::ok);
    CHECK(answer.detail.empty());
    CHECK(answer.canonical_name == "example.test");
    REQUIRE(answer.records.size() == 2);
    CHECK(answer.records[0].preference == 10);
    CHECK(answer.records[0].host == "mx1.example.test");
    CHECK(answer.records[1].host == "mx2.example.test");
    CHECK_FALSE(answer.authenticated);
  }

  TEST_CASE("resolver: A, AAAA, TXT and TLSA") {
    Lab lab;
    const auto a = lab.run(lab.config(), [](Resolver& r) { return r.a("mx1.example.test"); });
    REQUIRE(a.outcome == Outcome::ok);
    REQUIRE(a.addresses.size() == 1);
    CHECK(a.addresses[0] == asio::ip::make_address("127.0.0.11"));

    Lab lab2;
    const auto aaaa =
        lab2.run(lab2.config(), [](Resolver& r) { return r.aaaa("mx1.example.test"); });
    REQUIRE(aaaa.addresses.size() == 1);
    CHECK(aaaa.addresses[0] == asio::ip::make_address("::1"));

    Lab lab3;
    const auto txt = lab3.run(lab3.config(), [](Resolver& r) { return r.txt("example.test"); });
    REQUIRE(txt.texts.size() == 1);
    CHECK(txt.texts[0] == "v=spf1 -all");

    Lab lab4;
    const auto tlsa =
        lab4.run(lab4.config(), [](Resolver& r) { return r.tlsa("_25._tcp.mx1.example.test"); });
    REQUIRE(tlsa.outcome == Outcome::ok);
    REQUIRE(tlsa.records.size() == 1);
    CHECK(tlsa.records[0].usage == 3);
    CHECK(tlsa.records[0].data.size() == 32);
  }

  TEST_CASE("resolver: null MX") {
    Lab lab;
    const auto answer =
        lab.run(lab.config(), [](Resolver& r) { return r.mx("nomail.example.test"); });
    REQUIRE(answer.outcome == Outcome::ok);
    REQUIRE(answer.records.size() == 1);
    CHECK(answer.records[0].host.empty());
  }

  TEST_CASE("resolver: NXDOMAIN, NODATA, empty non-terminal, REFUSED") {
    SUBCASE("NXDOMAIN") {
      Lab lab;
      const auto answer =
          lab.run(lab.config(), [](Resolver& r) { return r.a("missing.example.test"); });
      CHECK(answer.outcome == Outcome::nxdomain);
      CHECK(answer.detail.find("NXDOMAIN") != std::string::npos);
      CHECK(answer.detail.find("127.0.0.1:") != std::string::npos);
    }
    SUBCASE("NODATA") {
      Lab lab;
      const auto answer =
          lab.run(lab.config(), [](Resolver& r) { return r.mx("mx1.example.test"); });
      CHECK(answer.outcome == Outcome::nodata);
      CHECK(answer.records.empty());
    }
    SUBCASE("empty non-terminal is NODATA, not NXDOMAIN") {
      Lab lab;
      const auto answer =
          lab.run(lab.config(), [](Resolver& r) { return r.tlsa("_tcp.mx1.example.test"); });
      CHECK(answer.outcome == Outcome::nodata);
    }
    SUBCASE("name outside the served zones") {
      Lab lab;
      const auto answer = lab.run(lab.config(), [](Resolver& r) { return r.a("elsewhere.test"); });
      CHECK(answer.outcome == Outcome::refused);
      CHECK(answer.detail.find("REFUSED") != std::string::npos);
    }
  }

  TEST_CASE("resolver: CNAME inside a zone, and re-query when the answer stops at a CNAME") {
    SUBCASE("same zone: one answer carries the chain") {
      Lab lab;
      const auto answer =
          lab.run(lab.config(), [](Resolver& r) { return r.a("www.example.test"); });
      REQUIRE(answer.outcome == Outcome::ok);
      CHECK(answer.cnames == std::vector<std::string>{"mx1.example.test"});
      CHECK(answer.canonical_name == "mx1.example.test");
      CHECK(answer.addresses.size() == 1);
      CHECK(lab.server.stats().udp_queries == 1);
    }
    SUBCASE("other zone: the resolver asks for the target") {
      Lab lab;
      const auto answer =
          lab.run(lab.config(), [](Resolver& r) { return r.a("alias.example.test"); });
      REQUIRE(answer.outcome == Outcome::ok);
      CHECK(answer.cnames == std::vector<std::string>{"host.other.test"});
      CHECK(answer.canonical_name == "host.other.test");
      REQUIRE(answer.addresses.size() == 1);
      CHECK(answer.addresses[0] == asio::ip::make_address("127.0.0.21"));
      CHECK(lab.server.stats().udp_queries == 2);
    }
  }

  TEST_CASE("resolver: CNAME loops end in an error, inside one answer and across re-queries") {
    Lab lab;
    const auto inside =
        lab.run(lab.config(), [](Resolver& r) { return r.a("loop1.example.test"); });
    CHECK(inside.outcome == Outcome::error);
    CHECK(inside.detail.find("CNAME loop") != std::string::npos);

    Lab lab2;
    const auto across =
        lab2.run(lab2.config(), [](Resolver& r) { return r.a("cross.example.test"); });
    CHECK(across.outcome == Outcome::error);
    CHECK(across.detail.find("CNAME loop") != std::string::npos);
    CHECK(lab2.server.stats().udp_queries == 2);
  }

  TEST_CASE("resolver: a CNAME chain of more than 8 hops is an error, 8 hops are fine") {
    // Alternating zones, so every hop is its own re-query.
    std::string zones =
        "$ORIGIN a.test.\n@ IN SOA ns admin 1 3600 600 86400 300\n"
        "$ORIGIN b.test.\n@ IN SOA ns admin 1 3600 600 86400 300\n";
    for (int i = 0; i < 10; ++i) {
      const std::string here = "h" + std::to_string(i) + (i % 2 == 0 ? ".a.test." : ".b.test.");
      const std::string next = "h" + std::to_string(i + 1) + (i % 2 == 0 ? ".b.test." : ".a.test.");
      zones += here + " IN CNAME " + next + "\n";
    }
    zones += "h10.a.test. IN A 127.0.0.40\n";
    Lab too_long({}, zones);
    const auto ten = too_long.run(too_long.config(), [](Resolver& r) { return r.a("h0.a.test"); });
    CHECK(ten.outcome == Outcome::error);
    CHECK(ten.detail.find("longer than 8") != std::string::npos);

    Lab just_right({}, zones);
    const auto eight =
        just_right.run(just_right.config(), [](Resolver& r) { return r.a("h2.a.test"); });
    REQUIRE(eight.outcome == Outcome::ok);
    CHECK(eight.cnames.size() == 8);
    CHECK(eight.canonical_name == "h10.a.test");
  }

  TEST_CASE("resolver: the AD bit marks answers from a 'signed' zone") {
    ZoneServerOptions options;
    options.signed_zones = {"secure.test"};
    Lab lab(options);
    const auto secure = lab.run(lab.config(), [](Resolver& r) { return r.mx("secure.test"); });
    REQUIRE(secure.outcome == Outcome::ok);
    CHECK(secure.authenticated);

    Lab lab2(options);
    const auto insecure = lab2.run(lab2.config(), [](Resolver& r) { return r.mx("example.test"); });
    CHECK_FALSE(insecure.authenticated);

    // Without DO/AD in the query a validating resolver does not set AD.
    Lab lab3(options);
    auto config = lab3.config();
    config.request_dnssec = false;
    const auto unasked = lab3.run(config, [](Resolver& r) { return r.mx("secure.test"); });
    REQUIRE(unasked.outcome == Outcome::ok);
    CHECK_FALSE(unasked.authenticated);
  }

  TEST_CASE("resolver: silence ends in a timeout within attempts x timeout") {
    ZoneServerOptions options;
    options.silent = true;
    Lab lab(options);
    std::chrono::milliseconds elapsed{};
    const auto answer =
        elapsed_run(lab, lab.config(100ms, 2), elapsed, &Resolver::mx, "example.test");
    CHECK(answer.outcome == Outcome::timeout);
    CHECK(answer.detail.find("no answer from 127.0.0.1:") != std::string::npos);
    CHECK(elapsed >= 200ms);
    CHECK(elapsed < 2000ms);
    CHECK(lab.server.stats().udp_queries == 2);
  }

  TEST_CASE("resolver: TC bit → the same server over TCP") {
    SUBCASE("server forces truncation") {
      ZoneServerOptions options;
      options.truncate_udp = true;
      Lab lab(options);
      const auto answer = lab.run(lab.config(), [](Resolver& r) { return r.mx("example.test"); });
      REQUIRE(answer.outcome == Outcome::ok);
      CHECK(answer.records.size() == 2);
      CHECK(lab.server.stats().udp_queries == 1);
      CHECK(lab.server.stats().tcp_queries == 1);
    }
    SUBCASE("answer too big for 1232 bytes") {
      std::string zone = "$ORIGIN big.test.\n@ IN SOA ns admin 1 3600 600 86400 300\n";
      const std::string chunk(200, 'x');
      for (int i = 0; i < 20; ++i) zone += "@ IN TXT \"" + std::to_string(i) + chunk + "\"\n";
      Lab lab({}, zone);
      const auto answer = lab.run(lab.config(), [](Resolver& r) { return r.txt("big.test"); });
      REQUIRE(answer.outcome == Outcome::ok);
      CHECK(answer.texts.size() == 20);
      CHECK(lab.server.stats().tcp_queries == 1);
    }
  }

  TEST_CASE("resolver: spoofed answers are ignored, the real one is taken") {
    ZoneServerOptions options;
    options.also_send_correct_answer = true;
    SUBCASE("wrong ID first") { options.wrong_id = true; }
    SUBCASE("wrong question first") { options.wrong_question = true; }
    SUBCASE("answer from another port first") { options.answer_from_other_port = true; }
    Lab lab(options);
    const auto answer = lab.run(lab.config(), [](Resolver& r) { return r.mx("example.test"); });
    CHECK(answer.outcome == Outcome::ok);
    CHECK(answer.records.size() == 2);
    CHECK(lab.server.stats().udp_queries == 1);
  }

  TEST_CASE("resolver: only spoofed answers means a timeout") {
    ZoneServerOptions options;
    SUBCASE("wrong ID") { options.wrong_id = true; }
    SUBCASE("wrong question") { options.wrong_question = true; }
    SUBCASE("other port") { options.answer_from_other_port = true; }
    Lab lab(options);
    const auto answer =
        lab.run(lab.config(100ms, 1), [](Resolver& r) { return r.mx("example.test"); });
    CHECK(answer.outcome == Outcome::timeout);
  }

  TEST_CASE("resolver: SERVFAIL") {
    ZoneServerOptions options;
    options.servfail_names = {"broken.example.test"};
    Lab lab(options);
    const auto answer =
        lab.run(lab.config(), [](Resolver& r) { return r.a("broken.example.test"); });
    CHECK(answer.outcome == Outcome::servfail);
    CHECK(answer.detail.find("SERVFAIL") != std::string::npos);
    // SERVFAIL is an answer: not retried in further rounds.
    CHECK(lab.server.stats().udp_queries == 1);
  }

  TEST_CASE("resolver: a silent first server is skipped for the next one") {
    asio::io_context io;
    ZoneServerOptions silent;
    silent.silent = true;
    ZoneServer dead(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, test_zones, silent);
    ZoneServer good(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, test_zones);
    dead.start();
    good.start();
    ResolverConfig config;
    config.servers = {dead.endpoint(), good.endpoint()};
    config.timeout = 100ms;
    config.attempts = 2;
    Resolver resolver(io.get_executor(), config);
    std::optional<MxAnswer> answer;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          answer = co_await resolver.mx("example.test");
          dead.stop();
          good.stop();
        },
        asio::detached);
    io.run_for(30s);
    REQUIRE(answer);
    CHECK(answer->outcome == Outcome::ok);
    CHECK(dead.stats().udp_queries == 1);
    CHECK(good.stats().udp_queries == 1);
  }

  TEST_CASE("resolver: a closed port fails fast (ICMP port unreachable), not after the timeout") {
    asio::io_context io;
    asio::ip::udp::socket probe(io,
                                asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto closed = probe.local_endpoint();
    probe.close();
    ResolverConfig config;
    config.servers = {closed};
    config.timeout = 5000ms;
    config.attempts = 1;
    Resolver resolver(io.get_executor(), config);
    std::optional<AddressAnswer> answer;
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { answer = co_await resolver.a("example.test"); },
        asio::detached);
    io.run_for(30s);
    REQUIRE(answer);
    CHECK(answer->outcome == Outcome::error);
    CHECK(std::chrono::steady_clock::now() - start < 4000ms);
  }

  TEST_CASE("resolver: bad names and missing servers are errors, not exceptions") {
    asio::io_context io;
    Resolver resolver(io.get_executor(), ResolverConfig{});
    std::optional<MxAnswer> no_servers;
    std::optional<MxAnswer> bad_name;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          no_servers = co_await resolver.mx("example.test");
          bad_name = co_await resolver.mx("a..b");
        },
        asio::detached);
    io.run_for(30s);
    REQUIRE(no_servers);
    CHECK(no_servers->outcome == Outcome::error);
    CHECK(no_servers->detail.find("no DNS servers") != std::string::npos);
    REQUIRE(bad_name);
    CHECK(bad_name->outcome == Outcome::error);
    CHECK(bad_name->detail.find("not a valid domain name") != std::string::npos);
  }

  TEST_CASE("resolver: a delayed answer within the deadline is still taken") {
    ZoneServerOptions options;
    options.delay = 50ms;
    Lab lab(options);
    const auto answer =
        lab.run(lab.config(2000ms, 1), [](Resolver& r) { return r.a("mx2.example.test"); });
    CHECK(answer.outcome == Outcome::ok);
  }

  TEST_CASE("resolver: many concurrent queries on one io_context") {
    Lab lab;
    // Short attempts: should the kernel drop part of the burst, the retry comes quickly.
    Resolver resolver(lab.io.get_executor(), lab.config(500ms, 3));
    constexpr int queries = 300;
    int ok = 0;
    int done = 0;
    for (int i = 0; i < queries; ++i) {
      asio::co_spawn(
          lab.io,
          [&, i]() -> asio::awaitable<void> {
            const auto answer =
                co_await resolver.a(i % 2 == 0 ? "mx1.example.test" : "mx2.example.test");
            ok += answer.outcome == Outcome::ok && answer.addresses.size() == 1 ? 1 : 0;
            if (++done == queries) lab.server.stop();
          },
          asio::detached);
    }
    lab.io.run_for(60s);
    CHECK(done == queries);
    CHECK(ok == queries);
  }

  TEST_CASE("resolver: at most max_queries_in_flight questions on the network; the rest wait their turn") {
    ZoneServerOptions options;
    options.delay = 100ms;
    Lab lab(options);
    auto config = lab.config(2000ms, 1);
    config.max_queries_in_flight = 2;
    Resolver resolver(lab.io.get_executor(), config);
    constexpr int lookups = 6;
    int ok = 0, done = 0;
    const auto started = std::chrono::steady_clock::now();
    const char* const names[] = {"mx1.example.test", "mx2.example.test", "broken.example.test",
                                 "host.other.test", "mx.secure.test", "www.example.test"};
    for (int i = 0; i < lookups; ++i) {
      asio::co_spawn(
          lab.io,
          [&, name = std::string(names[i])]() -> asio::awaitable<void> {
            const auto answer = co_await resolver.a(name);
            ok += answer.outcome == Outcome::ok ? 1 : 0;
            if (++done == lookups) lab.server.stop();
          },
          asio::detached);
    }
    lab.io.run_for(30s);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(done == lookups);
    CHECK(ok == lookups);
    // Two at a time, 100 ms each (www is a CNAME: two questions in one turn): at least three
    // rounds. A lower bound only, so a slow machine cannot fail it.
    CHECK(took >= 300ms);
  }

  TEST_CASE("resolver cache: one question per name and type, answers kept whole, least recently used out") {
    ZoneServerOptions options;
    options.delay = 50ms;  // the first lookup is still out when the others ask
    Lab lab(options);
    auto config = lab.config();
    config.cache_entries = 3;
    Resolver resolver(lab.io.get_executor(), config);
    const CacheCounters& counters = resolver.cache_counters();
    constexpr int together = 5;
    int same = 0, done = 0;
    const char* const spellings[] = {"mx1.example.test", "MX1.example.test", "mx1.Example.Test", "mx1.example.test",
                                     "Mx1.example.test"};
    for (int i = 0; i < together; ++i) {
      asio::co_spawn(
          lab.io,
          [&, name = std::string(spellings[i])]() -> asio::awaitable<void> {
            const auto answer = co_await resolver.a(name);
            same += answer.outcome == Outcome::ok && answer.addresses == std::vector{asio::ip::make_address("127.0.0.11")};
            ++done;
          },
          asio::detached);
    }
    std::optional<AddressAnswer> cname_fresh, cname_cached, mx1_again;
    std::optional<MxAnswer> mx_fresh, mx_cached;
    std::optional<TxtAnswer> missing_fresh, missing_cached;
    std::uint64_t queries_before_eviction = 0;
    asio::co_spawn(
        lab.io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer wait(lab.io, 200ms);
          co_await wait.async_wait(asio::use_awaitable);
          cname_fresh = co_await resolver.a("www.example.test");
          cname_cached = co_await resolver.a("WWW.example.test");
          mx_fresh = co_await resolver.mx("example.test");
          mx_cached = co_await resolver.mx("example.test.");
          // Entries now, most recent first: MX example.test, A www, A mx1. A fourth pushes out mx1.
          missing_fresh = co_await resolver.txt("nope.example.test");
          missing_cached = co_await resolver.txt("nope.example.test");
          queries_before_eviction = counters.queries;
          mx1_again = co_await resolver.a("mx1.example.test");
          lab.server.stop();
        },
        asio::detached);
    lab.io.run_for(30s);

    CHECK(done == together);
    CHECK(same == together);
    REQUIRE(cname_cached);
    CHECK(cname_cached->outcome == Outcome::ok);
    CHECK(cname_cached->cnames == cname_fresh->cnames);
    CHECK(cname_cached->cnames == std::vector<std::string>{"mx1.example.test"});
    CHECK(cname_cached->canonical_name == cname_fresh->canonical_name);
    CHECK(cname_cached->addresses == cname_fresh->addresses);
    REQUIRE(mx_cached);
    REQUIRE(mx_cached->records.size() == 2);
    CHECK(mx_cached->records[0].preference == mx_fresh->records[0].preference);
    CHECK(mx_cached->records[1].host == mx_fresh->records[1].host);
    REQUIRE(missing_cached);
    CHECK(missing_cached->outcome == Outcome::nxdomain);
    CHECK(missing_cached->detail == missing_fresh->detail);
    // mx1 once, www, the MX, the missing name: four questions; five spellings and three repeats hit.
    CHECK(queries_before_eviction == 4);
    REQUIRE(mx1_again);
    CHECK(mx1_again->outcome == Outcome::ok);
    CHECK(counters.queries == 5);  // mx1 was the least recently used: asked again
    CHECK(counters.hits == together - 1 + 3);
  }

  TEST_CASE("resolver cache: uncached types go to the network every time and take no entry") {
    Lab lab;
    auto config = lab.config();
    config.cache_entries = 10;
    config.uncached_types = {wire::RecordType::mx, wire::RecordType::txt};
    Resolver resolver(lab.io.get_executor(), config);
    const CacheCounters& counters = resolver.cache_counters();
    std::optional<MxAnswer> mx_first, mx_second;
    std::optional<AddressAnswer> a_first, a_second;
    asio::co_spawn(
        lab.io,
        [&]() -> asio::awaitable<void> {
          mx_first = co_await resolver.mx("example.test");
          mx_second = co_await resolver.mx("example.test");
          a_first = co_await resolver.a("mx1.example.test");
          a_second = co_await resolver.a("mx1.example.test");
          lab.server.stop();
        },
        asio::detached);
    lab.io.run_for(30s);
    REQUIRE(mx_second);
    CHECK(mx_second->outcome == Outcome::ok);
    CHECK(mx_second->records.size() == mx_first->records.size());
    REQUIRE(a_second);
    CHECK(a_second->addresses == a_first->addresses);
    CHECK(counters.queries == 3);  // the MX twice, the A once
    CHECK(counters.hits == 1);
  }

  TEST_CASE("Outcome names") {
    CHECK(std::string(to_string(Outcome::ok)) == "ok");
    CHECK(std::string(to_string(Outcome::nxdomain)) == "nxdomain");
    CHECK(std::string(to_string(Outcome::timeout)) == "timeout");
  }

}  // TEST_SUITE
