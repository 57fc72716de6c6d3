// The scale lab at run time: one acceptor per listening host, one small coroutine per
// connection bounded by a PhaseClock (idle and whole-session deadlines), replies delayed by a
// seeded lognormal draw, and the zone served by ZoneServer. Clients are hostile input: lines
// are bounded by a 512-byte buffer, errors are counted and end the session.
#include "lab/scale.hpp"

#include "core/deadline.hpp"
#include "core/endpoint_text.hpp"
#include "dns/zone_server.hpp"
#include "tls/pki.hpp"
#include "tls/server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

namespace mxtls::lab {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// RFC 5321 allows 512-octet command lines; our clients send far less. A longer line ends
// the session rather than growing a buffer.
constexpr std::size_t line_buffer_size = 512;
constexpr std::size_t max_command_errors = 10;
constexpr int port_zero_attempts = 10;
constexpr std::size_t descriptor_slack = 256;  // DNS sockets, stdio, the odd file
constexpr std::string_view tarpit_text = "220-tarpit.scale.test is thinking about it\r\n";

std::size_t index_of(ScalePersonality p) { return static_cast<std::size_t>(p); }

std::string upper_verb(std::string_view line) {
  std::string verb(line.substr(0, line.find(' ')));
  for (char& c : verb)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return verb;
}

}  // namespace

void ensure_descriptor_limit(std::size_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    throw std::runtime_error(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= needed) return;
  if (limit.rlim_cur == RLIM_INFINITY) return;
  const rlim_t want = static_cast<rlim_t>(needed);
  rlimit raised = limit;
  raised.rlim_cur = want;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) raised.rlim_max = want;  // needs privilege
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  const int error = errno;
  throw std::runtime_error("scale lab: needs " + std::to_string(needed) +
                           " file descriptors (listening hosts + --max-sessions + " +
                           std::to_string(descriptor_slack) + "), but RLIMIT_NOFILE is " +
                           std::to_string(limit.rlim_cur) + " (hard " + std::to_string(limit.rlim_max) +
                           ") and cannot be raised (" + std::strerror(error) +
                           "): run `ulimit -n " + std::to_string(needed) +
                           "` as root first, or lower --hosts / --max-sessions");
}

struct ScaleFleet::State {
  struct Session;

  asio::any_io_executor executor;
  ScaleFleetOptions options;
  ScaleZone zone;
  tls::CertificateAuthority ca;
  std::optional<tls::ServerContext> good_context;
  std::optional<tls::ServerContext> self_signed_context;
  std::unique_ptr<dns::ZoneServer> dns;
  std::vector<tcp::acceptor> acceptors;
  std::vector<std::uint32_t> acceptor_host;       // host index per acceptor
  std::vector<std::uint32_t> connections_per_host;  // seen so far: keys delays, drives busy
  std::unordered_set<Session*> sessions;          // open now, so stop() can end them
  ScaleCounters counters;
  std::uint16_t bound_port = 0;
  bool running = false;
  Clock::time_point created = Clock::now();
  std::chrono::milliseconds startup{0};

