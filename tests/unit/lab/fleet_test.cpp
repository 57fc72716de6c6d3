// The lab fleet: the built-in zone, names read from it, the DNS server and one SMTP server per
// personality on 127.25.0.x (ports picked by the kernel), certificates named from the zone.
#include "unit/lab/lab_client.hpp"

#include "dns/ldns_handles.hpp"
#include "lab/fleet.hpp"
#include "lab/zone_hosts.hpp"
#include "ossl/pem.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

namespace {

using namespace mxtls;
using namespace mxtls::lab;
using namespace mxtls::lab::test;
using mxtls::dns::detail::LdnsPktPtr;
using mxtls::dns::detail::LdnsRdfPtr;
using mxtls::dns::detail::MallocPtr;

FleetOptions test_options() {
  FleetOptions options;
  options.dns_port = 0;
  options.smtp_port = 0;
  options.drip_interval = 20ms;
  options.idle_timeout = 3s;
  options.session_timeout = 5s;
  return options;
}

struct DnsReply {
  int rcode = -1;  // -1: no answer
  std::vector<std::string> answers;  // rdata text of records of the asked type, e.g. "10 mx.good.test."
};

// One UDP query with ldns on the wire (independent of the project's resolver).
asio::awaitable<DnsReply> query(asio::ip::udp::endpoint server, const std::string& name, ldns_rr_type type) {
  LdnsRdfPtr owner(ldns_dname_new_frm_str(name.c_str()));
  LdnsPktPtr packet(ldns_pkt_query_new(ldns_rdf_clone(owner.get()), type, LDNS_RR_CLASS_IN, LDNS_RD));
  ldns_pkt_set_id(packet.get(), 4242);
  uint8_t* raw = nullptr;
  size_t raw_size = 0;
  REQUIRE(ldns_pkt2wire(&raw, packet.get(), &raw_size) == LDNS_STATUS_OK);
  MallocPtr<uint8_t> wire(raw);

  asio::ip::udp::socket socket(co_await asio::this_coro::executor, asio::ip::udp::v4());
  co_await socket.async_send_to(asio::buffer(wire.get(), raw_size), server, tuple_awaitable);
  std::array<uint8_t, 4096> answer;
  asio::steady_timer timer(co_await asio::this_coro::executor, 2s);
  asio::ip::udp::endpoint from;
  auto r = co_await (socket.async_receive_from(asio::buffer(answer), from, tuple_awaitable) ||
                     timer.async_wait(tuple_awaitable));
  DnsReply reply;
  if (r.index() != 0) co_return reply;
  auto [ec, n] = std::get<0>(r);
  if (ec) co_return reply;
  ldns_pkt* parsed = nullptr;
  REQUIRE(ldns_wire2pkt(&parsed, answer.data(), n) == LDNS_STATUS_OK);
  LdnsPktPtr response(parsed);
  reply.rcode = ldns_pkt_get_rcode(response.get());
  ldns_rr_list* records = ldns_pkt_answer(response.get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(records, i);
    if (ldns_rr_get_type(rr) != type) continue;
    std::string text;
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      MallocPtr<char> field(ldns_rdf2str(ldns_rr_rdf(rr, j)));
      text += (j ? " " : "") + std::string(field.get());
    }
    reply.answers.push_back(text);
  }
  co_return reply;
}

// The A-label of a lab domain as the zone spells it.
std::string zone_name(const std::string& domain) {
  return domain == "例え.test" ? "xn--r8jz45g.test" : domain;
}

}  // namespace

