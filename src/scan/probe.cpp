// The probe coroutine, read top to bottom: each phase is a small function that records its
// outcome in the result before the next one starts. A deadline bounds every phase; whatever
// the server does (silence, drip, garbage, close), the probe ends with a status and detail.
#include "scan/probe.hpp"

#include "core/deadline.hpp"
#include "core/text.hpp"
#include "smtp/session.hpp"
#include "tls/client.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>

namespace mxtls::scan {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

std::int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

std::string seconds_text(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// The state of one probe while it runs: the result being written, the socket, the clock.
struct ProbeRun {
  ProbeRun(ProbeResult& r, const ProbeSettings& s, const asio::any_io_executor& ex)
      : result(r), settings(s), socket(ex), clock(ex, s.timeouts.probe) {}

  ProbeResult& result;
  const ProbeSettings& settings;
  asio::ip::tcp::socket socket;
  PhaseClock clock;
  Phase phase = Phase::connect;
  Clock::time_point phase_started{};  // {} while no phase is running
  bool failed = false;

  void begin(Phase next, Clock::duration limit) {
    close_phase();
    phase = next;
    phase_started = Clock::now();
    clock.start_phase(limit);
  }

  void close_phase() {
    if (phase_started != Clock::time_point{})
      result.phase_ms.push_back({phase, ms_between(phase_started, Clock::now())});
    phase_started = {};
  }

  void fail(Status status, std::string detail) {
    if (failed) return;  // the first failure is the one that explains the probe
    failed = true;
    result.status = status;
    result.failed_phase = phase;
    result.error = std::move(detail);
  }

  // An I/O error: a deadline that passed, the peer closing, or the network saying no.
  void fail_io(const std::error_code& ec, std::string_view waiting_for) {
    if (clock.expired() || ec == asio::error::operation_aborted) {
      fail(Status::timeout, std::string(waiting_for) + ": no answer within " + seconds_text(clock.phase_limit()));
    } else if (tls::is_tls_layer_error(ec)) {
      // After the handshake: a fatal alert (the server gave up on us, or on renegotiation) or a
      // broken record is a TLS failure, not a plain hang-up.
      fail(Status::tls_error, std::string(waiting_for) + ": TLS error after the handshake: " + ec.message());
    } else if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      fail(Status::closed, std::string(waiting_for) + ": connection closed by the server");
    } else {
      fail(Status::closed, std::string(waiting_for) + ": " + ec.message());
    }
  }

  void fail_read(const smtp::ReadOutcome& read, std::string_view waiting_for) {
    if (read.kind == smtp::ReadOutcome::Kind::malformed)
      fail(Status::protocol_error, std::string(waiting_for) + ": " + read.detail);
    else
      fail_io(read.error, waiting_for);
  }
};

constexpr const char* local_exhaustion_prefix = "local resources exhausted: ";
// connect() failures, worded for a person and matched by connect_outcome().
constexpr const char* refused_detail = "connection refused";
constexpr const char* host_unreachable_prefix = "host unreachable: ";
constexpr const char* no_route_prefix = "no route: ";
constexpr const char* local_firewall_prefix = "blocked by a firewall on this machine: ";

// asio's system category maps only some errno values to std::errc conditions (EADDRNOTAVAIL
// and ENFILE, for one, compare unequal to theirs), so connect() errors are told by value.
bool is_errno(const std::error_code& ec, int value) {
  return ec.category() == asio::error::get_system_category() && ec.value() == value;
}

asio::awaitable<bool> connect(ProbeRun& run, const ProbeTarget& target) {
  run.begin(Phase::connect, run.settings.timeouts.connect);
  auto [ec] = co_await run.socket.async_connect({target.address, target.port}, as_result);
  if (!ec) {
    // Every command goes out in one write and we wait for its reply, so Nagle can only hold a
    // command back: EHLO after a TLS 1.3 handshake waited for the ACK of our Finished, which a
    // server with nothing to send (no session tickets) delays by 40 ms.
    std::error_code ignored;
    run.socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return true;
  }
  if (ec == asio::error::connection_refused)
    run.fail(Status::refused, refused_detail);
  else if (ec == asio::error::host_unreachable)
    run.fail(Status::refused, std::string(host_unreachable_prefix) + ec.message());
  else if (ec == asio::error::network_unreachable)
    run.fail(Status::refused, std::string(no_route_prefix) + ec.message());
  else if (is_errno(ec, EPERM) || is_errno(ec, EACCES))
    // The kernel of this machine refused to send the SYN: a local firewall rule.
    run.fail(Status::refused, std::string(local_firewall_prefix) + ec.message());
  else if (is_errno(ec, EMFILE) || is_errno(ec, ENFILE) || is_errno(ec, ENOBUFS) || is_errno(ec, EADDRNOTAVAIL))
    run.fail(Status::internal, std::string(local_exhaustion_prefix) + ec.message());
  else
    run.fail_io(ec, "connect");
  co_return false;
}

asio::awaitable<bool> read_greeting(ProbeRun& run, smtp::Session& session) {
  run.begin(Phase::greeting, run.settings.timeouts.greeting);
  auto read = co_await session.read_reply();
  if (!read.ok()) {
    run.fail_read(read, "waiting for the greeting");
    co_return false;
  }
  run.result.greeting_code = read.reply.code;
  run.result.banner = printable(read.reply.text(), 512);
  if (read.reply.code == 220) co_return true;
  run.fail(read.reply.code >= 400 ? Status::smtp_reject : Status::protocol_error,
           "greeting " + std::to_string(read.reply.code) + " " + run.result.banner);
  co_return false;
}

// Sends a command and reads its reply, recording failures; nullopt when the conversation
// cannot go on.
asio::awaitable<std::optional<smtp::Reply>> command(ProbeRun& run, smtp::Session& session, const std::string& line) {
  if (auto ec = co_await session.send(line)) {
    run.fail_io(ec, "sending " + line.substr(0, line.find(' ')));
    co_return std::nullopt;
  }
  auto read = co_await session.read_reply();
  if (!read.ok()) {
    run.fail_read(read, "waiting for the reply to " + line.substr(0, line.find(' ')));
    co_return std::nullopt;
  }
  co_return std::move(read.reply);
}

// EHLO, falling back to HELO when EHLO is refused. Returns the extensions, or nullopt if
// the conversation ended.
asio::awaitable<std::optional<smtp::Extensions>> say_hello(ProbeRun& run, smtp::Session& session, Phase phase) {
  run.begin(phase, run.settings.timeouts.command);
  auto reply = co_await command(run, session, "EHLO " + run.settings.ehlo_name);
  if (!reply) co_return std::nullopt;
  if (reply->positive()) co_return smtp::parse_ehlo(*reply);
  if (phase == Phase::ehlo && (reply->code == 500 || reply->code == 502 || reply->code == 504 || reply->code == 550)) {
    // Old servers only know HELO; with HELO there are no extensions, hence no STARTTLS.
    auto helo = co_await command(run, session, "HELO " + run.settings.ehlo_name);
    if (!helo) co_return std::nullopt;
    if (helo->positive()) {
      run.result.used_helo = true;
      co_return smtp::Extensions{};
    }
    reply = std::move(helo);
  }
  run.fail(Status::smtp_reject, "EHLO answered " + std::to_string(reply->code) + " " + reply->text());
  co_return std::nullopt;
}

// STARTTLS; on 220 any bytes already sent after it are recorded and discarded: they arrived
// in cleartext and must never be read as if they came over TLS (CVE-2011-0411 class).
asio::awaitable<bool> start_tls(ProbeRun& run, smtp::Session& session) {
  run.begin(Phase::starttls, run.settings.timeouts.command);
  auto reply = co_await command(run, session, "STARTTLS");
  if (!reply) co_return false;
  run.result.starttls_code = reply->code;
  run.result.starttls_reply = reply->text();
  if (reply->code != 220) {
    run.fail(Status::smtp_reject, "STARTTLS answered " + std::to_string(reply->code) + " " + reply->text());
    co_return false;
  }
  std::string injected = session.take_unread();
  std::error_code ec;
  if (const std::size_t waiting = run.socket.available(ec); !ec && waiting > 0) {
    std::array<char, 512> extra;
    const std::size_t n = run.socket.read_some(asio::buffer(extra, std::min(waiting, extra.size())), ec);
    if (!ec) injected.append(extra.data(), n);
  }
  if (!injected.empty()) run.result.injected_after_starttls = printable(injected, 256);
  co_return true;
}

asio::awaitable<std::unique_ptr<tls::ClientTlsSession>> handshake(ProbeRun& run, tls::ClientTlsContext& context,
                                                                   const tls::DaneRequest* dane) {
  run.begin(Phase::handshake, run.settings.timeouts.handshake);
  SlotLease handshaking;
  if (run.settings.handshakes) {
    // Not a wait on the socket, so the deadline must end it itself.
    const bool granted = co_await run.settings.handshakes->acquire(run.clock.deadline());
    if (!granted) {
      run.fail(Status::timeout, "TLS handshake: not started within " + seconds_text(run.clock.phase_limit()) +
                                    " (waiting for one of this scan's handshake slots)");
      co_return nullptr;
    }
    handshaking = SlotLease(*run.settings.handshakes);
  }
  auto tls = std::make_unique<tls::ClientTlsSession>(run.socket, context, dane ? dane->base_domain : run.result.mx, dane);
  auto outcome = co_await tls->handshake();
  if (!outcome.error) co_return tls;
  if (run.clock.expired())
    run.fail(Status::timeout, "TLS handshake: not finished within " + seconds_text(run.clock.phase_limit()));
  else
    run.fail(Status::tls_error, "TLS handshake failed: " + outcome.detail);
  co_return nullptr;
}

// A polite goodbye; its outcome does not change the verdict.
asio::awaitable<void> quit(ProbeRun& run, smtp::Session& session) {
  run.begin(Phase::quit, run.settings.timeouts.quit);
  const std::error_code sent = co_await session.send("QUIT");
  if (sent) co_return;
  const auto goodbye = co_await session.read_reply();
  (void)goodbye;
}

asio::awaitable<void> converse(ProbeRun& run, const ProbeTarget& target, tls::ClientTlsContext& tls_context,
                               const tls::DaneRequest* dane) {
  ProbeResult& r = run.result;
  if (!co_await connect(run, target)) co_return;
  smtp::PlainTransport plain(run.socket);
  smtp::Session session(plain);
  if (!co_await read_greeting(run, session)) co_return;

  auto extensions = co_await say_hello(run, session, Phase::ehlo);
  if (!extensions) co_return;
  r.ehlo_keywords = extensions->lines;
  r.starttls = extensions->has("STARTTLS");
  r.auth_before_tls = extensions->params("AUTH");
  if (!*r.starttls) {
    run.fail(Status::not_offered, r.used_helo ? "EHLO refused; HELO has no STARTTLS" : "STARTTLS not offered");
    co_await quit(run, session);
    co_return;
  }

  if (!co_await start_tls(run, session)) {
    if (r.status == Status::smtp_reject) co_await quit(run, session);
    co_return;
  }
  auto tls = co_await handshake(run, tls_context, dane);
  if (!tls) {
    if (dane) r.dane.detail = "TLS handshake failed, so the TLSA records could not be checked";
    co_return;
  }

  run.begin(Phase::verify, run.settings.timeouts.command);
  r.tls = tls->facts(r.mx);
  if (dane) {
    tls->dane_outcome(r.dane);
    if (dane->base_domain != r.mx) r.dane.detail += " (TLSA at " + dane->base_domain + ", the MX host's CNAME target)";
  }

  session.switch_transport(*tls);
  auto after = co_await say_hello(run, session, Phase::ehlo_after_tls);
  if (!after) co_return;
  r.ehlo_after_tls = after->lines;
  r.status = Status::ok;
  co_await quit(run, session);
}

}  // namespace

