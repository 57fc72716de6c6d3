// The adversarial suite's shared plumbing (see adversarial_support.hpp).
#include "adversarial_support.hpp"

#include "report/csv.hpp"
#include "report/json_read.hpp"
#include "report/jsonl.hpp"
#include "report/text.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"
#include "tls/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mxtls::adversarial {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const AdversarialPki& pki() {
  static const AdversarialPki instance;
  return instance;
}

scan::ProbeSettings hostile_settings() {
  scan::ProbeSettings s;
  s.ehlo_name = "scanner.mxtls.test";
  s.timeouts.connect = 1s;
  s.timeouts.greeting = phase_limit;
  s.timeouts.command = phase_limit;
  s.timeouts.handshake = phase_limit;
  s.timeouts.quit = phase_limit;
  s.timeouts.probe = probe_limit;
  return s;
}

namespace {

scan::ProbeSettings neighbour_settings() {
  scan::ProbeSettings s;
  s.ehlo_name = "scanner.mxtls.test";
  s.timeouts.connect = 5s;
  s.timeouts.greeting = 5s;
  s.timeouts.command = 5s;
  s.timeouts.handshake = 5s;
  s.timeouts.quit = 2s;
  s.timeouts.probe = 15s;
  return s;
}

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Built field by field: GCC 12 double-destroys braced temporaries passed to a coroutine.
scan::ProbeTarget make_target(const std::string& domain, const asio::ip::tcp::endpoint& where) {
  scan::ProbeTarget target;
  target.domain = domain;
  target.mx = "mx.fake.test";
  target.preference = 10;
  target.address = where.address();
  target.port = where.port();
  return target;
}

}  // namespace

PairOutcome probe_beside_good(asio::io_context& io, const asio::ip::tcp::endpoint& hostile,
                              const scan::ProbeSettings& settings, const std::function<void()>& stop_hostile) {
  fakes::ScriptedSmtpOptions good_options;
  good_options.drain_timeout = 500ms;
  fakes::ScriptedSmtp good(io.get_executor(), fakes::starttls_session(pki().good), good_options);
  good.start();
  tls::ClientTlsOptions trust;
  trust.ca_pem = pki().ca.cert_pem();
  tls::ClientTlsContext context(trust);
  const scan::ProbeSettings good_settings = neighbour_settings();
  PairOutcome out;
  int running = 2;
  auto one_done = [&] {
    if (--running == 0) {
      good.stop();
      stop_hostile();
    }
  };
  const auto started = Clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    const scan::ProbeTarget target = make_target("hostile.test", hostile);
    out.hostile = co_await scan::run_probe(target, settings, context);
    out.hostile_took = since(started);
    one_done();
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    const scan::ProbeTarget target = make_target("good.test", good.endpoint());
    out.good = co_await scan::run_probe(target, good_settings, context);
    out.good_took = since(started);
    one_done();
  }, asio::detached);
  // A safety net only: every probe has its own deadlines, asserted by the cases.
  io.run_for(30s);
  CHECK_MESSAGE(running == 0, "a probe did not finish within 30 s");
  return out;
}

PairOutcome probe_script_beside_good(fakes::Script script, const scan::ProbeSettings& settings,
                                     fakes::ScriptedSmtpOptions options) {
  asio::io_context io;
  options.drain_timeout = std::min<std::chrono::milliseconds>(options.drain_timeout, 500ms);
  fakes::ScriptedSmtp hostile(io.get_executor(), std::move(script), options);
  hostile.start();
  PairOutcome out = probe_beside_good(io, hostile.endpoint(), settings, [&] { hostile.stop(); });
  out.hostile_sessions = hostile.sessions();
  for (const auto& s : out.hostile_sessions) CHECK_FALSE(s.sent_mail_commands());
  return out;
}