TEST_SUITE("lab") {

TEST_CASE("lab zone: the built-in zone is embedded and its address records are read") {
  const std::string_view zone = builtin_zone_text();
  CHECK(zone.find("$ORIGIN test.") != std::string_view::npos);
  CHECK(zone.find("nullmx              IN MX   0 .") != std::string_view::npos);

  std::map<std::string, std::string> by_name;
  for (const auto& record : address_records(zone)) by_name[record.name] = record.address.to_string();
  CHECK(by_name.at("mx.good.test") == "127.25.0.10");
  CHECK(by_name.at("mx2.multi.test") == "127.25.0.10");
  CHECK(by_name.at("mx1.multi.test") == "127.25.0.99");
  CHECK(by_name.at("implicit.test") == "127.25.0.10");
  CHECK(by_name.at("mx.xn--r8jz45g.test") == "127.25.0.10");
  CHECK(by_name.at("ns.lab.test") == "127.25.0.53");
  CHECK(by_name.count("mx.missinghost.test") == 0);
  for (const auto& [name, address] : by_name) CHECK(address.rfind("127.25.0.", 0) == 0);
}

TEST_CASE("lab zone: address_records follows master-file rules") {
  const std::string text =
      "$ORIGIN Example.TEST.\n"
      "$TTL 60\n"
      "@   IN SOA ns hostmaster ( 1 ; serial\n"
      "        3600 600 86400 60 )\n"
      "@        300 IN A 127.0.0.7 ; apex\n"
      "         IN AAAA ::1\n"
      "www      IN 300 A 127.0.0.8\n"
      "abs.other.test. A 127.0.0.9\n"
      "bad      IN A 999.1.1.1\n"
      "mixed    IN A ::1\n"
      "txt      IN TXT \"A 127.0.0.1 ; not a record\"\n"
      "$ORIGIN sub.example.test.\n"
      "mx       IN A 127.0.0.10\r\n";
  const auto records = address_records(text);
  std::vector<std::string> seen;
  for (const auto& r : records) seen.push_back(r.name + "=" + r.address.to_string());
  CHECK(seen == std::vector<std::string>{"example.test=127.0.0.7", "example.test=::1", "www.example.test=127.0.0.8",
                                         "abs.other.test=127.0.0.9", "mx.sub.example.test=127.0.0.10"});
}

TEST_CASE("lab fleet: every personality has its own address; builtin domains are consistent") {
  std::set<std::string> addresses;
  for (Personality p : all_personalities()) addresses.insert(personality_address(p).to_string());
  CHECK(addresses.size() == all_personalities().size());
  CHECK(personality_address(Personality::refuse).to_string() == "127.25.0.99");

  std::set<std::string> names;
  for (const auto& d : builtin_domains()) {
    CHECK_FALSE(d.expected.empty());
    CHECK_FALSE(d.description.empty());
    CHECK(names.insert(d.domain).second);
  }
  CHECK(names.size() >= 19);
}

TEST_CASE("lab fleet: DNS answers from the built-in zone, SMTP personalities on their addresses") {
  asio::io_context io;
  Fleet fleet(io.get_executor(), test_options());
  fleet.start();
  REQUIRE(fleet.dns_endpoint().port() != 0);
  REQUIRE(fleet.smtp_port() != 0);
  CHECK(fleet.dns_endpoint().address().to_string() == "127.25.0.53");
  CHECK(fleet.domains().size() == builtin_domains().size());
  CHECK(fleet.ca_pem().find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(fleet.server(Personality::refuse) == nullptr);
  for (const auto& host : fleet.hosts())
    if (host.listening) CHECK(fleet.server(host.personality) != nullptr);

  const std::string summary = fleet.describe();
  CHECK(summary.find("127.25.0.10") != std::string::npos);
  CHECK(summary.find("mx2.multi.test") != std::string::npos);
  CHECK(summary.find("port " + std::to_string(fleet.smtp_port())) != std::string::npos);

  run(io, [&]() -> asio::awaitable<void> {
    const auto dns = fleet.dns_endpoint();
    // Each lab domain has the DNS shape its description promises.
    for (const auto& d : builtin_domains()) {
      CAPTURE(d.domain);
      const std::string name = zone_name(d.domain);
      auto mx = co_await query(dns, name, LDNS_RR_TYPE_MX);
      if (name == "nosuchdomain.test") {
        CHECK(mx.rcode == LDNS_RCODE_NXDOMAIN);
      } else if (name == "nullmx.test") {
        REQUIRE(mx.answers.size() == 1);
        CHECK(mx.answers[0] == "0 .");
      } else if (name == "implicit.test") {
        CHECK(mx.rcode == LDNS_RCODE_NOERROR);
        CHECK(mx.answers.empty());
        // (co_await and a braced list in one expression trip GCC 12: keep them apart.)
        const auto a = co_await query(dns, name, LDNS_RR_TYPE_A);
        REQUIRE(a.answers.size() == 1);
        CHECK(a.answers[0] == "127.25.0.10");
      } else {
        REQUIRE_FALSE(mx.answers.empty());
        for (const auto& answer : mx.answers) {
          const std::string host = answer.substr(answer.find(' ') + 1);
          auto a = co_await query(dns, host, LDNS_RR_TYPE_A);
          if (name == "missinghost.test") {
            CHECK(a.rcode == LDNS_RCODE_NXDOMAIN);
          } else {
            REQUIRE(a.answers.size() == 1);
            CHECK(a.answers[0].rfind("127.25.0.", 0) == 0);
          }
        }
      }
    }
    auto multi = co_await query(dns, "multi.test", LDNS_RR_TYPE_MX);
    std::sort(multi.answers.begin(), multi.answers.end());
    REQUIRE(multi.answers.size() == 2);
    CHECK(multi.answers[0] == "10 mx1.multi.test.");
    CHECK(multi.answers[1] == "20 mx2.multi.test.");

    // Every listening personality greets (or not) on its own address and the common port.
    const auto at = [&](Personality p) { return asio::ip::tcp::endpoint(personality_address(p), fleet.smtp_port()); };
    // (A named vector: GCC 12 rejects range-for over a braced list inside a coroutine.)
    const std::vector<Personality> greeting_220 = {
        Personality::good,         Personality::no_starttls,           Personality::self_signed,
        Personality::wrong_name,   Personality::expired,               Personality::tls12_only,
        Personality::starttls_454, Personality::auth_plain_before_tls, Personality::injection,
        Personality::close_mid_handshake};
    for (Personality p : greeting_220) {
      CAPTURE(to_string(p));
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(at(p)));
      auto banner = co_await client.read_reply();
      CHECK(banner.code == 220);
      CHECK(banner.lines.at(0).find("(" + std::string(to_string(p)) + ")") != std::string::npos);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(at(Personality::greeting_554)));
      auto banner = co_await client.read_reply();
      CHECK(banner.code == 554);
      CHECK(banner.lines.at(0).find("mx.greeting554.test") != std::string::npos);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(at(Personality::garbage_banner)));
      while (co_await client.read_some(2s) > 0) {
      }
      CHECK(client.buffered().size() == 514);
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(at(Personality::drip)));
      CHECK(co_await client.read_some(1s) == 1);
      CHECK(client.buffered() == "2");
    }
    {
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect(at(Personality::tarpit)));
      CHECK(co_await client.read_some(200ms) == 0);
    }
    {
      RawClient client(io.get_executor());
      CHECK(co_await client.connect(at(Personality::refuse)) == asio::error::connection_refused);
    }
  }, 20s);
}

