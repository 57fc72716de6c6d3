// The bulk engine end to end, in-process: a fake DNS zone with hundreds of domains, most of
// them hosted at one provider, scripted SMTP fakes on 127.0.0.1/127.0.0.2, output to a file.
// The provider sees one connection, every domain gets a whole block, and a scan stopped in
// the middle and resumed gives exactly the domains of an uninterrupted one, none twice.
#include "scan/bulk.hpp"

#include "dns/resolver.hpp"
#include "dns/zone_server.hpp"
#include "fakes/scripted_smtp.hpp"
#include "report/jsonl_read.hpp"
#include "scan/output.hpp"
#include "tls/client.hpp"
#include "tls/pki.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

constexpr int hosted_domains = 300;

std::string make_zone() {
  std::ostringstream z;
  z << "$ORIGIN test.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. ( 1 3600 600 86400 300 )\n@ IN NS ns.test.\n"
    << "ns IN A 127.0.0.1\n"
    << "mx1.provider IN A 127.0.0.1\n"
    << "own IN MX 10 mail.own.test.\nmail.own IN A 127.0.0.2\n"
    << "plain IN MX 10 mail.plain.test.\nmail.plain IN A 127.0.0.2\n"
    << "optout IN MX 10 mx1.provider.test.\n";
  for (int i = 0; i < hosted_domains; ++i) z << "h" << i << " IN MX 10 mx1.provider.test.\n";
  return z.str();
}

std::string domain_list() {
  std::string list = "# bulk test\nown.test\nplain.test\nmissing.test\nOPTOUT.test\nbad..name\n";
  for (int i = 0; i < hosted_domains; ++i) list += "h" + std::to_string(i) + ".test\n";
  list += "h7.test\n";  // a duplicate
  return list;
}

struct BulkLab {
  asio::io_context io;
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls bulk test CA");
  tls::Credentials creds = ca.issue({.common_name = "mx1.provider.test", .dns_names = {"mx1.provider.test", "mail.own.test"}});
  dns::ZoneServer dns_server{io.get_executor(), asio::ip::make_address("127.0.0.1"), 0, make_zone()};
  std::unique_ptr<fakes::ScriptedSmtp> provider, own;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("mxtls-bulkscan-" + std::to_string(::getpid()));

  BulkLab() {
    std::filesystem::create_directories(dir);
    dns_server.start();
    fakes::ScriptedSmtpOptions options;
    options.drain_timeout = 200ms;
    options.address = asio::ip::make_address("127.0.0.1");
    provider = std::make_unique<fakes::ScriptedSmtp>(io.get_executor(), fakes::starttls_session(creds), options);
    provider->start();
    // mail.own.test and mail.plain.test share 127.0.0.2: one TLS, one plain session.
    options.address = asio::ip::make_address("127.0.0.2");
    options.port = provider->port();
    own = std::make_unique<fakes::ScriptedSmtp>(
        io.get_executor(), std::vector<fakes::Script>{fakes::starttls_session(creds), fakes::plain_session()}, options);
    own->start();
  }
  ~BulkLab() { std::filesystem::remove_all(dir); }

  struct Run {
    scan::BulkCounters counters;
    scan::SchedulerCounters scheduler;
    std::vector<scan::InputProblem> problems;
  };