bool local_resources_exhausted(const ProbeResult& result) {
  return result.status == Status::internal && result.failed_phase == Phase::connect &&
         result.error.rfind(local_exhaustion_prefix, 0) == 0;
}

std::optional<ConnectOutcome> connect_outcome(const ProbeResult& result) {
  if (result.status == Status::excluded) return std::nullopt;
  if (result.failed_phase != Phase::connect) {
    if (result.status == Status::ok || result.failed_phase) return ConnectOutcome::connected;
    return std::nullopt;  // never run
  }
  const auto starts = [&](const char* prefix) { return result.error.rfind(prefix, 0) == 0; };
  switch (result.status) {
    case Status::timeout: return ConnectOutcome::timed_out;
    case Status::refused:
      if (starts(host_unreachable_prefix)) return ConnectOutcome::host_unreachable;
      if (starts(no_route_prefix)) return ConnectOutcome::no_route;
      if (starts(local_firewall_prefix)) return ConnectOutcome::local_firewall;
      return ConnectOutcome::refused;
    case Status::closed: return ConnectOutcome::refused;  // reset or another error from connect()
    default: return std::nullopt;  // local resources, internal trouble: says nothing about the path
  }
}

ProbeResult result_for(const ProbeTarget& target) {
  ProbeResult result;
  result.domain = target.domain;
  result.mx = target.mx;
  result.preference = target.preference;
  result.ip = target.address.to_string();
  result.port = target.port;
  result.started_at = rfc3339_utc(std::chrono::system_clock::now());
  return result;
}