TEST_CASE("lab fleet: certificates are named from the zone and judged as the domains expect") {
  asio::io_context io;
  FleetOptions options = test_options();
  options.start_dns = false;
  Fleet fleet(io.get_executor(), options);
  fleet.start();
  ossl::X509Ptr ca = ossl::read_certificate_pem(fleet.ca_pem());

  struct Seen {
    ossl::X509Ptr cert;
    std::string version;
  };
  std::map<Personality, Seen> seen;
  run(io, [&]() -> asio::awaitable<void> {
    const std::vector<Personality> tls_personalities = {
        Personality::good,    Personality::self_signed, Personality::wrong_name, Personality::expired,
        Personality::tls12_only, Personality::auth_plain_before_tls, Personality::injection};
    for (Personality p : tls_personalities) {
      CAPTURE(to_string(p));
      RawClient client(io.get_executor());
      REQUIRE_FALSE(co_await client.connect({personality_address(p), fleet.smtp_port()}));
      CHECK((co_await client.read_reply()).code == 220);
      CHECK((co_await client.command("EHLO client.test")).code == 250);
      CHECK((co_await client.command("STARTTLS")).code == 220);
      if (p == Personality::injection) CHECK(co_await client.read_line(1s));  // the injected line
      REQUIRE_FALSE(co_await client.start_tls("mx.example.test"));
      seen[p] = Seen{client.peer_certificate(), client.tls_version()};
      CHECK((co_await client.command("MAIL FROM:<>")).code == 502);
      CHECK((co_await client.command("QUIT")).code == 221);
    }
  }, 20s);

  const auto signed_by_ca = [&](X509* cert) {
    ossl::EvpPkeyPtr key(X509_get_pubkey(ca.get()));
    return X509_verify(cert, key.get()) == 1;
  };
  const auto names = [&](Personality p, const char* host) {
    return X509_check_host(seen.at(p).cert.get(), host, 0, 0, nullptr) == 1;
  };
  for (auto& [p, s] : seen) REQUIRE(s.cert);

  const auto good_sans = dns_sans(seen.at(Personality::good).cert.get());
  CHECK(good_sans == std::vector<std::string>{"mx.good.test", "mx2.multi.test", "implicit.test", "mx.xn--r8jz45g.test",
                                             "mx.dane.test", "mx.danestale.test", "mx.stsnotlisted.test"});
  CHECK(signed_by_ca(seen.at(Personality::good).cert.get()));
  CHECK(X509_cmp_current_time(X509_get0_notAfter(seen.at(Personality::good).cert.get())) > 0);

  CHECK(names(Personality::self_signed, "mx.selfsigned.test"));
  CHECK_FALSE(signed_by_ca(seen.at(Personality::self_signed).cert.get()));
  X509* self_signed = seen.at(Personality::self_signed).cert.get();
  CHECK(X509_NAME_cmp(X509_get_subject_name(self_signed), X509_get_issuer_name(self_signed)) == 0);
  CHECK(X509_verify(self_signed, X509_get0_pubkey(self_signed)) == 1);

  CHECK_FALSE(names(Personality::wrong_name, "mx.wrongname.test"));
  CHECK(signed_by_ca(seen.at(Personality::wrong_name).cert.get()));

  CHECK(names(Personality::expired, "mx.expired.test"));
  CHECK(signed_by_ca(seen.at(Personality::expired).cert.get()));
  CHECK(X509_cmp_current_time(X509_get0_notAfter(seen.at(Personality::expired).cert.get())) < 0);

  CHECK(names(Personality::tls12_only, "mx.tls12.test"));
  CHECK(seen.at(Personality::tls12_only).version == "TLSv1.2");
  CHECK(EVP_PKEY_base_id(X509_get0_pubkey(seen.at(Personality::tls12_only).cert.get())) == EVP_PKEY_RSA);
  CHECK(seen.at(Personality::good).version == "TLSv1.3");

  CHECK(names(Personality::auth_plain_before_tls, "mx.auth.test"));
  CHECK(names(Personality::injection, "mx.injection.test"));

  const SmtpCounters totals = fleet.totals();
  CHECK(totals.tls_handshakes == 7);
  CHECK(totals.mail_commands == 7);
  CHECK(totals.quits == 7);
}