  State(asio::any_io_executor ex, ScaleFleetOptions opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        zone(options.zone),
        ca(tls::CertificateAuthority::create("mxtls scale lab CA", tls::KeyType::ecdsa_p256)),
        connections_per_host(zone.hosts().size(), 0) {
    // Two contexts for the whole fleet: a wildcard covers every MX name, so thousands of
    // hosts share one certificate and one SSL_CTX (cheap to start, cheap per connection).
    tls::CertSpec spec;
    spec.common_name = zone.certificate_name();
    spec.dns_names = {zone.certificate_name()};
    spec.key_type = tls::KeyType::ecdsa_p256;
    good_context.emplace(ca.issue(spec));
    self_signed_context.emplace(tls::self_signed(spec));
  }

  std::string host_name(std::uint32_t host) const {
    const ScaleHost& h = zone.hosts()[host];
    if (!h.mx_name.empty()) return h.mx_name;
    return "h" + std::to_string(host) + ".mx." + zone.spec().apex;
  }
};

// One connection. Lives in its serving coroutine's frame; registered with the state so that
// stop() can close it.
struct ScaleFleet::State::Session {
  Session(std::shared_ptr<State> s, std::uint32_t h, tcp::socket sock)
      : state(std::move(s)),
        host(h),
        personality(state->zone.hosts()[h].personality),
        connection(state->connections_per_host[h]++),
        socket(std::move(sock)),
        clock(state->executor, state->options.session_timeout) {
    state->sessions.insert(this);
    ScaleCounters& c = state->counters;
    ++c.sessions;
    ++c.active;
    c.peak_active = std::max(c.peak_active, c.active);
    ++c.sessions_per_personality[index_of(personality)];
  }
  ~Session() {
    state->sessions.erase(this);
    --state->counters.active;
    std::error_code ignored;
    socket.close(ignored);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Ends the session now: pending I/O fails and the watchdog fires.
  void abort() {
    std::error_code ignored;
    socket.close(ignored);
    clock.start_phase(Clock::duration::zero());
  }

  std::shared_ptr<State> state;
  std::uint32_t host;
  ScalePersonality personality;
  std::uint32_t connection;
  tcp::socket socket;
  PhaseClock clock;
  std::unique_ptr<tls::ServerStream> tls;
  std::array<char, line_buffer_size> buffer{};
  std::size_t buffered = 0;
  std::uint32_t replies = 0;
};

namespace {

using State = ScaleFleet::State;
using Session = State::Session;

asio::awaitable<void> sleep_for(Session& session, Clock::duration duration) {
  if (duration <= Clock::duration::zero()) co_return;
  asio::steady_timer timer(session.state->executor, duration);
  auto [ec] = co_await timer.async_wait(use_tuple);
  (void)ec;  // cancelled by the watchdog: the caller's next I/O fails on the closed session
}

// The injected latency before each reply, keyed so a rerun draws the same delays.
asio::awaitable<void> reply_delay(Session& session) {
  const ScaleFleetOptions& o = session.state->options;
  if (o.delay_median.count() <= 0) co_return;
  const std::uint64_t key = scale_hash(o.zone.seed, session.host, session.connection, session.replies++);
  co_await sleep_for(session, lognormal_delay(o.delay_median, o.delay_spread, key));
}

asio::awaitable<bool> send(Session& session, std::string_view text) {
  if (session.tls) {
    auto [ec, n] = co_await session.tls->write(asio::buffer(text.data(), text.size()));
    co_return !ec;
  }
  auto [ec, n] = co_await asio::async_write(session.socket, asio::buffer(text.data(), text.size()), use_tuple);
  co_return !ec;
}

asio::awaitable<bool> reply(Session& session, std::string_view text) {
  co_await reply_delay(session);
  const bool sent = co_await send(session, text);
  co_return sent;
}

asio::awaitable<std::size_t> receive(Session& session) {
  auto into = asio::buffer(session.buffer.data() + session.buffered, session.buffer.size() - session.buffered);
  if (session.tls) {
    auto [ec, n] = co_await session.tls->read_some(into);
    co_return ec ? 0 : n;
  }
  auto [ec, n] = co_await session.socket.async_read_some(into, use_tuple);
  co_return ec ? 0 : n;
}

// The next command line, without its line ending; nullopt on EOF, error, deadline or an
// over-long line (which ends the session: the buffer never grows).
asio::awaitable<std::optional<std::string>> read_line(Session& session) {
  for (;;) {
    const char* begin = session.buffer.data();
    const char* end = begin + session.buffered;
    const char* lf = std::find(begin, end, '\n');
    if (lf != end) {
      std::string line(begin, lf);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::size_t consumed = static_cast<std::size_t>(lf - begin) + 1;
      std::memmove(session.buffer.data(), lf + 1, session.buffered - consumed);
      session.buffered -= consumed;
      co_return line;
    }
    if (session.buffered == session.buffer.size()) co_return std::nullopt;
    const std::size_t n = co_await receive(session);
    if (n == 0) co_return std::nullopt;
    session.buffered += n;
  }
}

// Reads and drops whatever the client sends until it leaves or the session deadline passes.
asio::awaitable<void> hold(Session& session) {
  for (;;) {
    session.buffered = 0;
    const std::size_t n = co_await receive(session);
    if (n == 0) co_return;
  }
}

asio::awaitable<void> drip(Session& session) {
  const auto interval = session.state->options.drip_interval;
  for (std::size_t i = 0;; ++i) {
    co_await sleep_for(session, interval);
    const bool sent = co_await send(session, tarpit_text.substr(i % tarpit_text.size(), 1));
    if (!sent) co_return;
  }
}

std::string ehlo_reply(const std::string& host_name, bool offer_starttls) {
  std::string text = "250-" + host_name + " greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n";
  if (offer_starttls) text += "250-STARTTLS\r\n";
  text += "250 8BITMIME\r\n";
  return text;
}

asio::awaitable<void> dialogue(Session& session) {
  State& state = *session.state;
  ScaleCounters& counters = state.counters;
  const ScalePersonality p = session.personality;
  const std::string name = state.host_name(session.host);
  const bool offers_starttls = p != ScalePersonality::no_starttls;
  const tls::ServerContext& context =
      p == ScalePersonality::self_signed ? *state.self_signed_context : *state.good_context;

  const bool greeted = co_await reply(session, "220 " + name + " ESMTP mxtls scale lab\r\n");
  if (!greeted) co_return;
  std::size_t errors = 0;
  for (;;) {
    session.clock.start_phase(state.options.idle_timeout);
    std::optional<std::string> line = co_await read_line(session);
    if (!line) co_return;
    const std::string verb = upper_verb(*line);
    std::string answer;
    if (verb == "EHLO") {
      answer = ehlo_reply(name, offers_starttls && !session.tls);
    } else if (verb == "HELO") {
      answer = "250 " + name + "\r\n";
    } else if (verb == "STARTTLS" && offers_starttls && !session.tls) {
      const bool ready = co_await reply(session, "220 2.0.0 Ready to start TLS\r\n");
      if (!ready) co_return;
      // Plaintext pipelined after STARTTLS must not count as a TLS command (CVE-2011-0411).
      session.buffered = 0;
      session.tls = std::make_unique<tls::ServerStream>(context, session.socket);
      const std::error_code handshake_error = co_await session.tls->handshake();
      if (handshake_error) {
        ++counters.tls_failures;
        co_return;
      }
      ++counters.tls_handshakes;
      if (p == ScalePersonality::tls_stall) {
        co_await hold(session);
        co_return;
      }
      continue;
    } else if (verb == "QUIT") {
      ++counters.quits;
      const bool said = co_await reply(session, "221 2.0.0 " + name + " closing\r\n");
      (void)said;
      co_return;
    } else if (verb == "NOOP" || verb == "RSET") {
      answer = "250 2.0.0 OK\r\n";
    } else if (verb == "MAIL" || verb == "RCPT" || verb == "DATA" || verb == "BDAT") {
      ++counters.mail_commands;
      answer = "502 5.5.1 this lab host accepts no mail\r\n";
      ++errors;
    } else {
      answer = "500 5.5.2 command not recognised\r\n";
      ++errors;
    }
    if (errors > max_command_errors) {
      const bool said = co_await reply(session, "421 4.7.0 too many errors\r\n");
      (void)said;
      co_return;
    }
    const bool sent = co_await reply(session, answer);
    if (!sent) co_return;
  }
}

asio::awaitable<void> converse(Session& session) {
  State& state = *session.state;
  switch (session.personality) {
    case ScalePersonality::silent: co_await hold(session); break;
    case ScalePersonality::tarpit: co_await drip(session); break;
    case ScalePersonality::busy: {
      const std::size_t cycle = state.options.busy_rejects + 1;
      if (session.connection % cycle < state.options.busy_rejects) {
        ++state.counters.busy_rejected;
        const bool said =
            co_await reply(session, "421 4.7.0 " + state.host_name(session.host) + " busy, try again later\r\n");
        (void)said;
        break;
      }
      co_await dialogue(session);
      break;
    }
    case ScalePersonality::slow_banner:
      co_await sleep_for(session, state.options.slow_banner);
      co_await dialogue(session);
      break;
    default: co_await dialogue(session); break;
  }
}

asio::awaitable<void> serve(std::shared_ptr<ScaleFleet::State> state, std::uint32_t host, tcp::socket socket) {
  Session session(std::move(state), host, std::move(socket));
  co_await (converse(session) || session.clock.watchdog());
  if (session.clock.expired()) ++session.state->counters.timeouts;
  if (session.tls) {
    // close_notify is a courtesy; bounded so a peer that stopped reading cannot keep us.
    session.clock.start_phase(std::chrono::milliseconds(200));
    co_await (session.tls->shutdown() || session.clock.watchdog());
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<ScaleFleet::State> state, std::size_t listener) {
  const std::uint32_t host = state->acceptor_host[listener];
  while (state->running) {
    auto [ec, socket] = co_await state->acceptors[listener].async_accept(use_tuple);
    if (ec) {
      if (!state->running || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: back off instead of spinning.
      asio::steady_timer pause(state->executor, std::chrono::milliseconds(50));
      auto [pause_ec] = co_await pause.async_wait(use_tuple);
      (void)pause_ec;
      continue;
    }
    if (state->counters.active >= state->options.max_sessions) {
      ++state->counters.over_limit;
      std::error_code ignored;
      socket.close(ignored);
      continue;
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(state->executor, serve(state, host, std::move(socket)), asio::detached);
  }
}

}  // namespace

ScaleFleet::ScaleFleet(asio::any_io_executor executor, ScaleFleetOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

ScaleFleet::~ScaleFleet() {
  stop();
  // The DNS server must go while its io_context still exists; serving coroutines may keep
  // the rest of the state alive a little longer.
  state_->dns.reset();
}

void ScaleFleet::start() {
  State& state = *state_;
  if (state.running) return;
  const auto& hosts = state.zone.hosts();
  std::size_t listening = 0;
  for (const auto& host : hosts) listening += host.personality != ScalePersonality::refused;
  ensure_descriptor_limit(listening + state.options.max_sessions + descriptor_slack);

  try {
    if (state.options.start_dns) {
      state.dns = std::make_unique<dns::ZoneServer>(state.executor, state.options.dns_address,
                                                    state.options.dns_port, state.zone.zone_text());
      state.dns->start();
    }
    const bool any_port = state.options.smtp_port == 0;
    for (int attempt = 1;; ++attempt) {
      state.acceptors.clear();
      state.acceptor_host.clear();
      std::uint16_t port = state.options.smtp_port;
      std::string failure;
      asio::error_code error;
      for (std::size_t h = 0; h < hosts.size() && failure.empty(); ++h) {
        if (hosts[h].personality == ScalePersonality::refused) continue;
        tcp::acceptor acceptor(state.executor);
        const tcp::endpoint endpoint(hosts[h].address, port);
        acceptor.open(endpoint.protocol(), error);
        if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
        if (!error) acceptor.bind(endpoint, error);
        if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
        if (error) {
          failure = "cannot listen on " + endpoint_text(endpoint) + ": " + error.message();
          break;
        }
        if (port == 0) port = acceptor.local_endpoint().port();
        state.acceptors.push_back(std::move(acceptor));
        state.acceptor_host.push_back(static_cast<std::uint32_t>(h));
      }
      if (failure.empty()) {
        state.bound_port = port;
        break;
      }
      // With a kernel-chosen port another socket may hold that number on a later address.
      if (!any_port || attempt >= port_zero_attempts) throw std::runtime_error("scale lab: " + failure);
    }
  } catch (...) {
    stop();
    throw;
  }
  state.running = true;
  for (std::size_t i = 0; i < state.acceptors.size(); ++i)
    asio::co_spawn(state.executor, accept_loop(state_, i), asio::detached);
  state.startup = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - state.created);
}

void ScaleFleet::stop() {
  State& state = *state_;
  state.running = false;
  std::error_code ignored;
  for (auto& acceptor : state.acceptors) acceptor.close(ignored);
  // abort() does not erase from the set (the session's destructor does, later).
  for (Session* session : state.sessions) session->abort();
  if (state.dns) state.dns->stop();
}

const ScaleZone& ScaleFleet::zone() const { return state_->zone; }
const ScaleFleetOptions& ScaleFleet::options() const { return state_->options; }

asio::ip::udp::endpoint ScaleFleet::dns_endpoint() const {
  if (state_->dns) return state_->dns->endpoint();
  return asio::ip::udp::endpoint(state_->options.dns_address, state_->options.dns_port);
}

std::uint16_t ScaleFleet::smtp_port() const { return state_->bound_port; }
const std::string& ScaleFleet::ca_pem() const { return state_->ca.cert_pem(); }
ScaleCounters ScaleFleet::counters() const { return state_->counters; }
std::chrono::milliseconds ScaleFleet::startup_time() const { return state_->startup; }

std::string ScaleFleet::describe() const {
  const State& state = *state_;
  const ScaleZone& zone = state.zone;
  const auto& spec = zone.spec();
  std::size_t on_providers = 0;
  for (std::size_t p = 0; p < spec.providers; ++p) on_providers += zone.hosts()[p].domains;
  std::ostringstream out;
  out << "mxtls lab --scale: " << zone.domain_count() << " domains under " << spec.apex << " (" << on_providers
      << " on " << spec.providers << " providers), " << zone.hosts().size() << " hosts "
      << zone.hosts().front().address << "-" << zone.hosts().back().address << " port " << state.bound_port << " [";
  const auto counts = zone.hosts_per_personality();
  bool first = true;
  for (auto p : all_scale_personalities()) {
    if (counts[index_of(p)] == 0) continue;
    out << (first ? "" : " ") << to_string(p) << "=" << counts[index_of(p)];
    first = false;
  }
  out << "], " << zone.distinct_mx_names() << " MX names, DNS " << dns_endpoint() << ", reply delay median "
      << state.options.delay_median.count() / 1000.0 << " ms spread " << state.options.delay_spread << " (mean "
      << lognormal_mean(state.options.delay_median, state.options.delay_spread).count() / 1000.0
      << " ms), started in " << state.startup.count() << " ms";
  return out.str();
}

}  // namespace mxtls::lab
