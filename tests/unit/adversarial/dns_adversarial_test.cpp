// A misbehaving DNS server against dns::Resolver (issue 6, item 2): wrong IDs, wrong questions,
// TC followed by a broken TCP answer, compression loops, 1 000 MX records, CNAME loops, answers
// from the wrong address. Each case: the deadline (attempts x timeout, generous bound), a clear
// outcome and detail, bounded answers, and a well-behaved lookup beside it unaffected.
#include "adversarial_support.hpp"

#include "dns/resolver.hpp"
#include "fakes/hostile_dns.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

using namespace mxtls;
using namespace mxtls::adversarial;
using namespace mxtls::fakes;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds dns_timeout{150};
constexpr int dns_attempts = 2;
// UDP and then TCP per attempt: the most a lookup without CNAME hops may take.
constexpr std::chrono::milliseconds lookup_limit = dns_attempts * 2 * dns_timeout;

std::vector<DnsAction> good_answer(const DnsQuestion& q) {
  return {send(dns_answer(q, {mx_record("", 20, "mx2.good.test"), mx_record("", 10, "mx1.good.test")}))};
}

// "good.test" is answered correctly by the same hostile server: the neighbour lookup.
DnsResponder with_good(DnsResponder hostile) {
  return [hostile = std::move(hostile)](const DnsQuestion& q) -> std::vector<DnsAction> {
    if (q.name == "good.test") return good_answer(q);
    return hostile(q);
  };
}

template <typename Answer>
struct DnsOutcome {
  Answer hostile;
  std::chrono::milliseconds hostile_took{};
  dns::MxAnswer good;
  std::chrono::milliseconds good_took{};
  HostileDnsStats stats;
};

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Runs `lookup` and an MX lookup of good.test at the same time, on one Resolver and one server.
template <typename Answer>
DnsOutcome<Answer> resolve_beside_good(DnsResponder udp, DnsResponder tcp,
                                       std::function<asio::awaitable<Answer>(dns::Resolver&)> lookup) {
  asio::io_context io;
  HostileDns server(io.get_executor(), with_good(std::move(udp)), tcp ? with_good(std::move(tcp)) : DnsResponder{});
  server.start();
  dns::ResolverConfig config;
  config.servers = {server.endpoint()};
  config.timeout = dns_timeout;
  config.attempts = dns_attempts;
  dns::Resolver resolver(io.get_executor(), config);
  DnsOutcome<Answer> out;
  int running = 2;
  const auto started = Clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    out.hostile = co_await lookup(resolver);
    out.hostile_took = since(started);
    if (--running == 0) server.stop();
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    out.good = co_await resolver.mx("good.test");
    out.good_took = since(started);
    if (--running == 0) server.stop();
  }, asio::detached);
  io.run_for(30s);  // a safety net only
  CHECK_MESSAGE(running == 0, "a lookup did not finish within 30 s");
  out.stats = server.stats();
  return out;
}

DnsOutcome<dns::MxAnswer> mx_beside_good(DnsResponder udp, DnsResponder tcp = {}, std::string name = "hostile.test") {
  return resolve_beside_good<dns::MxAnswer>(std::move(udp), std::move(tcp),
                                            [name](dns::Resolver& r) { return r.mx(name); });
}

template <typename Answer>
void check_dns_case(const char* case_name, const DnsOutcome<Answer>& out, dns::Outcome outcome,
                    const std::string& detail_part, std::chrono::milliseconds deadline) {
  CAPTURE(out.hostile.detail);
  CHECK(out.hostile.outcome == outcome);
  CHECK(out.hostile.detail.find(detail_part) != std::string::npos);
  CHECK(out.hostile_took < deadline + slack);
  // The neighbour: the right records, long before any hostile timeout.
  CHECK(out.good.outcome == dns::Outcome::ok);
  REQUIRE(out.good.records.size() == 2);
  CHECK(out.good.records[0].host == "mx1.good.test");
  CHECK(out.good.records[1].host == "mx2.good.test");
  CHECK(out.good_took < dns_timeout + slack);
  CHECK(out.hostile.detail.size() < 1024);
  table_row(case_name, std::string(dns::to_string(out.hostile.outcome)) + ": " + out.hostile.detail.substr(0, 90),
            out.hostile_took, deadline,
            "server sent " + std::to_string(out.stats.bytes_sent) + " B, " + std::to_string(out.stats.udp_queries) +
                " UDP + " + std::to_string(out.stats.tcp_queries) + " TCP queries");
}

