// The lab's SMTP server: an accept loop plus one coroutine per session, whose behaviour is
// chosen by the personality. Every wait has a deadline and every line a length limit, so a
// misbehaving client (or scanner) can neither hang a session nor grow its memory.
#include "lab/smtp_server.hpp"

#include "lab/text.hpp"
#include "smtp/server_channel.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>

namespace mxtls::lab {

using smtp::Clock;  // the channel's deadlines

namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

struct PersonalityName {
  Personality personality;
  std::string_view name;
};
constexpr std::array<PersonalityName, 15> personality_names{{
    {Personality::no_starttls, "no_starttls"},
    {Personality::good, "good"},
    {Personality::self_signed, "self_signed"},
    {Personality::wrong_name, "wrong_name"},
    {Personality::expired, "expired"},
    {Personality::tls12_only, "tls12_only"},
    {Personality::starttls_454, "starttls_454"},
    {Personality::tarpit, "tarpit"},
    {Personality::refuse, "refuse"},
    {Personality::auth_plain_before_tls, "auth_plain_before_tls"},
    {Personality::injection, "injection"},
    {Personality::garbage_banner, "garbage_banner"},
    {Personality::drip, "drip"},
    {Personality::close_mid_handshake, "close_mid_handshake"},
    {Personality::greeting_554, "greeting_554"},
}};

bool offers_starttls(Personality p) {
  switch (p) {
    case Personality::good:
    case Personality::self_signed:
    case Personality::wrong_name:
    case Personality::expired:
    case Personality::tls12_only:
    case Personality::starttls_454:
    case Personality::auth_plain_before_tls:
    case Personality::injection:
    case Personality::close_mid_handshake:
      return true;
    default:
      return false;
  }
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Binary junk for the garbage personality: fixed (so runs are reproducible), with NUL and
// high bytes, no line ending until the very end so it arrives as one bogus "reply line".
std::string garbage_bytes(std::size_t count) {
  std::string out;
  out.reserve(count + 2);
  std::uint32_t x = 0x2545F491u;
  while (out.size() < count) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    auto c = static_cast<char>(x & 0xff);
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  out[0] = '\0';
  out[1] = static_cast<char>(0xff);
  out += "\r\n";
  return out;
}

}  // namespace

std::string_view to_string(Personality p) {
  for (const auto& entry : personality_names)
    if (entry.personality == p) return entry.name;
  return "unknown";
}

std::optional<Personality> personality_from_string(std::string_view text) {
  for (const auto& entry : personality_names)
    if (entry.name == text) return entry.personality;
  return std::nullopt;
}

const std::vector<Personality>& all_personalities() {
  static const std::vector<Personality> all = [] {
    std::vector<Personality> v;
    for (const auto& entry : personality_names) v.push_back(entry.personality);
    return v;
  }();
  return all;
}

bool personality_serves_tls(Personality p) {
  switch (p) {
    case Personality::good:
    case Personality::self_signed:
    case Personality::wrong_name:
    case Personality::expired:
    case Personality::tls12_only:
    case Personality::auth_plain_before_tls:
    case Personality::injection:
      return true;
    default:
      return false;
  }
}

struct SmtpServer::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, asio::ip::tcp::endpoint ep, SmtpServerOptions opts)
      : executor(std::move(ex)), requested(ep), bound(ep), options(std::move(opts)), acceptor(executor) {}

  asio::any_io_executor executor;
  asio::ip::tcp::endpoint requested;
  asio::ip::tcp::endpoint bound;
  SmtpServerOptions options;
  std::optional<tls::ServerContext> tls_context;
  asio::ip::tcp::acceptor acceptor;
  bool stopped = false;
  std::list<std::shared_ptr<smtp::ServerChannel>> live;  // open sessions, so stop() can close them

  mutable std::mutex mutex;  // counters and transcripts may be read from another thread
  SmtpCounters counters;
  std::deque<SessionTranscript> finished;

  template <typename Field>
  void bump(Field SmtpCounters::*field, std::int64_t delta = 1) {
    std::lock_guard lock(mutex);
    counters.*field += static_cast<std::uint64_t>(delta);
  }

  // One session's bookkeeping while it runs.
  struct Session {
    smtp::ServerChannel& channel;
    SessionTranscript transcript;
    Clock::time_point session_end;
    std::size_t errors = 0;
  };

  Clock::time_point idle_deadline(const Session& s) const {
    return std::min(s.session_end, Clock::now() + options.idle_timeout);
  }

  void note_line(Session& s, std::string_view line) {
    if (s.transcript.received.size() >= options.transcript_lines) return;
    s.transcript.received.push_back((s.channel.tls_active() ? "[TLS] " : "") + printable(line));
  }

  // `text` by value: it must live in this coroutine's frame across the suspension.
  asio::awaitable<bool> reply(Session& s, std::string text) {
    auto ec = co_await s.channel.write(text, idle_deadline(s));
    if (ec) s.transcript.end_reason = "write failed: " + ec.message();
    co_return !ec;
  }

  std::string ehlo_reply(bool under_tls) const {
    const Personality p = options.personality;
    std::string r = "250-" + options.hostname + "\r\n";
    r += "250-PIPELINING\r\n250-SIZE 10240000\r\n";
    if (offers_starttls(p) && !under_tls) r += "250-STARTTLS\r\n";
    // The auth personality offers AUTH in cleartext: the finding a scanner must report.
    if (p == Personality::auth_plain_before_tls) r += "250-AUTH PLAIN LOGIN\r\n";
    r += "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
    return r;
  }

  asio::awaitable<void> run_session(asio::ip::tcp::socket socket) {
    auto self = shared_from_this();  // the session outlives a stop() and the SmtpServer object
    auto channel = std::make_shared<smtp::ServerChannel>(std::move(socket));
    auto where = live.insert(live.end(), channel);
    Session s{*channel, {}, Clock::now() + options.session_timeout};
    s.transcript.remote = endpoint_text(channel->remote());
    try {
      co_await serve(s);
    } catch (const std::exception& e) {
      s.transcript.end_reason = std::string("internal error: ") + e.what();
    }
    channel->close();
    live.erase(where);
    std::lock_guard lock(mutex);
    counters.active -= 1;
    finished.push_back(std::move(s.transcript));
    while (finished.size() > options.transcript_sessions) finished.pop_front();
  }

  // (Plain statements on purpose: GCC 12 miscompiles some co_await forms inside switch/if.)
  asio::awaitable<void> serve(Session& s) {
    const Personality p = options.personality;
    if (p == Personality::tarpit) {
      co_await serve_tarpit(s);
      co_return;
    }
    if (p == Personality::garbage_banner) {
      co_await serve_garbage(s);
      co_return;
    }
    if (p == Personality::drip) {
      co_await serve_drip(s);
      co_return;
    }
    std::string banner = p == Personality::greeting_554
                             ? "554 5.3.2 " + options.hostname + " No SMTP service here\r\n"
                             : "220 " + options.hostname + " ESMTP mxtls-lab (" + std::string(to_string(p)) + ")\r\n";
    const bool sent = co_await reply(s, banner);
    if (sent) co_await command_loop(s);
  }

  // Says nothing, reads and drops whatever comes, until the client gives up or the session
  // deadline passes: a scanner must time out on its own.
  asio::awaitable<void> serve_tarpit(Session& s) {
    std::array<char, 1024> sink;
    for (;;) {
      auto [ec, n] = co_await s.channel.read_some(asio::buffer(sink), s.session_end);
      if (ec) {
        s.transcript.end_reason = ec == asio::error::timed_out ? "session timeout" : "peer closed";
        if (ec == asio::error::timed_out) bump(&SmtpCounters::timeouts);
        co_return;
      }
    }
  }

  asio::awaitable<void> serve_garbage(Session& s) {
    const bool sent = co_await reply(s, garbage_bytes(512));
    if (sent) s.transcript.end_reason = "sent garbage";
  }

  // A banner that never ends, one byte per interval: only a scanner with a real per-phase
  // deadline (not an idle timer that each byte resets) gets out.
  asio::awaitable<void> serve_drip(Session& s) {
    const std::string line = "220-" + options.hostname + " ESMTP dripping one byte at a time\r\n";
    asio::steady_timer timer(executor);
    for (std::size_t i = 0;; ++i) {
      if (Clock::now() >= s.session_end) {
        s.transcript.end_reason = "session timeout";
        bump(&SmtpCounters::timeouts);
        co_return;
      }
      const bool sent = co_await reply(s, std::string(1, line[i % line.size()]));
      if (!sent) co_return;
      timer.expires_after(options.drip_interval);
      auto [ec] = co_await timer.async_wait(as_tuple_awaitable);
      if (ec || !s.channel.is_open()) {
        s.transcript.end_reason = "stopped";
        co_return;
      }
    }
  }

  asio::awaitable<void> command_loop(Session& s) {
    for (;;) {
      auto line = co_await s.channel.read_line(options.max_line, idle_deadline(s));
      switch (line.status) {
        case smtp::ServerChannel::ReadStatus::line: break;
        case smtp::ServerChannel::ReadStatus::timeout:
          bump(&SmtpCounters::timeouts);
          s.transcript.end_reason = Clock::now() >= s.session_end ? "session timeout" : "idle timeout";
          co_await reply(s, "421 4.4.2 " + options.hostname + " Error: timeout exceeded\r\n");
          co_return;
        case smtp::ServerChannel::ReadStatus::too_long:
          // Resynchronising inside an over-long line is guesswork; Postfix-like, we give up.
          s.transcript.end_reason = "line too long";
          co_await reply(s, "500 5.5.2 Error: line too long\r\n");
          co_return;
        case smtp::ServerChannel::ReadStatus::eof:
          s.transcript.end_reason = "peer closed";
          co_return;
        case smtp::ServerChannel::ReadStatus::error:
          s.transcript.end_reason = "read error: " + line.error.message();
          co_return;
      }
      note_line(s, line.text);
      bump(&SmtpCounters::commands);
      const std::string verb = upper(line.text.substr(0, line.text.find(' ')));
      const bool has_argument = line.text.find(' ') != std::string::npos;
      const bool keep_going = co_await handle(s, verb, has_argument);
      if (!keep_going) co_return;
      if (s.errors >= options.max_errors) {
        s.transcript.end_reason = "too many errors";
        co_await reply(s, "421 4.7.0 " + options.hostname + " Error: too many errors\r\n");
        co_return;
      }
    }
  }

  // Answers one command; false ends the session.
  asio::awaitable<bool> handle(Session& s, const std::string& verb, bool has_argument) {
    const Personality p = options.personality;
    if (verb == "QUIT") {
      bump(&SmtpCounters::quits);
      s.transcript.end_reason = "quit";
      const bool sent = co_await reply(s, "221 2.0.0 Bye\r\n");
      if (sent)
        co_await s.channel.graceful_close(std::min(s.session_end, Clock::now() + std::chrono::milliseconds(250)));
      co_return false;
    }
    if (verb == "MAIL" || verb == "RCPT" || verb == "DATA" || verb == "BDAT") {
      // Counted so the lab can prove a scanner never tries to send mail.
      bump(&SmtpCounters::mail_commands);
      ++s.errors;
      co_return co_await reply(s, "502 5.5.1 Error: command not implemented (the mxtls lab accepts no mail)\r\n");
    }
    if (p == Personality::greeting_554) {
      ++s.errors;
      co_return co_await reply(s, "503 5.5.1 Error: no SMTP service here\r\n");
    }
    if (verb == "EHLO" || verb == "HELO") {
      bump(&SmtpCounters::ehlo);
      if (!has_argument) {
        ++s.errors;
        co_return co_await reply(s, "501 5.5.4 Syntax: " + verb + " hostname\r\n");
      }
      std::string answer = verb == "EHLO" ? ehlo_reply(s.channel.tls_active()) : "250 " + options.hostname + "\r\n";
      co_return co_await reply(s, std::move(answer));
    }
    if (verb == "NOOP" || verb == "RSET") co_return co_await reply(s, "250 2.0.0 Ok\r\n");
    if (verb == "STARTTLS") co_return co_await handle_starttls(s, has_argument);
    if (verb == "AUTH" && p == Personality::auth_plain_before_tls) {
      ++s.errors;
      co_return co_await reply(s, "535 5.7.8 Error: authentication failed\r\n");
    }
    ++s.errors;
    if (verb == "VRFY" || verb == "EXPN" || verb == "ETRN" || verb == "HELP" || verb == "AUTH" || verb == "TURN")
      co_return co_await reply(s, "502 5.5.1 Error: command not implemented\r\n");
    co_return co_await reply(s, "500 5.5.2 Error: command not recognized\r\n");
  }

  asio::awaitable<bool> handle_starttls(Session& s, bool has_argument) {
    const Personality p = options.personality;
    bump(&SmtpCounters::starttls);
    if (s.channel.tls_active()) {
      ++s.errors;
      co_return co_await reply(s, "554 5.5.1 Error: TLS already active\r\n");
    }
    if (!offers_starttls(p)) {
      ++s.errors;
      co_return co_await reply(s, "502 5.5.1 Error: command not implemented\r\n");
    }
    if (has_argument) {
      ++s.errors;
      co_return co_await reply(s, "501 5.5.4 Syntax: STARTTLS\r\n");
    }
    if (p == Personality::starttls_454)
      co_return co_await reply(s, "454 4.7.0 TLS not available due to local problem\r\n");
    if (p == Personality::injection) {
      // One write: the extra reply rides in the same segment as the 220, before any TLS byte,
      // exactly what a man-in-the-middle injection (CVE-2011-0411 class) looks like on the wire.
      const bool sent = co_await reply(s, "220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected before TLS\r\n");
      if (!sent) co_return false;
    } else {
      const bool sent = co_await reply(s, "220 2.0.0 Ready to start TLS\r\n");
      if (!sent) co_return false;
    }
    if (p == Personality::close_mid_handshake) {
      std::array<char, 16384> hello;
      auto [ec, n] = co_await s.channel.read_some(asio::buffer(hello), idle_deadline(s));
      s.transcript.end_reason = ec ? "no ClientHello: " + ec.message()
                                   : "closed after " + std::to_string(n) + " handshake bytes";
      bump(&SmtpCounters::tls_failures);
      co_return false;
    }
    auto ec = co_await s.channel.start_tls(*tls_context, idle_deadline(s));
    s.transcript.discarded_before_tls = s.channel.discarded_before_tls();
    if (const auto* stream = s.channel.tls()) s.transcript.sni = stream->server_name();
    if (ec) {
      bump(&SmtpCounters::tls_failures);
      s.transcript.tls_error = ec == asio::error::timed_out ? "handshake timeout" : ec.message();
      s.transcript.end_reason = "TLS handshake failed";
      co_return false;
    }
    bump(&SmtpCounters::tls_handshakes);
    s.transcript.tls = true;
    s.transcript.tls_version = s.channel.tls()->version();
    s.transcript.tls_cipher = s.channel.tls()->cipher();
    co_return true;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer backoff(executor);
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(as_tuple_awaitable);
      if (stopped || !acceptor.is_open()) co_return;
      if (ec) {
        // EMFILE and friends: wait a little instead of spinning on the error.
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(as_tuple_awaitable);
        continue;
      }
      {
        std::lock_guard lock(mutex);
        ++counters.sessions;
        if (counters.active >= options.max_sessions) {
          ++counters.rejected_busy;
        } else {
          ++counters.active;
          asio::co_spawn(executor, run_session(std::move(socket)), asio::detached);
          continue;
        }
      }
      // Over the limit: a best-effort one-shot 421 without waiting, then hang up.
      std::error_code ignored;
      socket.non_blocking(true, ignored);
      static constexpr std::string_view busy = "421 4.7.0 Error: too many connections\r\n";
      socket.write_some(asio::buffer(busy.data(), busy.size()), ignored);
      socket.close(ignored);
    }
  }
};