  // One scan of the list into `out`; stop_after > 0 stops after that many domains.
  Run scan(const std::string& out, bool resume, std::size_t stop_after = 0, const scan::ExclusionList* exclude = nullptr) {
    dns::ResolverConfig config;
    config.servers = {dns_server.endpoint()};
    config.timeout = 2s;
    config.cache_entries = 1000;
    dns::Resolver resolver(io.get_executor(), config);
    tls::ClientTlsContext context(tls::ClientTlsOptions{.ca_pem = ca.cert_pem()});
    scan::BulkSettings settings;
    settings.domain.port = provider->port();
    settings.domain.ipv6 = false;
    settings.domain.probe.ehlo_name = "scanner.mxtls.test";
    settings.domain.probe.timeouts.probe = 10s;
    settings.scheduler.concurrency = 8;
    settings.domains_in_flight = 16;
    scan::ResumeState resumed;
    if (resume) resumed = scan::prepare_resume(out, scan::OutputFormat::jsonl);
    scan::ResultWriter writer(out, scan::OutputFormat::jsonl);
    Run run;
    std::size_t written = 0;
    scan::BulkScan* self = nullptr;
    scan::BulkHooks hooks;
    hooks.on_domain = [&](const DomainResult& d) {
      writer.write(d);
      if (stop_after > 0 && ++written == stop_after) self->stop();
    };
    hooks.on_problem = [&](const scan::InputProblem& p) { run.problems.push_back(p); };
    if (resume) hooks.is_done = [&](const std::string& ascii) { return resumed.done.contains(ascii); };
    scan::BulkScan bulk(io, resolver, context, exclude, settings, hooks);
    self = &bulk;
    auto input = std::make_unique<scan::DomainListReader>(std::make_unique<std::istringstream>(domain_list()), "list.txt");
    asio::co_spawn(io, bulk.run(std::move(input)), [&](std::exception_ptr) { io.stop(); });
    io.restart();
    io.run();
    run.counters = bulk.counters();
    run.scheduler = bulk.scheduler().counters();
    return run;
  }

  static std::map<std::string, int> domain_records(const std::string& path) {
    std::ifstream in(path);
    report::JsonlDomainReader reader(in, path);
    std::map<std::string, int> seen;
    while (auto d = reader.next()) ++seen[d->domain];
    CHECK(reader.problems().empty());
    return seen;
  }
};

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("bulk scan: one connection for three hundred domains at one provider, every domain written once") {
  BulkLab lab;
  const std::string out = (lab.dir / "all.jsonl").string();
  scan::ExclusionList exclude;
  CHECK(exclude.add("optout.test", "exclude.txt:1").empty());
  const auto run = lab.scan(out, false, 0, &exclude);
  CHECK(run.counters.finished == hosted_domains + 4);
  CHECK(run.counters.duplicates == 1);
  CHECK(run.counters.excluded == 1);
  REQUIRE(run.problems.size() == 1);
  CHECK(run.problems[0].where == "list.txt:6");
  CHECK(lab.provider->connections() == 1);
  CHECK(lab.own->connections() == 2);
  CHECK(run.scheduler.reused == hosted_domains - 1);
  CHECK_FALSE(lab.provider->client_sent_mail_commands());
  CHECK_FALSE(lab.own->client_sent_mail_commands());

  const auto seen = BulkLab::domain_records(out);
  CHECK(seen.size() == hosted_domains + 4);
  for (const auto& [domain, n] : seen) CHECK_MESSAGE(n == 1, domain);

  std::ifstream in(out);
  report::JsonlDomainReader reader(in, out);
  std::map<std::string, DomainResult> by_name;
  while (auto d = reader.next()) by_name[d->domain] = std::move(*d);
  CHECK(by_name["h123.test"].gmail_lock == GmailLock::grey);
  REQUIRE(by_name["h123.test"].probes.size() == 1);
  CHECK(by_name["h123.test"].probes[0].tls->verdict == CertVerdict::verified);
  CHECK(by_name["own.test"].gmail_lock == GmailLock::grey);
  CHECK(by_name["plain.test"].gmail_lock == GmailLock::red);
  CHECK(by_name["missing.test"].kind == DomainKind::nxdomain);
  CHECK(by_name["optout.test"].kind == DomainKind::excluded);
  CHECK(by_name["optout.test"].error == "not scanned: excluded by exclude.txt:1 optout.test");
}

TEST_CASE("bulk scan: stopped in the middle and resumed, the output has every domain exactly once") {
  BulkLab lab;
  const std::string out = (lab.dir / "resumed.jsonl").string();
  const auto first = lab.scan(out, false, 50);
  CHECK(first.counters.finished >= 50);
  CHECK(first.counters.finished < hosted_domains);
  const auto part = BulkLab::domain_records(out);
  CHECK(part.size() == first.counters.finished);

  const auto second = lab.scan(out, true);
  CHECK(second.counters.already_done == first.counters.finished);
  CHECK(first.counters.finished + second.counters.finished == hosted_domains + 4);
  const auto all = BulkLab::domain_records(out);
  CHECK(all.size() == hosted_domains + 4);
  for (const auto& [domain, n] : all) CHECK_MESSAGE(n == 1, domain);
}

}  // TEST_SUITE