std::vector<DnsRecord> mx_set() { return {mx_record("", 10, "mx.hostile.test")}; }

DnsAnswerOptions truncated() {
  DnsAnswerOptions o;
  o.truncated = true;
  return o;
}

}  // namespace

TEST_SUITE("adversarial") {

TEST_CASE("adversarial dns: only answers with a wrong ID") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    DnsAnswerOptions o;
    o.id_xor = 0x5a5a;
    return {send(dns_answer(q, mx_set(), o))};
  });
  check_dns_case("dns: wrong ID only", out, dns::Outcome::timeout, "no answer from", dns_attempts * dns_timeout);
  CHECK(out.stats.udp_queries >= 2);
}

TEST_CASE("adversarial dns: 100 wrong-ID answers, then the right one") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    std::vector<DnsAction> actions;
    for (std::uint16_t i = 1; i <= 100; ++i) {
      DnsAnswerOptions o;
      o.id_xor = i;
      actions.push_back(send(dns_answer(q, {mx_record("", 1, "spoofed.evil.test")}, o)));
    }
    actions.push_back(send(dns_answer(q, mx_set())));
    return actions;
  });
  check_dns_case("dns: 100 wrong IDs, then the answer", out, dns::Outcome::ok, "", dns_timeout);
  REQUIRE(out.hostile.records.size() == 1);
  CHECK(out.hostile.records[0].host == "mx.hostile.test");
}

TEST_CASE("adversarial dns: only answers to another question") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    DnsAnswerOptions o;
    o.question_name = "other.test";
    return {send(dns_answer(q, mx_set(), o))};
  });
  check_dns_case("dns: wrong question only", out, dns::Outcome::timeout, "no answer from", dns_attempts * dns_timeout);
}

TEST_CASE("adversarial dns: answers only from the wrong source address (127.0.0.2)") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    return {send_from_other_address(dns_answer(q, {mx_record("", 1, "spoofed.evil.test")}))};
  });
  check_dns_case("dns: answers from 127.0.0.2 only", out, dns::Outcome::timeout, "no answer from",
                 dns_attempts * dns_timeout);
}

TEST_CASE("adversarial dns: an answer from the wrong address, then the right one") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    return {send_from_other_address(dns_answer(q, {mx_record("", 1, "spoofed.evil.test")})),
            send(dns_answer(q, mx_set()))};
  });
  check_dns_case("dns: 127.0.0.2 answer, then the real one", out, dns::Outcome::ok, "", dns_timeout);
  REQUIRE(out.hostile.records.size() == 1);
  CHECK(out.hostile.records[0].host == "mx.hostile.test");
}

TEST_CASE("adversarial dns: TC set, then broken TCP answers") {
  const auto tc = [](const DnsQuestion& q) -> std::vector<DnsAction> { return {send(dns_answer(q, {}, truncated()))}; };
  SUBCASE("TCP: hang up at once") {
    auto out = mx_beside_good(tc, [](const DnsQuestion&) -> std::vector<DnsAction> { return {close_connection()}; });
    check_dns_case("dns: TC, TCP closes at once", out, dns::Outcome::error, "TCP 127.0.0.1", lookup_limit);
    CHECK(out.stats.tcp_queries >= 1);
  }
  SUBCASE("TCP: length prefix says 500, 10 bytes come, then silence") {
    auto out = mx_beside_good(tc, [](const DnsQuestion& q) -> std::vector<DnsAction> {
      auto answer = dns_answer(q, mx_set());
      std::vector<std::uint8_t> partial{0x01, 0xF4};
      partial.insert(partial.end(), answer.begin(), answer.begin() + 10);
      return {send_raw(partial)};
    });
    check_dns_case("dns: TC, TCP length lies (500), stalls", out, dns::Outcome::timeout, "no TCP answer", lookup_limit);
  }
  SUBCASE("TCP: length prefix 65535, 100 bytes, hang up") {
    auto out = mx_beside_good(tc, [](const DnsQuestion&) -> std::vector<DnsAction> {
      std::vector<std::uint8_t> bytes{0xFF, 0xFF};
      bytes.resize(102, 0x41);
      return {send_raw(bytes), close_connection()};
    });
    check_dns_case("dns: TC, TCP 65535-byte prefix then close", out, dns::Outcome::error, "TCP 127.0.0.1", lookup_limit);
  }
  SUBCASE("TCP: the answer has a compression loop") {
    auto out = mx_beside_good(tc, [](const DnsQuestion& q) -> std::vector<DnsAction> {
      return {send(dns_compression_loop_answer(q))};
    });
    check_dns_case("dns: TC, TCP answer with a pointer loop", out, dns::Outcome::error, "unusable answer", lookup_limit);
  }
  SUBCASE("TCP: the answer has a wrong ID") {
    auto out = mx_beside_good(tc, [](const DnsQuestion& q) -> std::vector<DnsAction> {
      DnsAnswerOptions o;
      o.id_xor = 0x1234;
      return {send(dns_answer(q, mx_set(), o))};
    });
    check_dns_case("dns: TC, TCP answer with a wrong ID", out, dns::Outcome::error, "unusable answer", lookup_limit);
  }
  SUBCASE("TCP: silence") {
    auto out = mx_beside_good(tc, [](const DnsQuestion&) -> std::vector<DnsAction> { return {}; });
    check_dns_case("dns: TC, TCP silent", out, dns::Outcome::timeout, "no TCP answer", lookup_limit);
  }
}