SmtpServer::SmtpServer(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, SmtpServerOptions options) {
  if (options.personality == Personality::refuse)
    throw std::invalid_argument("the refuse personality is modelled by not listening; start no server for it");
  if (personality_serves_tls(options.personality) && !options.credentials)
    throw std::invalid_argument(std::string("personality ") + std::string(to_string(options.personality)) +
                                " needs TLS credentials");
  if (options.personality == Personality::tls12_only) options.tls_options.max_version = tls::ProtocolVersion::tls1_2;
  state_ = std::make_shared<State>(std::move(executor), endpoint, std::move(options));
  if (state_->options.credentials)
    state_->tls_context.emplace(*state_->options.credentials, state_->options.tls_options);
}

SmtpServer::~SmtpServer() { stop(); }

void SmtpServer::start() {
  State& st = *state_;
  if (st.acceptor.is_open()) return;
  if (const std::error_code ec = smtp::listen_on(st.acceptor, st.requested, st.bound)) {
    throw std::runtime_error("SMTP " + std::string(to_string(st.options.personality)) + ": cannot listen on " +
                             endpoint_text(st.requested) + ": " + ec.message());
  }
  st.stopped = false;
  asio::co_spawn(st.executor, st.accept_loop(), asio::detached);
}

void SmtpServer::stop() {
  if (!state_) return;
  State& st = *state_;
  st.stopped = true;
  std::error_code ignored;
  st.acceptor.close(ignored);
  for (auto& channel : st.live) channel->close();
}

asio::ip::tcp::endpoint SmtpServer::endpoint() const { return state_->bound; }
const SmtpServerOptions& SmtpServer::options() const { return state_->options; }

SmtpCounters SmtpServer::counters() const {
  std::lock_guard lock(state_->mutex);
  return state_->counters;
}

std::vector<SessionTranscript> SmtpServer::transcripts() const {
  std::lock_guard lock(state_->mutex);
  return {state_->finished.begin(), state_->finished.end()};
}

}  // namespace mxtls::lab
