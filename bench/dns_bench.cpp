// B4: DNS lookups per second with mxtls's own stub resolver (dns::Resolver) — for each domain an
// MX lookup, then an A lookup of its MX host, N lookups in flight on one io_context — against
// a loopback DNS server: the scale lab's (--server), or with --self a scale zone served by a
// ZoneServer on a second thread of this process (for `meson test --benchmark`).
#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "lab/scale_zone.hpp"

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <time.h>

namespace {

using namespace mxtls;
using Clock = std::chrono::steady_clock;

struct Tally {
  std::size_t next = 0;  // next domain to look up
  std::uint64_t lookups = 0;
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> failures;  // outcome → count
};

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// One of the N concurrent lookers: takes the next domain until none is left.
asio::awaitable<void> looker(dns::Resolver& resolver, const std::vector<std::string>& domains, Tally& tally) {
  while (tally.next < domains.size()) {
    const std::string domain = domains[tally.next++];
    dns::MxAnswer mx = co_await resolver.mx(domain);
    ++tally.lookups;
    if (mx.outcome != dns::Outcome::ok || mx.records.empty()) {
      ++tally.failures[std::string("MX ") + dns::to_string(mx.outcome)];
      continue;
    }
    ++tally.ok;
    const std::string host = mx.records.front().host;
    dns::AddressAnswer a = co_await resolver.a(host);
    ++tally.lookups;
    if (a.outcome != dns::Outcome::ok || a.addresses.empty()) {
      ++tally.failures[std::string("A ") + dns::to_string(a.outcome)];
      continue;
    }
    ++tally.ok;
  }
}

std::vector<std::string> read_domains(const std::string& path, std::size_t limit) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> domains;
  std::string line;
  while (std::getline(in, line) && domains.size() < limit) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    domains.push_back(line);
  }
  return domains;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("B4: MX + A lookups per second with mxtls's resolver against a loopback DNS server");
  std::string server = "127.53.0.53:5353";
  std::string domains_file;
  std::size_t self_domains = 0;
  std::size_t concurrency = 200;
  std::size_t count = 0;
  int timeout_ms = 2000;
  app.add_option("--server", server, "DNS server IP:PORT (the scale lab's)")->capture_default_str();
  app.add_option("--domains", domains_file, "domain list (e.g. the scale lab's --domains-out)");
  app.add_option("--self", self_domains,
                 "serve a scale zone of this many domains from a ZoneServer on a second thread instead");
  app.add_option("--concurrency", concurrency, "lookups in flight")->capture_default_str();
  app.add_option("--count", count, "domains to look up (0: all)")->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "per-attempt timeout")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    if (concurrency == 0) throw std::invalid_argument("--concurrency must be at least 1");
    std::vector<std::string> domains;
    asio::io_context server_io(1);
    std::unique_ptr<dns::ZoneServer> zone_server;
    std::thread server_thread;
    double server_cpu = 0;  // CPU seconds of the server thread (--self)
    asio::ip::udp::endpoint endpoint;
    if (self_domains > 0) {
      lab::ScaleZoneSpec spec;
      spec.domains = self_domains;
      spec.hosts = std::max<std::size_t>(10, self_domains / 20);
      const auto built = Clock::now();
      lab::ScaleZone zone(spec);
      const std::string text = zone.zone_text();
      const auto planned = Clock::now();
      zone_server = std::make_unique<dns::ZoneServer>(server_io.get_executor(), asio::ip::make_address("127.53.0.54"),
                                                      0, text);
      zone_server->start();
      const auto loaded = Clock::now();
      std::printf("dns_bench: zone of %zu domains (%zu bytes) planned in %.0f ms, parsed and served in %.0f ms\n",
                  self_domains, text.size(), std::chrono::duration<double, std::milli>(planned - built).count(),
                  std::chrono::duration<double, std::milli>(loaded - planned).count());
      endpoint = zone_server->endpoint();
      for (std::size_t d = 0; d < zone.domain_count(); ++d) domains.push_back(zone.domain_name(d));
      server_thread = std::thread([&server_io, &server_cpu] {
        server_io.run();
        timespec used{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &used);
        server_cpu = static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) / 1e9;
      });
    } else {
      endpoint = dns::parse_server(server);
      if (!endpoint.address().is_loopback()) throw std::invalid_argument("--server must be a loopback address");
      if (domains_file.empty()) throw std::invalid_argument("--domains FILE is required without --self");
      domains = read_domains(domains_file, count > 0 ? count : SIZE_MAX);
    }
    if (count > 0 && domains.size() > count) domains.resize(count);
    if (domains.empty()) throw std::invalid_argument("no domains to look up");

    asio::io_context io(1);
    dns::ResolverConfig config;
    config.servers = {endpoint};
    config.timeout = std::chrono::milliseconds(timeout_ms);
    config.attempts = 2;
    dns::Resolver resolver(io.get_executor(), config);
    Tally tally;
    const std::size_t lookers = std::min(concurrency, domains.size());
    for (std::size_t i = 0; i < lookers; ++i) asio::co_spawn(io, looker(resolver, domains, tally), asio::detached);
    const double cpu_before = cpu_seconds();
    const auto started = Clock::now();
    io.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const double cpu = cpu_seconds() - cpu_before;

    if (zone_server) {
      asio::post(server_io, [&] { zone_server->stop(); });
      server_thread.join();
    }
    std::printf("dns_bench: %zu domains, %zu in flight, server %s:%u\n", domains.size(), lookers,
                endpoint.address().to_string().c_str(), endpoint.port());
    std::printf("dns_bench: %llu lookups (%llu ok) in %.3f s: %.0f lookups/s (CPU %.3f s%s)\n",
                static_cast<unsigned long long>(tally.lookups), static_cast<unsigned long long>(tally.ok), seconds,
                static_cast<double>(tally.lookups) / seconds, cpu,
                self_domains > 0 ? ", server thread included" : "");
    if (zone_server)
      std::printf("dns_bench: ZoneServer thread CPU %.3f s: %.1f us per query, capacity %.0f queries/s on one core\n",
                  server_cpu, server_cpu * 1e6 / static_cast<double>(tally.lookups),
                  static_cast<double>(tally.lookups) / server_cpu);
    for (const auto& [what, n] : tally.failures)
      std::printf("dns_bench: failed %s: %llu\n", what.c_str(), static_cast<unsigned long long>(n));
    return tally.failures.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "dns_bench: " << e.what() << "\n";
    return 2;
  }
}
