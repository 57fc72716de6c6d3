// ZoneServer on its own: zone text parsing (errors name the line), the answers it builds
// (AA, echoed question, SOA on negative answers, AD only for signed zones), clean start/stop.
#include "dns/ldns_handles.hpp"
#include "dns/wire.hpp"
#include "dns/zone_server.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace {

using namespace mxtls::dns;
using namespace std::chrono_literals;

const char* const zone = R"ZONE(
$TTL 60
$ORIGIN one.test.
@     IN SOA ns admin 1 3600 600 86400 300
mail  IN A 127.0.0.50
_25._tcp.mail IN TLSA 3 1 1 00ff
$ORIGIN two.test.
@     IN SOA ns admin 1 3600 600 86400 300
@     IN MX 5 mail.one.test.
)ZONE";

ZoneServer make_server(asio::io_context& io, ZoneServerOptions options = {},
                       std::string text = zone) {
  return ZoneServer(io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, std::move(text),
                    std::move(options));
}

wire::ParsedResponse ask(const ZoneServer& server, const std::string& name, wire::RecordType type,
                         bool dnssec = true) {
  const wire::Question question{name, type, 4242};
  const auto query = wire::build_query(question, dnssec);
  const auto answer = server.answer(query);
  REQUIRE_FALSE(answer.empty());
  return wire::parse_response(answer, question);
}

}  // namespace

TEST_SUITE("dns") {
  TEST_CASE("zone server: several zones via $ORIGIN") {
    asio::io_context io;
    auto server = make_server(io);
    CHECK(server.zones() == std::vector<std::string>{"one.test", "two.test"});
    const auto mx = ask(server, "two.test", wire::RecordType::mx);
    REQUIRE(mx.status == wire::ParseStatus::accepted);
    REQUIRE(mx.mx.size() == 1);
    CHECK(mx.mx[0].host == "mail.one.test");
    const auto tlsa = ask(server, "_25._tcp.mail.one.test", wire::RecordType::tlsa);
    REQUIRE(tlsa.tlsa.size() == 1);
    CHECK(tlsa.tlsa[0].data == std::vector<std::uint8_t>{0x00, 0xff});
  }

  TEST_CASE("zone server: answers are authoritative, echo the question, prove negatives with SOA") {
    asio::io_context io;
    auto server = make_server(io);
    const wire::Question question{"nothing.one.test", wire::RecordType::a, 99};
    const auto answer = server.answer(wire::build_query(question, false));
    REQUIRE(answer.size() > 12);
    CHECK((answer[2] & 0x04) != 0);  // AA
    CHECK((answer[2] & 0x80) != 0);  // QR
    CHECK((answer[2] & 0x01) != 0);  // RD echoed
    const auto parsed = wire::parse_response(answer, question);
    REQUIRE(parsed.status == wire::ParseStatus::accepted);  // ID and question echoed
    CHECK(parsed.rcode == wire::rcode_nxdomain);
    CHECK(parsed.negative_proof);

    const auto nodata = ask(server, "mail.one.test", wire::RecordType::mx);
    CHECK(nodata.rcode == wire::rcode_noerror);
    CHECK(nodata.negative_proof);
    CHECK_FALSE(nodata.has_records());

    const auto ent = ask(server, "_tcp.mail.one.test", wire::RecordType::tlsa);
    CHECK(ent.rcode == wire::rcode_noerror);

    const auto outside = ask(server, "three.test", wire::RecordType::a);
    CHECK(outside.rcode == wire::rcode_refused);
  }

  TEST_CASE("zone server: AD only for signed zones and only when the query asks") {
    asio::io_context io;
    ZoneServerOptions options;
    options.signed_zones = {"One.Test."};  // normalised like every name
    auto server = make_server(io, options);
    CHECK(ask(server, "mail.one.test", wire::RecordType::a).authenticated);
    CHECK(ask(server, "nothing.one.test", wire::RecordType::a).authenticated);  // secure NXDOMAIN
    CHECK_FALSE(ask(server, "two.test", wire::RecordType::mx).authenticated);
    CHECK_FALSE(ask(server, "mail.one.test", wire::RecordType::a, /*dnssec=*/false).authenticated);
  }

  TEST_CASE("zone server: answers to answers and garbage are dropped") {
    asio::io_context io;
    auto server = make_server(io);
    auto query = wire::build_query({"mail.one.test", wire::RecordType::a, 1}, false);
    query[2] |= 0x80;  // QR: this is a response, never answer it
    CHECK(server.answer(query).empty());
    const std::vector<std::uint8_t> garbage{0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x00, 0xC0, 0x0C, 0x00, 0x01};
    CHECK(server.answer(garbage).empty());
  }

  TEST_CASE("zone server: zone text errors name the line") {
    asio::io_context io;
    const std::string bad =
        "$ORIGIN bad.test.\n@ IN SOA ns admin 1 3600 600 86400 300\n"
        "www IN A not-an-address\n";
    try {
      auto server = make_server(io, {}, bad);
      FAIL("a bad record must be rejected");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("line 3") != std::string::npos);
    }
    CHECK_THROWS_AS(make_server(io, {}, "orphan.test. IN A 127.0.0.1\n"), std::invalid_argument);
    CHECK_THROWS_AS(make_server(io, {}, "$INCLUDE other.zone\n"), std::invalid_argument);
    ZoneServerOptions bad_option;
    bad_option.signed_zones = {"a..b"};
    CHECK_THROWS_AS(make_server(io, bad_option), std::invalid_argument);
  }

  TEST_CASE("zone server: load_zone_text reads a file, or throws naming it") {
    const auto path = std::filesystem::temp_directory_path() / "mxtls-dns-test-zone.txt";
    {
      std::ofstream out(path);
      out << zone;
    }
    CHECK(ZoneServer::load_zone_text(path.string()) == zone);
    std::filesystem::remove(path);
    try {
      (void)ZoneServer::load_zone_text(path.string());
      FAIL("a missing file must throw");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
    }
  }

  TEST_CASE("zone server: start binds UDP and TCP on one port; stop lets the io_context finish") {
    asio::io_context io;
    ZoneServerOptions options;
    options.delay = 10s;  // a pending delayed answer must not keep the context alive after stop()
    auto server = make_server(io, options);
    server.start();
    const auto endpoint = server.endpoint();
    CHECK(endpoint.address() == asio::ip::make_address("127.0.0.1"));
    CHECK(endpoint.port() != 0);
    // The TCP side listens on the same port.
    asio::ip::tcp::socket tcp(io);
    asio::error_code error;
    tcp.connect(asio::ip::tcp::endpoint(endpoint.address(), endpoint.port()), error);
    CHECK_FALSE(error);
    // A query that will wait on the 10 s delay.
    asio::ip::udp::socket udp(io, asio::ip::udp::v4());
    const auto query = wire::build_query({"mail.one.test", wire::RecordType::a, 5}, false);
    udp.send_to(asio::buffer(query), endpoint);
    io.run_for(200ms);
    CHECK(server.stats().udp_queries == 1);
    server.stop();
    tcp.close();
    udp.close();
    const auto start = std::chrono::steady_clock::now();
    io.restart();
    io.run_for(5s);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(io.stopped());  // ran out of work: nothing left pending
  }

}  // TEST_SUITE
