// Unit tests for dns/wire: query building and parsing of crafted responses, including
// mismatched, truncated, looping and garbage messages that must be rejected without a crash.
#include "dns/ldns_handles.hpp"
#include "dns/wire.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace mxtls::dns;
using namespace mxtls::dns::wire;
using detail::LdnsPktPtr;
using detail::LdnsRdfPtr;
using detail::LdnsRrPtr;
using detail::MallocPtr;

// A response message built with ldns from presentation-format records.
struct Crafted {
  std::uint16_t id = 0x1234;
  std::string question = "example.test.";
  RecordType type = RecordType::mx;
  std::vector<std::string> answer;
  std::vector<std::string> authority;
  unsigned rcode = rcode_noerror;
  bool qr = true;
  bool ad = false;
  bool tc = false;
};

LdnsRrPtr record(const std::string& text) {
  ldns_rr* raw = nullptr;
  REQUIRE(ldns_rr_new_frm_str(&raw, text.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK);
  return LdnsRrPtr(raw);
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* packet) {
  std::uint8_t* raw = nullptr;
  std::size_t size = 0;
  REQUIRE(ldns_pkt2wire(&raw, packet, &size) == LDNS_STATUS_OK);
  MallocPtr<std::uint8_t> owner(raw);
  return {raw, raw + size};
}

std::vector<std::uint8_t> craft(const Crafted& c) {
  LdnsPktPtr packet(ldns_pkt_query_new(ldns_dname_new_frm_str(c.question.c_str()),
                                       static_cast<ldns_rr_type>(c.type), LDNS_RR_CLASS_IN, 0));
  REQUIRE(packet);
  ldns_pkt_set_id(packet.get(), c.id);
  ldns_pkt_set_qr(packet.get(), c.qr);
  ldns_pkt_set_ad(packet.get(), c.ad);
  ldns_pkt_set_tc(packet.get(), c.tc);
  ldns_pkt_set_rcode(packet.get(), static_cast<std::uint8_t>(c.rcode));
  for (const auto& text : c.answer) {
    ldns_pkt_push_rr(packet.get(), LDNS_SECTION_ANSWER, record(text).release());
  }
  for (const auto& text : c.authority) {
    ldns_pkt_push_rr(packet.get(), LDNS_SECTION_AUTHORITY, record(text).release());
  }
  return to_wire(packet.get());
}

Question question(std::string name = "example.test", RecordType type = RecordType::mx,
                  std::uint16_t id = 0x1234) {
  return Question{std::move(name), type, id};
}

// Header with our ID, QR set, and the given counts; the rest is appended by the test.
std::vector<std::uint8_t> header(std::uint16_t qd, std::uint16_t an = 0, std::uint16_t ns = 0,
                                 std::uint16_t ar = 0) {
  return {0x12, 0x34,
          0x80, 0x00,
          0,    static_cast<std::uint8_t>(qd),
          0,    static_cast<std::uint8_t>(an),
          0,    static_cast<std::uint8_t>(ns),
          0,    static_cast<std::uint8_t>(ar)};
}

void append(std::vector<std::uint8_t>& to, std::initializer_list<std::uint8_t> bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

// "example.test" in wire form.
void append_example_test(std::vector<std::uint8_t>& to) {
  append(to, {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0});
}

}  // namespace

TEST_SUITE("dns") {
  TEST_CASE("canonical_name lower-cases, drops one trailing dot and rejects non-names") {
    CHECK(canonical_name("Example.TEST.") == "example.test");
    CHECK(canonical_name("_25._tcp.MX.example.test") == "_25._tcp.mx.example.test");
    CHECK(canonical_name("xn--r8jz45g.jp") == "xn--r8jz45g.jp");
    CHECK_FALSE(canonical_name(""));
    CHECK_FALSE(canonical_name("."));
    CHECK_FALSE(canonical_name("a..b"));
    CHECK_FALSE(canonical_name("example.test.."));
    CHECK_FALSE(canonical_name(std::string(64, 'a') + ".test"));
    std::string long_name;
    for (int i = 0; i < 50; ++i) long_name += "abcde.";
    CHECK_FALSE(canonical_name(long_name + "test"));
    // Bytes other than letters, digits, '-', '_' and '*' come out escaped.
    CHECK(canonical_name("a\\.b.test") == "a\\046b.test");
  }

  TEST_CASE("build_query with DNSSEC: RD, EDNS0 with DO, AD flag, 1232-byte UDP size") {
    const auto message = build_query(question("mx.example.test", RecordType::tlsa, 0xBEEF), true);
    REQUIRE_FALSE(message.empty());
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, message.data(), message.size()) == LDNS_STATUS_OK);
    LdnsPktPtr packet(raw);
    CHECK(ldns_pkt_id(raw) == 0xBEEF);
    CHECK_FALSE(ldns_pkt_qr(raw));
    CHECK(ldns_pkt_rd(raw));
    CHECK(ldns_pkt_ad(raw));
    CHECK(ldns_pkt_edns(raw));
    CHECK(ldns_pkt_edns_do(raw));
    CHECK(ldns_pkt_edns_udp_size(raw) == 1232);
    REQUIRE(ldns_pkt_qdcount(raw) == 1);
    const ldns_rr* asked = ldns_rr_list_rr(ldns_pkt_question(raw), 0);
    CHECK(ldns_rr_get_type(asked) == LDNS_RR_TYPE_TLSA);
    CHECK(ldns_rr_get_class(asked) == LDNS_RR_CLASS_IN);
    const ldns_rdf* owner = ldns_rr_owner(asked);
    CHECK(name_text({ldns_rdf_data(owner), ldns_rdf_size(owner)}) == "mx.example.test");
  }

  TEST_CASE("build_query without DNSSEC sends no OPT record and no AD flag") {
    const auto message = build_query(question("example.test", RecordType::a, 7), false);
    REQUIRE(message.size() >= 12);
    CHECK(message[11] == 0);          // ARCOUNT low byte: no OPT
    CHECK((message[3] & 0x20) == 0);  // AD clear
    CHECK((message[2] & 0x01) == 1);  // RD set
    CHECK(build_query(question("", RecordType::a, 7), false).empty());
  }

  // The hand-written encoder against ldns, the reference it replaced (ldns_pkt_query_new +
  // ldns_pkt2wire), byte for byte; and the names ldns takes but we must not send.
  TEST_CASE("build_query writes exactly what ldns writes, and refuses bad names") {
    const auto with_ldns = [](const Question& q, bool dnssec) {
      LdnsRdfPtr name(ldns_dname_new_frm_str(q.name.c_str()));
      REQUIRE(name);
      LdnsPktPtr packet(ldns_pkt_query_new(name.release(), static_cast<ldns_rr_type>(q.type), LDNS_RR_CLASS_IN, LDNS_RD));
      ldns_pkt_set_id(packet.get(), q.id);
      if (dnssec) {
        ldns_pkt_set_edns_udp_size(packet.get(), edns_udp_size);
        ldns_pkt_set_edns_do(packet.get(), true);
        ldns_pkt_set_ad(packet.get(), true);
      }
      std::uint8_t* raw = nullptr;
      std::size_t size = 0;
      REQUIRE(ldns_pkt2wire(&raw, packet.get(), &size) == LDNS_STATUS_OK);
      MallocPtr<std::uint8_t> wire(raw);
      return std::vector<std::uint8_t>(raw, raw + size);
    };
    const std::string label63(63, 'a');
    for (const std::string& name : std::vector<std::string>{"example.test", "example.test.", "mx1.scale.test", "_mta-sts.example.test",
                                   "_25._tcp.mx.example.test", "*.wild.test", "xn--r8jz45g.jp", "a\\046b.test",
                                   "\\000\\255.test", "a\\.b.test", label63 + ".test", "a"}) {
      for (const RecordType type : {RecordType::a, RecordType::aaaa, RecordType::mx, RecordType::txt, RecordType::tlsa}) {
        for (const bool dnssec : {false, true}) {
          CAPTURE(name);
          CAPTURE(dnssec);
          const Question q = question(name, type, 0xA55A);
          CHECK(build_query(q, dnssec) == with_ldns(q, dnssec));
        }
      }
    }
    std::string long_name;
    while (long_name.size() < 250) long_name += label63.substr(0, 40) + ".";
    for (const std::string& bad : std::vector<std::string>{"", ".", "a..b", "a..", ".a", label63 + "a.test", long_name + "test",
                                  "a\\256.test", "a\\12", "a\\"}) {
      CAPTURE(bad);
      CHECK(build_query(question(bad, RecordType::a, 1), true).empty());
    }
  }

  TEST_CASE("a query parses as the matching question of its own answer") {
    // A server echoes our question; our parser must accept its own query bytes once QR is set.
    auto message = build_query(question(), true);
    message[2] |= 0x80;
    const auto parsed = parse_response(message, question());
    CHECK(parsed.status == ParseStatus::accepted);
    CHECK(parsed.rcode == rcode_noerror);
    CHECK_FALSE(parsed.has_records());
  }

  TEST_CASE("MX records are sorted by preference then host; names lower-cased, no dot") {
    Crafted c;
    c.answer = {
        "example.test. IN MX 20 MX-B.example.test.", "example.test. IN MX 10 mx-z.example.test.",
        "example.test. IN MX 20 mx-a.example.test.", "EXAMPLE.test. IN MX 10 mx-c.example.test."};
    const auto parsed = parse_response(craft(c), question());
    REQUIRE(parsed.status == ParseStatus::accepted);
    REQUIRE(parsed.mx.size() == 4);
    CHECK(parsed.mx[0].preference == 10);
    CHECK(parsed.mx[0].host == "mx-c.example.test");
    CHECK(parsed.mx[1].host == "mx-z.example.test");
    CHECK(parsed.mx[2].host == "mx-a.example.test");
    CHECK(parsed.mx[3].host == "mx-b.example.test");
    CHECK(parsed.final_name == "example.test");
    CHECK(parsed.cnames.empty());
  }

  TEST_CASE("null MX '.' becomes host \"\"") {
    Crafted c;
    c.answer = {"example.test. IN MX 0 ."};
    const auto parsed = parse_response(craft(c), question());
    REQUIRE(parsed.mx.size() == 1);
    CHECK(parsed.mx[0].preference == 0);
    CHECK(parsed.mx[0].host.empty());
  }

  TEST_CASE("answers that do not match the question are mismatches") {
    Crafted good;
    good.answer = {"example.test. IN MX 10 mx.example.test."};
    CHECK(parse_response(craft(good), question()).status == ParseStatus::accepted);

    SUBCASE("wrong ID") {
      Crafted c = good;
      c.id = 0x1235;
      CHECK(parse_response(craft(c), question()).status == ParseStatus::mismatch);
    }
    SUBCASE("QR bit clear (a query, not an answer)") {
      Crafted c = good;
      c.qr = false;
      CHECK(parse_response(craft(c), question()).status == ParseStatus::mismatch);
    }
    SUBCASE("other question name") {
      Crafted c = good;
      c.question = "example2.test.";
      const auto parsed = parse_response(craft(c), question());
      CHECK(parsed.status == ParseStatus::mismatch);
      CHECK(parsed.problem == "question name differs");
    }
    SUBCASE("other question type") {
      Crafted c = good;
      c.type = RecordType::a;
      CHECK(parse_response(craft(c), question()).status == ParseStatus::mismatch);
    }
    SUBCASE("other question class") {
      auto message = craft(good);
      // The question's class follows its name: 12 + 14 name bytes + 2 type bytes.
      message[12 + 14 + 3] = 3;  // CH
      CHECK(parse_response(message, question()).status == ParseStatus::mismatch);
    }
    SUBCASE("QDCOUNT 0 or 2") {
      auto none = header(0);
      CHECK(parse_response(none, question()).status == ParseStatus::mismatch);
      auto two = header(2);
      append_example_test(two);
      append(two, {0, 15, 0, 1});
      append_example_test(two);
      append(two, {0, 15, 0, 1});
      CHECK(parse_response(two, question()).status == ParseStatus::mismatch);
    }
    SUBCASE("question name compares case-insensitively") {
      Crafted c = good;
      c.question = "EXAMPLE.Test.";
      CHECK(parse_response(craft(c), question()).status == ParseStatus::accepted);
    }
  }

  TEST_CASE("A and AAAA records") {
    Crafted c;
    c.type = RecordType::a;
    c.answer = {"example.test. IN A 127.0.0.10", "example.test. IN A 127.0.0.11"};
    auto parsed = parse_response(craft(c), question("example.test", RecordType::a));
    REQUIRE(parsed.addresses.size() == 2);
    CHECK(parsed.addresses[0] == asio::ip::make_address("127.0.0.10"));
    CHECK(parsed.addresses[1] == asio::ip::make_address("127.0.0.11"));

    c.type = RecordType::aaaa;
    c.answer = {"example.test. IN AAAA ::1"};
    parsed = parse_response(craft(c), question("example.test", RecordType::aaaa));
    REQUIRE(parsed.addresses.size() == 1);
    CHECK(parsed.addresses[0] == asio::ip::make_address("::1"));
  }

  TEST_CASE("TXT: character-strings of one record are concatenated, one text per record") {
    Crafted c;
    c.question = "_mta-sts.example.test.";
    c.type = RecordType::txt;
    c.answer = {"_mta-sts.example.test. IN TXT \"v=STSv1; \" \"id=2024\"",
                "_mta-sts.example.test. IN TXT \"other\""};
    const auto parsed =
        parse_response(craft(c), question("_mta-sts.example.test", RecordType::txt));
    REQUIRE(parsed.texts.size() == 2);
    CHECK(parsed.texts[0] == "v=STSv1; id=2024");
    CHECK(parsed.texts[1] == "other");
  }

  TEST_CASE("TLSA records keep usage, selector, matching type and data") {
    Crafted c;
    c.question = "_25._tcp.mx.example.test.";
    c.type = RecordType::tlsa;
    c.answer = {
        "_25._tcp.mx.example.test. IN TLSA 3 1 1 "
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"};
    const auto parsed =
        parse_response(craft(c), question("_25._tcp.mx.example.test", RecordType::tlsa));
    REQUIRE(parsed.tlsa.size() == 1);
    CHECK(parsed.tlsa[0].usage == 3);
    CHECK(parsed.tlsa[0].selector == 1);
    CHECK(parsed.tlsa[0].matching_type == 1);
    REQUIRE(parsed.tlsa[0].data.size() == 32);
    CHECK(parsed.tlsa[0].data[0] == 0x01);
    CHECK(parsed.tlsa[0].data[31] == 0x20);
  }

  TEST_CASE("CNAME chain inside the answer is followed; off-chain records are ignored") {
    Crafted c;
    c.question = "www.example.test.";
    c.type = RecordType::a;
    c.answer = {"www.example.test. IN CNAME web.example.test.",
                "web.example.test. IN CNAME host.other.test.", "host.other.test. IN A 127.0.0.20",
                "evil.example.test. IN A 127.0.0.66",  // not on the chain: must not be believed
                "www.example.test. IN A 127.0.0.67"};  // beside a CNAME: the CNAME wins
    const auto parsed = parse_response(craft(c), question("www.example.test", RecordType::a));
    REQUIRE(parsed.status == ParseStatus::accepted);
    CHECK(parsed.cnames == std::vector<std::string>{"web.example.test", "host.other.test"});
    CHECK(parsed.final_name == "host.other.test");
    REQUIRE(parsed.addresses.size() == 1);
    CHECK(parsed.addresses[0] == asio::ip::make_address("127.0.0.20"));
    CHECK_FALSE(parsed.stops_at_cname());
  }

  TEST_CASE("CNAME loops and over-long chains inside one answer are detected") {
    Crafted c;
    c.question = "a.example.test.";
    c.type = RecordType::a;
    c.answer = {"a.example.test. IN CNAME b.example.test.",
                "b.example.test. IN CNAME a.example.test."};
    auto parsed = parse_response(craft(c), question("a.example.test", RecordType::a));
    CHECK(parsed.status == ParseStatus::accepted);
    CHECK(parsed.cname_loop);
    CHECK(parsed.problem.find("loop") != std::string::npos);
    CHECK_FALSE(parsed.stops_at_cname());

    c.answer.clear();
    for (int i = 0; i < 10; ++i) {
      c.answer.push_back("c" + std::to_string(i) + ".example.test. IN CNAME c" +
                         std::to_string(i + 1) + ".example.test.");
    }
    c.question = "c0.example.test.";
    parsed = parse_response(craft(c), question("c0.example.test", RecordType::a));
    CHECK(parsed.cname_loop);
    CHECK(parsed.cnames.size() == static_cast<std::size_t>(max_cname_hops));
  }

  TEST_CASE("an answer ending at a CNAME asks for a re-query unless an SOA proves the negative") {
    Crafted c;
    c.question = "www.example.test.";
    c.type = RecordType::a;
    c.answer = {"www.example.test. IN CNAME host.elsewhere.test."};
    auto parsed = parse_response(craft(c), question("www.example.test", RecordType::a));
    CHECK(parsed.stops_at_cname());
    CHECK(parsed.final_name == "host.elsewhere.test");

    c.authority = {
        "elsewhere.test. IN SOA ns.elsewhere.test. admin.elsewhere.test. 1 3600 600 86400 300"};
    parsed = parse_response(craft(c), question("www.example.test", RecordType::a));
    CHECK(parsed.negative_proof);
    CHECK_FALSE(parsed.stops_at_cname());
  }

  TEST_CASE("RCODE, AD and TC bits are reported") {
    Crafted c;
    c.rcode = rcode_nxdomain;
    c.ad = true;
    auto parsed = parse_response(craft(c), question());
    CHECK(parsed.rcode == rcode_nxdomain);
    CHECK(parsed.authenticated);
    CHECK_FALSE(parsed.truncated);

    c = Crafted{};
    c.rcode = rcode_servfail;
    c.tc = true;
    parsed = parse_response(craft(c), question());
    CHECK(parsed.rcode == rcode_servfail);
    CHECK(parsed.truncated);
    CHECK_FALSE(parsed.authenticated);
    CHECK(rcode_name(rcode_servfail) == "SERVFAIL");
    CHECK(rcode_name(16) == "RCODE 16");
  }

  TEST_CASE("compression pointer loops and forward pointers are rejected") {
    SUBCASE("question name pointing at itself") {
      auto m = header(1);
      append(m, {0xC0, 12, 0, 15, 0, 1});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
    }
    SUBCASE("label followed by a pointer back to that label") {
      auto m = header(1);
      append(m, {1, 'a', 0xC0, 12, 0, 15, 0, 1});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
    }
    SUBCASE("two names pointing at each other") {
      auto m = header(1, 1);
      append_example_test(m);
      append(m, {0, 15, 0, 1});
      // answer owner at 30 points to 32, which points back to 30
      append(m, {0xC0, 32, 0xC0, 30, 0, 15, 0, 1, 0, 0, 0, 60, 0, 0});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
    }
    SUBCASE("pointer into the header") {
      auto m = header(1);
      append(m, {0xC0, 2, 0, 15, 0, 1});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
    }
    SUBCASE("a valid backward pointer is fine") {
      auto m = header(1, 1);
      append_example_test(m);
      append(m, {0, 15, 0, 1});
      // answer: owner -> 12, MX, IN, TTL 60, rdlength 4, pref 10, exchange = "mx" + pointer 12
      append(m, {0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, 'm', 'x', 0xC0, 12});
      const auto parsed = parse_response(m, question());
      REQUIRE(parsed.status == ParseStatus::accepted);
      REQUIRE(parsed.mx.size() == 1);
      CHECK(parsed.mx[0].host == "mx.example.test");
    }
  }

  TEST_CASE("records whose data does not fit their type are rejected") {
    SUBCASE("A record with 5 bytes of rdata") {
      auto m = header(1, 1);
      append_example_test(m);
      append(m, {0, 1, 0, 1});
      append(m, {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 127, 0, 0, 1, 9});
      CHECK(parse_response(m, question("example.test", RecordType::a)).status ==
            ParseStatus::malformed);
    }
    SUBCASE("rdlength past the end of the message") {
      auto m = header(1, 1);
      append_example_test(m);
      append(m, {0, 1, 0, 1});
      append(m, {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 200, 127, 0, 0, 1});
      CHECK(parse_response(m, question("example.test", RecordType::a)).status ==
            ParseStatus::malformed);
    }
    SUBCASE("MX whose exchange name runs past its rdata") {
      auto m = header(1, 1);
      append_example_test(m);
      append(m, {0, 15, 0, 1});
      append(m, {0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 2, 'm', 'x', 0});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
    }
    SUBCASE("TSIG records (we never sign) and duplicate OPT records") {
      auto m = header(1, 0, 0, 1);
      append_example_test(m);
      append(m, {0, 15, 0, 1});
      append(m, {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0});
      CHECK(parse_response(m, question()).status == ParseStatus::malformed);
      auto opt = header(1, 0, 0, 2);
      append_example_test(opt);
      append(opt, {0, 15, 0, 1});
      append(opt, {0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0});
      append(opt, {0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0});
      CHECK(parse_response(opt, question()).status == ParseStatus::malformed);
    }
  }

  TEST_CASE("every truncation of a valid answer is rejected without a crash") {
    Crafted c;
    c.answer = {"example.test. IN MX 10 mx1.example.test.",
                "example.test. IN MX 20 mx2.example.test."};
    c.authority = {
        "example.test. IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300"};
    const auto full = craft(c);
    REQUIRE(parse_response(full, question()).status == ParseStatus::accepted);
    for (std::size_t size = 0; size < full.size(); ++size) {
      const auto parsed = parse_response(std::span(full.data(), size), question());
      CHECK_MESSAGE(parsed.status != ParseStatus::accepted, "prefix of " << size << " bytes");
    }
  }

  TEST_CASE("garbage and bit flips never crash the parser") {
    Crafted c;
    c.type = RecordType::txt;
    c.answer = {"example.test. IN TXT \"a\" \"b\"", "example.test. IN CNAME x.example.test.",
                "x.example.test. IN TXT \"c\""};
    const auto valid = craft(c);
    const Question q = question("example.test", RecordType::txt);
    std::mt19937 random(20240601);  // fixed seed: deterministic
    int accepted = 0;
    for (std::size_t position = 0; position < valid.size(); ++position) {
      for (int flip = 0; flip < 8; ++flip) {
        auto mutated = valid;
        mutated[position] ^= static_cast<std::uint8_t>(1u << flip);
        accepted += parse_response(mutated, q).status == ParseStatus::accepted ? 1 : 0;
      }
    }
    CHECK(accepted > 0);  // flips in TTLs and string bytes stay valid
    for (int round = 0; round < 2000; ++round) {
      std::vector<std::uint8_t> garbage(12 + random() % 300);
      for (auto& byte : garbage) byte = static_cast<std::uint8_t>(random());
      garbage[0] = 0x12;  // our ID and QR, so the parser gets past the header
      garbage[1] = 0x34;
      garbage[2] |= 0x80;
      garbage[4] = 0;
      garbage[5] = 1;
      const auto parsed = parse_response(garbage, q);
      CHECK(parsed.status != ParseStatus::accepted);
    }
  }

}  // TEST_SUITE