// A TCP answer that still has TC set (and no records) must not become NODATA ("no MX records"):
// a domain scan would then fall back to the implicit MX although the server said its answer was cut.
TEST_CASE("adversarial dns: TC set, then a TCP answer truncated again") {
  const auto tc = [](const DnsQuestion& q) -> std::vector<DnsAction> { return {send(dns_answer(q, {}, truncated()))}; };
  auto out = mx_beside_good(tc, tc);
  CHECK(out.hostile.outcome != dns::Outcome::nodata);
  check_dns_case("dns: TC, TCP answer truncated again", out, dns::Outcome::error, "trunc", lookup_limit);
}

TEST_CASE("adversarial dns: compression pointer loops over UDP") {
  SUBCASE("a name pointing at itself") {
    auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
      return {send(dns_compression_loop_answer(q))};
    });
    check_dns_case("dns: self-pointing name (UDP)", out, dns::Outcome::error, "malformed answer",
                   dns_attempts * dns_timeout);
  }
  SUBCASE("two names pointing at each other") {
    auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
      return {send(dns_mutual_pointer_answer(q))};
    });
    check_dns_case("dns: mutual pointers (UDP)", out, dns::Outcome::error, "malformed answer",
                   dns_attempts * dns_timeout);
  }
}

TEST_CASE("adversarial dns: garbage datagrams") {
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> {
    std::vector<DnsAction> actions;
    std::uint32_t x = 0x12345678u;
    for (int n = 0; n < 20; ++n) {
      std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(q.id >> 8), static_cast<std::uint8_t>(q.id & 0xFF)};
      for (int i = 0; i < 300; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push_back(static_cast<std::uint8_t>(x));
      }
      bytes[2] |= 0x80;  // QR, so it claims to be an answer
      actions.push_back(send(bytes));
    }
    return actions;
  });
  CHECK(out.hostile.outcome != dns::Outcome::ok);
  check_dns_case("dns: 20 garbage datagrams with our ID", out, out.hostile.outcome, "", dns_attempts * dns_timeout);
}

TEST_CASE("adversarial dns: 1 000 MX records (TC, then all of them over TCP)") {
  const auto thousand = [](const DnsQuestion& q) {
    std::vector<DnsRecord> records;
    for (int i = 999; i >= 0; --i)
      records.push_back(mx_record("", static_cast<std::uint16_t>(i % 50), "mx" + std::to_string(i) + ".hostile.test"));
    return dns_answer(q, records);
  };
  auto out = mx_beside_good([](const DnsQuestion& q) -> std::vector<DnsAction> { return {send(dns_answer(q, {}, truncated()))}; },
                            [thousand](const DnsQuestion& q) -> std::vector<DnsAction> { return {send(thousand(q))}; });
  check_dns_case("dns: 1 000 MX over TCP", out, dns::Outcome::ok, "", lookup_limit);
  // Bounded by the 65 535-byte TCP message; sorted by preference.
  CHECK(out.hostile.records.size() == 1000);
  CHECK(std::is_sorted(out.hostile.records.begin(), out.hostile.records.end(),
                       [](const dns::MxRecord& a, const dns::MxRecord& b) { return a.preference < b.preference; }));
}