void check_good_neighbour(const PairOutcome& outcome) {
  const ProbeResult& g = outcome.good;
  CHECK(g.status == Status::ok);
  CHECK_FALSE(g.failed_phase.has_value());
  CHECK(g.error.empty());
  CHECK(g.banner == "mx.fake.test ESMTP fake");
  REQUIRE(g.tls.has_value());
  CHECK(g.tls->verdict == CertVerdict::verified);
  CHECK(g.ehlo_after_tls == std::vector<std::string>{"PIPELINING", "SIZE 10240000", "8BITMIME"});
  // Its own deadlines are 5 s; a hostile neighbour must not hold it up anywhere near that.
  CHECK(outcome.good_took < 3000ms);
}

std::size_t result_footprint(const ProbeResult& r) {
  std::size_t n = r.domain.size() + r.mx.size() + r.ip.size() + r.error.size() + r.started_at.size() +
                  r.banner.size() + r.injected_after_starttls.size() + r.starttls_reply.size();
  for (const auto* list : {&r.ehlo_keywords, &r.auth_before_tls, &r.ehlo_after_tls, &r.earlier_attempts})
    for (const auto& s : *list) n += s.size();
  if (r.tls) {
    n += r.tls->version.size() + r.tls->cipher.size() + r.tls->group.size() + r.tls->verify_error.size();
    if (r.tls->cert) {
      const CertFacts& c = *r.tls->cert;
      n += c.subject.size() + c.issuer.size() + c.not_before.size() + c.not_after.size() + c.key_type.size() +
           c.signature_algorithm.size() + c.sha256.size() + c.spki_sha256.size();
      for (const auto& s : c.sans) n += s.size();
    }
  }
  return n;
}

bool valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto decoded = report::decode_utf8(text, pos);
    if (!decoded.valid) return false;
    pos += decoded.length;
  }
  return true;
}

std::string check_outputs_valid(const ProbeResult& r) {
  DomainResult d;
  d.input = d.domain = r.domain;
  d.mx_hosts.push_back(MxHost{r.mx, r.preference, {r.ip}, {}, {}});
  d.probes.push_back(r);
  report::judge_domain(d);

  const std::string json = report::probe_record_json(d, d.probes.front());
  CHECK(valid_utf8(json));
  std::string json_error;
  const auto parsed = report::parse_json(json, &json_error);
  CHECK_MESSAGE(parsed.has_value(), json_error);
  CHECK(json.find('\n') == std::string::npos);

  std::ostringstream csv;
  report::write_csv_header(csv);
  report::write_csv_rows(csv, d);
  CHECK(valid_utf8(csv.str()));
  CHECK(csv.str().find('\0') == std::string::npos);
  CHECK(csv.str().find('\x1b') == std::string::npos);

  std::ostringstream text;
  report::write_domain_report(text, d, report::TextOptions{});
  report::write_summary_table(text, {d}, report::TextOptions{});
  CHECK(valid_utf8(text.str()));
  CHECK(text.str().find('\0') == std::string::npos);
  CHECK(text.str().find('\x1b') == std::string::npos);
  return json;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string status_text(const ProbeResult& r) {
  std::string s(to_string(r.status));
  if (r.failed_phase) s += " @ " + std::string(to_string(*r.failed_phase));
  return s;
}

void table_row(const std::string& case_name, const std::string& status, std::chrono::milliseconds took,
               std::chrono::milliseconds deadline, const std::string& memory_note) {
  const char* path = std::getenv("MXTLS_ADVERSARIAL_TABLE");
  if (path == nullptr || *path == '\0') return;
  const bool fresh = !std::ifstream(path).good();
  std::ofstream out(path, std::ios::app);
  if (fresh) {
    out << "| case | status reported | time ms | deadline ms | bytes / memory |\n"
        << "|---|---|---:|---:|---|\n";
  }
  auto cell = [](std::string text) {
    for (auto& c : text)
      if (c == '|' || c == '\n' || c == '\r') c = ' ';
    return text;
  };
  out << "| " << cell(case_name) << " | " << cell(status) << " | " << took.count() << " | " << deadline.count()
      << " | " << cell(memory_note) << " (peak RSS " << peak_rss_kib() / 1024 << " MiB) |\n";
}

}  // namespace mxtls::adversarial
