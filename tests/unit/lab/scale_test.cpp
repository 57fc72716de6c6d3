// The scale lab: zone planning (names, counts, shared providers, determinism), the personality
// mix, delays and durations, and a small in-process fleet with one host per personality probed
// by the scanner's own run_probe, each personality giving the status it is built to give.
#include "unit/lab/lab_client.hpp"

#include "cli/lab_scale.hpp"
#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "lab/scale.hpp"
#include "scan/probe.hpp"
#include "tls/client.hpp"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace {

using namespace mxtls;
using namespace mxtls::lab;
using namespace mxtls::lab::test;

std::size_t personality_index(ScalePersonality p) { return static_cast<std::size_t>(p); }

ScaleZoneSpec small_spec() {
  ScaleZoneSpec spec;
  spec.domains = 1000;
  spec.hosts = 50;
  spec.providers = 3;
  spec.provider_share = 0.6;
  spec.seed = 7;
  return spec;
}

}  // namespace

TEST_SUITE("lab") {

TEST_CASE("scale lab zone: names, counts and shared providers") {
  const ScaleZone zone(small_spec());
  REQUIRE(zone.domain_count() == 1000);
  REQUIRE(zone.hosts().size() == 50);
  CHECK(zone.domain_name(0) == "d000000.scale.test");
  CHECK(zone.domain_name(999) == "d000999.scale.test");
  CHECK(zone.certificate_name() == "*.mx.scale.test");

  std::size_t on_providers = 0;
  std::set<std::string> mx_names;
  for (std::size_t d = 0; d < zone.domain_count(); ++d) {
    mx_names.insert(zone.mx_name(d));
    if (zone.uses_provider(d)) {
      ++on_providers;
      CHECK(zone.host_of(d) < 3);
      CHECK(zone.mx_name(d) == zone.hosts()[zone.host_of(d)].mx_name);
    } else {
      CHECK(zone.host_of(d) >= 3);
      CHECK(zone.mx_name(d) == "d" + zone.domain_name(d).substr(1, 6) + ".mx.scale.test");
    }
  }
  CHECK(on_providers == 600);  // exactly floor(1000 · 0.6)
  CHECK(mx_names.size() == 403);
  CHECK(zone.distinct_mx_names() == 403);
  for (std::size_t p = 0; p < 3; ++p) {
    CHECK(zone.hosts()[p].personality == ScalePersonality::good);  // providers are well run
    CHECK(zone.hosts()[p].mx_name == "p000" + std::to_string(p) + ".mx.scale.test");
    CHECK(zone.hosts()[p].domains > 100);  // ~200 each: many domains share one MX host
  }
  // The 400 own-MX domains are dealt evenly over the 47 other hosts.
  for (std::size_t h = 3; h < 50; ++h) {
    CHECK(zone.hosts()[h].domains >= 8);
    CHECK(zone.hosts()[h].domains <= 9);
  }
  std::size_t domain_total = 0;
  for (const auto& host : zone.hosts()) domain_total += host.domains;
  CHECK(domain_total == 1000);

  // Addresses: distinct, inside 127.64.0.0/10, never .0 or .255.
  std::set<std::uint32_t> addresses;
  for (const auto& host : zone.hosts()) {
    const auto value = host.address.to_uint();
    addresses.insert(value);
    CHECK((value >> 22) == ((127u << 2) | 1u));  // 127.64.0.0/10
    CHECK((value & 0xFF) != 0);
    CHECK((value & 0xFF) != 255);
  }
  CHECK(addresses.size() == 50);
  CHECK(scale_host_address(asio::ip::make_address_v4("127.64.0.1"), 253).to_string() == "127.64.0.254");
  CHECK(scale_host_address(asio::ip::make_address_v4("127.64.0.1"), 254).to_string() == "127.64.1.1");
  CHECK(scale_host_address(asio::ip::make_address_v4("127.64.0.0"), 0).to_string() == "127.64.0.1");
}

TEST_CASE("scale lab zone: the zone text is deterministic and says what the plan says") {
  const ScaleZone zone(small_spec());
  const std::string text = zone.zone_text();
  CHECK(text == ScaleZone(small_spec()).zone_text());
  ScaleZoneSpec other = small_spec();
  other.seed = 8;
  CHECK(text != ScaleZone(other).zone_text());
  // One MX per domain, one A per own MX name and per provider.
  std::size_t mx = 0, a = 0, pos = 0;
  while ((pos = text.find(" IN MX ", pos)) != std::string::npos) ++mx, ++pos;
  pos = 0;
  while ((pos = text.find(" IN A ", pos)) != std::string::npos) ++a, ++pos;
  CHECK(mx == 1000);
  CHECK(a == 403);
  CHECK(text.find("d000001 IN MX 10 ") != std::string::npos);

  std::ostringstream domains, targets;
  zone.write_domains(domains);
  zone.write_targets(targets, 2525);
  const std::string domain_list = domains.str(), target_list = targets.str();
  CHECK(domain_list.rfind("d000000.scale.test\nd000001.scale.test\n", 0) == 0);
  CHECK(std::count(domain_list.begin(), domain_list.end(), '\n') == 1000);
  CHECK(std::count(target_list.begin(), target_list.end(), '\n') == 403);
  CHECK(target_list.rfind(zone.hosts()[0].address.to_string() + " 2525 p0000.mx.scale.test good\n", 0) == 0);

  // Larger fleets get wider numbers; nothing about a 100 000-domain zone is slow.
  ScaleZoneSpec big;
  big.domains = 100000;
  big.hosts = 5000;
  const auto started = std::chrono::steady_clock::now();
  const ScaleZone large(big);
  const std::string large_text = large.zone_text();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(large.domain_name(99999) == "d099999.scale.test");
  CHECK(large_text.size() > 100000 * 20);
}

TEST_CASE("scale lab zone: ZoneServer serves a 20 000-domain zone by hashed lookup") {
  ScaleZoneSpec spec;
  spec.domains = 20000;
  spec.hosts = 1000;
  const ScaleZone zone(spec);
  asio::io_context io(1);
  dns::ZoneServer server(io.get_executor(), asio::ip::make_address("127.53.0.98"), 0, zone.zone_text());
  server.start();
  run(io, [&]() -> asio::awaitable<void> {
    dns::ResolverConfig config;
    config.servers = {server.endpoint()};
    config.timeout = 1s;
    dns::Resolver resolver(co_await asio::this_coro::executor, config);
    const std::array<std::size_t, 4> picks{0, 1, 12345, 19999};  // named: no braced list in a coroutine
    for (const std::size_t d : picks) {
      dns::MxAnswer mx = co_await resolver.mx(zone.domain_name(d));
      REQUIRE(mx.outcome == dns::Outcome::ok);
      REQUIRE(mx.records.size() == 1);
      CHECK(mx.records[0].host == zone.mx_name(d));
      dns::AddressAnswer a = co_await resolver.a(zone.mx_name(d));
      REQUIRE(a.outcome == dns::Outcome::ok);
      REQUIRE(a.addresses.size() == 1);
      CHECK(a.addresses[0] == asio::ip::address(zone.hosts()[zone.host_of(d)].address));
    }
    dns::MxAnswer beyond = co_await resolver.mx("d020000.scale.test");
    CHECK(beyond.outcome == dns::Outcome::nxdomain);
    dns::AddressAnswer only_mx = co_await resolver.a(zone.domain_name(7));
    CHECK(only_mx.outcome == dns::Outcome::nodata);
    dns::AddressAnswer empty_non_terminal = co_await resolver.a("mx.scale.test");
    CHECK(empty_non_terminal.outcome == dns::Outcome::nodata);
  });
  server.stop();
}

TEST_CASE("scale lab zone: bad specs are refused") {
  ScaleZoneSpec spec = small_spec();
  spec.domains = 0;
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.providers = 51;
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.provider_share = 1.5;
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.first_address = asio::ip::make_address_v4("127.25.0.1");  // another lab's range
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.first_address = asio::ip::make_address_v4("127.127.255.230");  // 50 hosts run off the end of the /10
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.apex = "bad apex.test";
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
  spec = small_spec();
  spec.mix = PersonalityMix{};
  CHECK_THROWS_AS(ScaleZone{spec}, std::invalid_argument);
}

TEST_CASE("scale lab mix: weights are parsed and dealt exactly") {
  const PersonalityMix mix = parse_personality_mix("good=3,silent=1");
  CHECK(mix[personality_index(ScalePersonality::good)] == 3);
  CHECK(mix[personality_index(ScalePersonality::silent)] == 1);
  CHECK(mix[personality_index(ScalePersonality::tarpit)] == 0);
  CHECK(mix_text(mix) == "good=3,silent=1");
  CHECK(parse_personality_mix("default") == default_personality_mix());
  CHECK_THROWS_AS(parse_personality_mix("good"), std::invalid_argument);
  CHECK_THROWS_AS(parse_personality_mix("nosuch=1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_personality_mix("good=-1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_personality_mix("good=x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_personality_mix("good=0"), std::invalid_argument);
  for (auto p : all_scale_personalities()) CHECK(scale_personality_from_string(to_string(p)) == p);

  ScaleZoneSpec spec;
  spec.domains = 100;
  spec.hosts = 40;
  spec.providers = 0;
  spec.mix = mix;
  const auto counts = ScaleZone(spec).hosts_per_personality();
  CHECK(counts[personality_index(ScalePersonality::good)] == 30);
  CHECK(counts[personality_index(ScalePersonality::silent)] == 10);

  // The default mix over 1000 hosts (plus 5 good providers) follows the weights within one host.
  spec = ScaleZoneSpec{};
  spec.domains = 2000;
  spec.hosts = 1005;
  spec.providers = 5;
  const auto defaults = ScaleZone(spec).hosts_per_personality();
  const auto weights = default_personality_mix();
  double total = 0;
  for (double w : weights) total += w;
  for (std::size_t p = 0; p < weights.size(); ++p) {
    const double expected = 1000 * weights[p] / total + (p == personality_index(ScalePersonality::good) ? 5 : 0);
    CHECK(std::abs(static_cast<double>(defaults[p]) - expected) <= 1.0);
  }
  // Same seed, same placement; another seed moves personalities between addresses.
  ScaleZoneSpec reseeded = spec;
  reseeded.seed = 99;
  std::size_t differ = 0;
  const ScaleZone a(spec), b(spec), c(reseeded);
  for (std::size_t h = 0; h < a.hosts().size(); ++h) {
    CHECK(a.hosts()[h].personality == b.hosts()[h].personality);
    differ += a.hosts()[h].personality != c.hosts()[h].personality;
  }
  CHECK(differ > 50);
}

TEST_CASE("scale lab delays and durations") {
  CHECK(parse_duration("80ms") == 80ms);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("250us") == 250us);
  CHECK(parse_duration("7") == 7ms);
  CHECK(parse_duration("2m") == 120s);
  CHECK_THROWS_AS(parse_duration("x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_duration("-1s"), std::invalid_argument);
  CHECK_THROWS_AS(parse_duration("5h"), std::invalid_argument);
  CHECK_THROWS_AS(parse_duration(""), std::invalid_argument);

  CHECK(lognormal_delay(0us, 0.5, 1) == 0us);
  CHECK(lognormal_delay(80ms, 0, 1) == 80ms);
  CHECK(lognormal_delay(80ms, 0.5, 42) == lognormal_delay(80ms, 0.5, 42));
  std::vector<std::int64_t> draws;
  for (std::uint64_t key = 0; key < 20001; ++key) {
    const auto d = lognormal_delay(80ms, 0.5, scale_hash(3, key));
    CHECK_MESSAGE(d <= 80ms * 7.39 + 1ms, "clamped at 4 sigma");  // e^(0.5·4) ≈ 7.39
    draws.push_back(d.count());
  }
  std::nth_element(draws.begin(), draws.begin() + 10000, draws.end());
  CHECK(std::abs(static_cast<double>(draws[10000]) - 80000.0) < 80000.0 * 0.05);
  CHECK(lognormal_mean(80ms, 0.5).count() == doctest::Approx(80000 * std::exp(0.125)).epsilon(0.001));
}

TEST_CASE("scale lab fleet: every personality gives the scanner what it is built to give") {
  asio::io_context io(1);
  ScaleFleetOptions options;
  options.zone.domains = 18;
  options.zone.hosts = 9;
  options.zone.providers = 0;
  options.zone.mix.fill(1);  // one host of each of the nine personalities
  options.dns_address = asio::ip::make_address("127.53.0.99");
  options.dns_port = 0;
  options.smtp_port = 0;
  options.delay_median = 1ms;
  options.delay_spread = 0.3;
  options.slow_banner = 50ms;
  options.drip_interval = 20ms;
  options.idle_timeout = 3s;
  options.session_timeout = 4s;
  options.max_sessions = 100;
  ScaleFleet fleet(io.get_executor(), options);
  const auto counts = fleet.zone().hosts_per_personality();
  for (std::size_t count : counts) REQUIRE(count == 1);
  fleet.start();
  REQUIRE(fleet.smtp_port() != 0);
  CHECK(fleet.describe().find("9 hosts") != std::string::npos);

  tls::ClientTlsOptions trust;
  trust.ca_pem = fleet.ca_pem();
  tls::ClientTlsContext tls_context(trust);
  scan::ProbeSettings settings;
  settings.ehlo_name = "scale-test.mxtls.test";
  settings.timeouts.connect = 1s;
  settings.timeouts.greeting = 500ms;  // slow_banner (50 ms) passes; tarpit and silent do not
  settings.timeouts.command = 500ms;   // tls_stall never answers the EHLO after TLS
  settings.timeouts.handshake = 2s;
  settings.timeouts.quit = 500ms;
  settings.timeouts.probe = 5s;

  // One domain per personality, its target resolved through the lab's DNS as a scan would.
  std::map<ScalePersonality, scan::ProbeTarget> targets;
  for (std::size_t d = 0; d < fleet.zone().domain_count(); ++d) {
    const auto& host = fleet.zone().hosts()[fleet.zone().host_of(d)];
    if (targets.count(host.personality) != 0) continue;
    scan::ProbeTarget target;
    target.domain = fleet.zone().domain_name(d);
    target.mx = fleet.zone().mx_name(d);
    target.address = host.address;
    target.port = fleet.smtp_port();
    targets[host.personality] = target;
  }
  REQUIRE(targets.size() == scale_personality_count);

  std::map<ScalePersonality, ProbeResult> results;
  ProbeResult busy_again;
  run(io, [&]() -> asio::awaitable<void> {
    // DNS: the zone answers MX → name → the host's address.
    dns::ResolverConfig config;
    config.servers = {fleet.dns_endpoint()};
    config.timeout = 1s;
    dns::Resolver resolver(co_await asio::this_coro::executor, config);
    const auto& good = targets.at(ScalePersonality::good);
    dns::MxAnswer mx = co_await resolver.mx(good.domain);
    REQUIRE(mx.outcome == dns::Outcome::ok);
    REQUIRE(mx.records.size() == 1);
    CHECK(mx.records[0].host == good.mx);
    dns::AddressAnswer a = co_await resolver.a(good.mx);
    REQUIRE(a.outcome == dns::Outcome::ok);
    REQUIRE(a.addresses.size() == 1);
    CHECK(a.addresses[0] == asio::ip::address(good.address));
    dns::MxAnswer missing = co_await resolver.mx("nosuch.scale.test");
    CHECK(missing.outcome == dns::Outcome::nxdomain);

    // Every personality at once, as a scan would meet them.
    std::size_t pending = targets.size();
    const auto executor = co_await asio::this_coro::executor;
    for (const auto& [personality, target] : targets) {
      const ScalePersonality p = personality;
      asio::co_spawn(executor, scan::run_probe(target, settings, tls_context),
                     [&, p](std::exception_ptr, ProbeResult result) {
                       results[p] = std::move(result);
                       --pending;
                     });
    }
    const bool all_done = co_await eventually([&] { return pending == 0; }, 8s);
    REQUIRE(all_done);
    // The busy host serves the second connection: a scanner that backs off gets through.
    busy_again = co_await scan::run_probe(targets.at(ScalePersonality::busy), settings, tls_context);
  }, 15s);

  using P = ScalePersonality;
  auto status = [&](P p) { return results.at(p).status; };
  auto phase = [&](P p) { return results.at(p).failed_phase; };
  INFO("good: " << results.at(P::good).error);
  CHECK(status(P::good) == Status::ok);
  REQUIRE(results.at(P::good).tls.has_value());
  CHECK(results.at(P::good).tls->verdict == CertVerdict::verified);
  CHECK(results.at(P::good).tls->cert.has_value());
  CHECK(status(P::no_starttls) == Status::not_offered);
  CHECK(status(P::self_signed) == Status::ok);
  REQUIRE(results.at(P::self_signed).tls.has_value());
  CHECK(results.at(P::self_signed).tls->verdict == CertVerdict::untrusted);
  CHECK(status(P::busy) == Status::smtp_reject);
  CHECK(results.at(P::busy).greeting_code == 421);
  CHECK(phase(P::busy) == Phase::greeting);
  CHECK(busy_again.status == Status::ok);
  CHECK(status(P::slow_banner) == Status::ok);
  CHECK(results.at(P::slow_banner).elapsed_ms >= 50);
  CHECK(status(P::tarpit) == Status::timeout);
  CHECK(phase(P::tarpit) == Phase::greeting);
  CHECK(status(P::silent) == Status::timeout);
  CHECK(phase(P::silent) == Phase::greeting);
  CHECK(status(P::refused) == Status::refused);
  CHECK(status(P::tls_stall) == Status::timeout);
  CHECK(phase(P::tls_stall) == Phase::ehlo_after_tls);
  REQUIRE(results.at(P::tls_stall).tls.has_value());

  const ScaleCounters counters = fleet.counters();
  CHECK(counters.mail_commands == 0);
  CHECK(counters.busy_rejected == 1);
  CHECK(counters.tls_handshakes == 5);  // good, self_signed, busy (2nd), slow_banner, tls_stall
  CHECK(counters.sessions == 9);        // eight listening hosts, busy twice; refused never
  CHECK(counters.sessions_per_personality[personality_index(P::refused)] == 0);
  fleet.stop();
  io.run_for(500ms);
  CHECK(fleet.counters().active == 0);
}

TEST_CASE("scale lab fleet: hostile clients are bounded and MAIL is counted, never served") {
  asio::io_context io(1);
  ScaleFleetOptions options;
  options.zone.domains = 2;
  options.zone.hosts = 1;
  options.zone.providers = 0;
  options.zone.mix = parse_personality_mix("good=1");
  options.start_dns = false;
  options.smtp_port = 0;
  options.idle_timeout = 300ms;
  options.session_timeout = 2s;
  ScaleFleet fleet(io.get_executor(), options);
  fleet.start();
  const asio::ip::tcp::endpoint server(fleet.zone().hosts()[0].address, fleet.smtp_port());

  run(io, [&]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    {
      RawClient client(executor);
      const auto connected = co_await client.connect(server);
      REQUIRE(!connected);
      const Reply banner = co_await client.read_reply();
      CHECK(banner.code == 220);
      const auto sent = co_await client.send("MAIL FROM:<a@b.test>\r\n");
      CHECK(!sent);
      const Reply refused = co_await client.read_reply();
      CHECK(refused.code == 502);
      // A line longer than the server's 512-byte buffer ends the session.
      const auto flood = co_await client.send(std::string(2000, 'x'));
      (void)flood;
      const Reply after = co_await client.read_reply(1s);
      CHECK(after.code == 0);
    }
    {
      // A client that says nothing is dropped after the idle timeout... only once it has been
      // greeted: the banner wait counts against the session, then each line against idle.
      RawClient client(executor);
      const auto connected = co_await client.connect(server);
      REQUIRE(!connected);
      const Reply banner = co_await client.read_reply();
      CHECK(banner.code == 220);
      const auto started = std::chrono::steady_clock::now();
      const Reply nothing = co_await client.read_reply(3s);
      CHECK(nothing.code == 0);
      CHECK(std::chrono::steady_clock::now() - started < 2500ms);
    }
  });
  CHECK(fleet.counters().mail_commands == 1);
  CHECK(fleet.counters().timeouts >= 1);
}

TEST_CASE("scale lab: the descriptor limit is raised or refused clearly") {
  rlimit before{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
  CHECK_NOTHROW(ensure_descriptor_limit(64));  // always below any sane limit
  if (before.rlim_max != RLIM_INFINITY) {
    // Beyond the kernel's nr_open even root cannot go: the error says what is needed.
    try {
      ensure_descriptor_limit(std::size_t{1} << 40);
      FAIL("an impossible descriptor limit was accepted");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("file descriptors") != std::string::npos);
    }
  }
  rlimit after{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur >= 64);
}

}  // TEST_SUITE

TEST_SUITE("lab") {

TEST_CASE("scale lab CLI: options attach to the lab command without clashing with its own") {
  CLI::App app("test");
  auto* lab_command = app.add_subcommand("lab");
  std::string plain_dns = "127.25.0.53:5353";
  lab_command->add_option("--dns", plain_dns);  // the plain lab's option, as cli/lab.cpp adds it
  cli::ScaleLabOptions options;
  cli::add_scale_options(*lab_command, options);
  CHECK(lab_command->get_option_no_throw("--ca-out") != nullptr);  // added: the command had none
  app.parse("lab --scale 100 --hosts 10 --mix good=1,silent=1 --delay-median 80ms --dns 127.53.0.7:53", false);
  CHECK(options.domains == 100);
  CHECK(options.hosts == 10);
  CHECK(options.mix == "good=1,silent=1");
  CHECK(options.delay_median == "80ms");
  CHECK(plain_dns == "127.53.0.7:53");            // the command's own --dns took it
  CHECK(options.dns == "127.53.0.53:5353");       // the caller copies it in when wanted

  // Setup errors are reported and give exit code 2, before anything listens.
  cli::ScaleLabOptions bad;
  bad.domains = 10;
  bad.mix = "nosuch=1";
  CHECK(cli::run_scale_lab(bad) == 2);
  bad.mix = "default";
  bad.delay_median = "soon";
  CHECK(cli::run_scale_lab(bad) == 2);
  bad.delay_median = "0ms";
  bad.dns = "not-an-address";  // refused before any socket exists
  CHECK(cli::run_scale_lab(bad) == 2);
}

}  // TEST_SUITE