TEST_CASE("adversarial dns: 1 000 MX records in one oversized UDP datagram") {
  const auto thousand = [](const DnsQuestion& q) -> std::vector<DnsAction> {
    std::vector<DnsRecord> records;
    for (int i = 0; i < 1000; ++i) records.push_back(mx_record("", 10, "mx" + std::to_string(i) + ".hostile.test"));
    return {send(dns_answer(q, records))};
  };
  SUBCASE("the server also answers over TCP: the cut datagram sends the resolver there at once") {
    auto out = mx_beside_good(thousand, thousand);
    check_dns_case("dns: 1 000 MX in a 25 KB UDP datagram, then TCP", out, dns::Outcome::ok, "", lookup_limit);
    CHECK(out.hostile.records.size() == 1000);
    CHECK(out.hostile_took < dns_timeout);  // no timeout waited out
  }
  SUBCASE("TCP refused: the cut datagram is never partly believed") {
    auto out = mx_beside_good(thousand, [](const DnsQuestion&) -> std::vector<DnsAction> { return {close_connection()}; });
    CHECK(out.hostile.outcome != dns::Outcome::ok);
    CHECK(out.hostile.records.empty());
    check_dns_case("dns: 1 000 MX in a 25 KB UDP datagram, TCP closed", out, dns::Outcome::error, "TCP", lookup_limit);
  }
}

TEST_CASE("adversarial dns: CNAME loops") {
  SUBCASE("across re-queries: a → b, b → a") {
    auto out = resolve_beside_good<dns::AddressAnswer>(
        [](const DnsQuestion& q) -> std::vector<DnsAction> {
          const std::string target = q.name == "a.loop.test" ? "b.loop.test" : "a.loop.test";
          return {send(dns_answer(q, {cname_record("", target)}))};
        },
        {}, [](dns::Resolver& r) { return r.a("a.loop.test"); });
    check_dns_case("dns: CNAME loop across queries", out, dns::Outcome::error, "CNAME loop", 3 * dns_timeout);
  }
  SUBCASE("inside one answer") {
    auto out = resolve_beside_good<dns::AddressAnswer>(
        [](const DnsQuestion& q) -> std::vector<DnsAction> {
          return {send(dns_answer(q, {cname_record("", "b.loop.test"), cname_record("b.loop.test", q.name)}))};
        },
        {}, [](dns::Resolver& r) { return r.a("a.loop.test"); });
    check_dns_case("dns: CNAME loop inside one answer", out, dns::Outcome::error, "CNAME", dns_timeout);
  }
  SUBCASE("an endless chain of fresh names") {
    auto out = resolve_beside_good<dns::AddressAnswer>(
        [](const DnsQuestion& q) -> std::vector<DnsAction> {
          return {send(dns_answer(q, {cname_record("", "x" + q.name.substr(0, 200))}))};
        },
        {}, [](dns::Resolver& r) { return r.a("chain.test"); });
    check_dns_case("dns: endless CNAME chain", out, dns::Outcome::error, "CNAME chain longer than 8", 10 * dns_timeout);
    CHECK(out.stats.udp_queries <= 10);
  }
  SUBCASE("a chain whose every hop answers only the second attempt: the lookup's budget ends it") {
    // Each hop costs one timeout; without an overall budget 8 hops would take 8 timeouts.
    auto queries = std::make_shared<int>(0);
    auto out = resolve_beside_good<dns::AddressAnswer>(
        [queries](const DnsQuestion& q) -> std::vector<DnsAction> {
          if ((*queries)++ % 2 == 0) return {};  // silence: the attempt times out
          return {send(dns_answer(q, {cname_record("", "x" + q.name.substr(0, 200))}))};
        },
        {}, [](dns::Resolver& r) { return r.a("slowchain.test"); });
    // Budget: timeout × attempts × servers × 2 = 4 timeouts; a hop already started may add one round.
    const auto budget = dns_timeout * dns_attempts * 2;
    check_dns_case("dns: slow CNAME chain", out, dns::Outcome::timeout, "gave up on slowchain.test after", budget + lookup_limit);
    CHECK(out.hostile_took >= budget);
  }
}

}  // TEST_SUITE