namespace {
// The DANE state DNS alone decides (into `result`), and what the handshake needs to check the
// rest: nullptr without usable TLSA records. The TLSA base domain is SNI and the DANE-TA
// reference name; the MX name stays acceptable.
std::unique_ptr<const tls::DaneRequest> judge_dane(const ProbeTarget& target, ProbeResult& result) {
  if (!target.dane) return nullptr;
  result.dnssec_addr = target.dane->addresses_secure;
  std::vector<dns::TlsaRecord> usable;
  result.dane = tls::dane_from_dns(*target.dane, usable);
  if (target.tlsa_lookup_ms >= 0) result.phase_ms.push_back({Phase::resolve_tlsa, target.tlsa_lookup_ms});
  if (usable.empty()) return nullptr;
  auto request = std::make_unique<tls::DaneRequest>();
  request->base_domain = target.dane->base_domain.empty() ? target.mx : target.dane->base_domain;
  request->records = std::move(usable);
  if (request->base_domain != target.mx) request->other_names.push_back(target.mx);
  return request;
}
}  // namespace

asio::awaitable<void> run_probe(const ProbeTarget& target, const ProbeSettings& settings,
                                tls::ClientTlsContext& tls_context, ProbeResult& result) {
  result = result_for(target);
  const auto started = Clock::now();

  // resolve_tlsa ran in the domain scan (once per MX host); its verdict is judged here. The
  // request is on the heap and only when usable records exist: this frame lives as long as
  // the probe, thousands at once in a bulk scan, and most hosts publish no TLSA.
  const std::unique_ptr<const tls::DaneRequest> dane = judge_dane(target, result);

  auto executor = co_await asio::this_coro::executor;
  ProbeRun run(result, settings, executor);
  // The deadlines end the socket's I/O themselves: one coroutine chain per probe, no watchdog.
  run.clock.guard(run.socket);
  try {
    co_await converse(run, target, tls_context, dane.get());
  } catch (const std::exception& e) {
    run.fail(Status::internal, e.what());
  }
  if (!run.failed && result.status != Status::ok)
    run.fail(run.clock.expired() ? Status::timeout : Status::internal, "probe ended unexpectedly");
  // A failure recorded after the status was already ok (QUIT) does not undo the verdict.
  run.close_phase();
  std::error_code ignored;
  run.socket.close(ignored);
  result.elapsed_ms = ms_between(started, Clock::now());
}

asio::awaitable<ProbeResult> run_probe(ProbeTarget target, const ProbeSettings& settings,
                                       tls::ClientTlsContext& tls_context) {
  ProbeResult result;
  co_await run_probe(target, settings, tls_context, result);
  co_return result;
}

}  // namespace mxtls::scan