TEST_CASE("lab fleet: a taken port is reported with its address") {
  asio::io_context io;
  FleetOptions options = test_options();
  Fleet first(io.get_executor(), options);
  first.start();

  FleetOptions clash_smtp = test_options();
  clash_smtp.start_dns = false;
  clash_smtp.smtp_port = first.smtp_port();
  Fleet second(io.get_executor(), clash_smtp);
  try {
    second.start();
    FAIL("a second fleet bound the same SMTP port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("127.25.0.10:" + std::to_string(first.smtp_port())) != std::string::npos);
  }
  CHECK(second.server(Personality::good) == nullptr);

  FleetOptions clash_dns = test_options();
  clash_dns.start_smtp = false;
  clash_dns.dns_port = first.dns_endpoint().port();
  Fleet third(io.get_executor(), clash_dns);
  try {
    third.start();
    FAIL("a second fleet bound the same DNS port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("127.25.0.53:" + std::to_string(first.dns_endpoint().port())) !=
          std::string::npos);
  }
}

TEST_CASE("lab fleet: a custom zone names the certificates and has no built-in domains") {
  asio::io_context io;
  FleetOptions options = test_options();
  options.start_dns = false;
  options.zone_text =
      "$ORIGIN custom.test.\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.25.0.53\n"
      "@ IN MX 10 mail\nmail IN A 127.25.0.10\n";
  Fleet fleet(io.get_executor(), options);
  CHECK(fleet.domains().empty());
  const auto good = std::find_if(fleet.hosts().begin(), fleet.hosts().end(),
                                 [](const LabHost& h) { return h.personality == Personality::good; });
  REQUIRE(good != fleet.hosts().end());
  CHECK(good->names == std::vector<std::string>{"mail.custom.test"});
  const auto tarpit = std::find_if(fleet.hosts().begin(), fleet.hosts().end(),
                                   [](const LabHost& h) { return h.personality == Personality::tarpit; });
  CHECK(tarpit->names.empty());
  fleet.start();
  run(io, [&]() -> asio::awaitable<void> {
    RawClient client(io.get_executor());
    REQUIRE_FALSE(co_await client.connect({personality_address(Personality::good), fleet.smtp_port()}));
    auto banner = co_await client.read_reply();
    CHECK(banner.lines.at(0).rfind("220 mail.custom.test ", 0) == 0);
    RawClient other(io.get_executor());
    REQUIRE_FALSE(co_await other.connect({personality_address(Personality::no_starttls), fleet.smtp_port()}));
    CHECK((co_await other.read_reply()).lines.at(0).rfind("220 lab-no-starttls.test ", 0) == 0);
  });
}

}  // TEST_SUITE
