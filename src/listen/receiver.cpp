// The `mxtls listen` SMTP receiver: an accept loop plus one coroutine per session. Each
// session records what the sender did (EHLO, STARTTLS, TLS facts, messages and their
// Received: hops) and hands the record to the caller when it ends. Every wait has a deadline,
// every line and message a size limit, and the number of sessions is capped.
#include "listen/receiver.hpp"

#include "core/endpoint_text.hpp"
#include "core/text.hpp"
#include "listen/command.hpp"
#include "smtp/server_channel.hpp"
#include "tls/server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>
#include <stdexcept>

namespace mxtls::listen {

using smtp::Clock;  // the channel's deadlines

namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

// "Sun, 22 Nov 2026 15:30:00 +0000" (RFC 5322 date-time) for our own Received: line.
std::string rfc5322_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[64];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return std::string(buffer, n);
}

// "20261122T153000Z" for file names.
std::string compact_utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buffer, n);
}

}  // namespace

struct Receiver::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, asio::ip::tcp::endpoint ep, ReceiverOptions opts, SessionHandler h)
      : executor(std::move(ex)), requested(ep), bound(ep), options(std::move(opts)), handler(std::move(h)),
        acceptor(executor) {}

  asio::any_io_executor executor;
  asio::ip::tcp::endpoint requested, bound;
  ReceiverOptions options;
  SessionHandler handler;
  std::optional<tls::ServerContext> tls_context;
  asio::ip::tcp::acceptor acceptor;
  bool stopped = false;
  std::list<std::shared_ptr<smtp::ServerChannel>> live;
  std::uint64_t next_number = 0;

  mutable std::mutex mutex;  // counters may be read from another thread (tests)
  ReceiverCounters counters;

  struct Session {
    smtp::ServerChannel& conn;
    SessionReport report;
    Clock::time_point session_end;
    bool greeted = false;  // EHLO/HELO seen (again after STARTTLS)
    bool in_transaction = false;
    std::string mail_from;
    std::vector<std::string> recipients;
    std::size_t errors = 0;
  };

  Clock::time_point idle_deadline(const Session& s) const {
    return std::min(s.session_end, Clock::now() + options.command_timeout);
  }

  // `text` by value: it must live in this coroutine's frame across the suspension.
  asio::awaitable<bool> reply(Session& s, std::string text) {
    const std::error_code ec = co_await s.conn.write(text, idle_deadline(s));
    if (ec && s.report.end_reason.empty()) s.report.end_reason = "write failed: " + ec.message();
    co_return !ec;
  }

  void reset_transaction(Session& s) {
    s.in_transaction = false;
    s.mail_from.clear();
    s.recipients.clear();
  }

  std::string ehlo_reply(const Session& s) const {
    std::vector<std::string> lines{options.hostname, "SIZE " + std::to_string(options.max_message_bytes), "8BITMIME",
                                   "ENHANCEDSTATUSCODES"};
    if (tls_context && !s.conn.tls_active()) lines.push_back("STARTTLS");
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] + "\r\n";
    return out;
  }

  asio::awaitable<void> run_session(asio::ip::tcp::socket socket) {
    auto self = shared_from_this();  // the session may outlive stop() and the Receiver object
    auto conn = std::make_shared<smtp::ServerChannel>(std::move(socket));
    auto where = live.insert(live.end(), conn);
    const auto started = Clock::now();
    Session s{*conn, {}, started + options.session_timeout};
    s.report.number = ++next_number;
    s.report.started_at = rfc3339_utc(std::chrono::system_clock::now());
    s.report.peer_ip = conn->remote().address().to_string();
    s.report.peer_port = conn->remote().port();
    s.report.local_endpoint = endpoint_text(conn->local());
    s.report.starttls_offered = tls_context.has_value();
    try {
      // The reverse lookup runs beside the SMTP dialogue, on its own short deadline, so a
      // slow resolver neither delays the greeting nor holds the report for long.
      co_await (serve(s) && lookup_reverse(s));
    } catch (const std::exception& e) {
      s.report.end_reason = std::string("internal error: ") + e.what();
    }
    conn->close();
    live.erase(where);
    s.report.elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    {
      std::lock_guard lock(mutex);
      counters.active -= 1;
      if (s.report.tls) counters.tls_sessions += 1;
    }
    if (handler) handler(s.report);
  }

  asio::awaitable<void> lookup_reverse(Session& s) {
    if (!options.reverse_lookup) {
      s.report.reverse.error = "lookup disabled";
      co_return;
    }
    const asio::ip::address address = s.conn.remote().address();
    asio::steady_timer timer(executor, options.reverse_timeout);
    auto outcome = co_await (options.reverse_lookup(address) || timer.async_wait(as_tuple_awaitable));
    if (outcome.index() == 0) {
      s.report.reverse = std::get<0>(std::move(outcome));
      s.report.reverse.name = printable(s.report.reverse.name, max_kept_argument);
    } else {
      s.report.reverse.error = "no answer within " + std::to_string(options.reverse_timeout.count()) + " ms";
    }
  }

  asio::awaitable<void> serve(Session& s) {
    std::string banner = "220 " + options.hostname + " ESMTP mxtls listen (test receiver, relays nothing)\r\n";
    const bool sent = co_await reply(s, std::move(banner));
    if (sent) co_await command_loop(s);
  }

  asio::awaitable<void> command_loop(Session& s) {
    for (;;) {
      smtp::ServerChannel::Line line = co_await s.conn.read_line(options.max_line, idle_deadline(s));
      if (line.status == smtp::ServerChannel::ReadStatus::timeout) {
        s.report.end_reason = Clock::now() >= s.session_end ? "session timeout" : "idle timeout";
        const bool sent = co_await reply(s, "421 4.4.2 " + options.hostname + " Error: timeout exceeded\r\n");
        (void)sent;
        co_return;
      }
      if (line.status == smtp::ServerChannel::ReadStatus::too_long) {
        // Resynchronising inside an over-long line is guesswork; like Postfix, give up.
        s.report.end_reason = "command line too long";
        const bool sent = co_await reply(s, "500 5.5.2 Error: line too long\r\n");
        (void)sent;
        co_return;
      }
      if (line.status == smtp::ServerChannel::ReadStatus::eof) {
        if (s.report.end_reason.empty()) s.report.end_reason = "peer closed";
        co_return;
      }
      if (line.status != smtp::ServerChannel::ReadStatus::line) {
        s.report.end_reason = "read error: " + line.error.message();
        co_return;
      }
      const Command command = split_command(line.text);
      const bool keep_going = co_await handle(s, command.verb, command.argument);
      if (!keep_going) co_return;
      if (s.errors >= options.max_errors) {
        s.report.end_reason = "too many errors";
        const bool sent = co_await reply(s, "421 4.7.0 " + options.hostname + " Error: too many errors\r\n");
        (void)sent;
        co_return;
      }
    }
  }

  // Answers one command; false ends the session.
  asio::awaitable<bool> handle(Session& s, const std::string& verb, const std::string& argument) {
    if (verb == "QUIT") {
      s.report.end_reason = "quit";
      const bool sent = co_await reply(s, "221 2.0.0 Bye\r\n");
      if (sent) co_await s.conn.graceful_close(std::min(s.session_end, Clock::now() + std::chrono::milliseconds(500)));
      co_return false;
    }
    if (verb == "EHLO" || verb == "HELO") {
      std::optional<std::string> name = hello_name(argument);
      if (!name) {
        ++s.errors;
        co_return co_await reply(s, "501 5.5.4 Syntax: " + verb + " hostname\r\n");
      }
      s.report.ehlo_name = std::move(*name);
      if (!s.conn.tls_active()) s.report.ehlo_before_tls = s.report.ehlo_name;
      s.report.used_helo = verb == "HELO";
      s.greeted = true;
      reset_transaction(s);
      std::string answer = verb == "EHLO" ? ehlo_reply(s) : "250 " + options.hostname + "\r\n";
      co_return co_await reply(s, std::move(answer));
    }
    if (verb == "STARTTLS") co_return co_await handle_starttls(s, argument);
    if (verb == "NOOP") co_return co_await reply(s, "250 2.0.0 Ok\r\n");
    if (verb == "RSET") {
      reset_transaction(s);
      co_return co_await reply(s, "250 2.0.0 Ok\r\n");
    }
    if (verb == "MAIL") co_return co_await handle_mail(s, argument);
    if (verb == "RCPT") co_return co_await handle_rcpt(s, argument);
    if (verb == "DATA") {
      if (!s.in_transaction || s.recipients.empty()) {
        ++s.errors;
        co_return co_await reply(s, "503 5.5.1 Error: need RCPT command\r\n");
      }
      co_return co_await receive_data(s);
    }
    ++s.errors;
    if (verb == "BDAT" || verb == "VRFY" || verb == "EXPN" || verb == "ETRN" || verb == "AUTH" || verb == "HELP" ||
        verb == "TURN")
      co_return co_await reply(s, "502 5.5.1 Error: command not implemented\r\n");
    co_return co_await reply(s, "500 5.5.2 Error: command not recognized\r\n");
  }

  asio::awaitable<bool> handle_mail(Session& s, const std::string& argument) {
    if (!s.greeted) {
      ++s.errors;
      co_return co_await reply(s, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    }
    if (s.in_transaction) {
      ++s.errors;
      co_return co_await reply(s, "503 5.5.1 Error: nested MAIL command\r\n");
    }
    if (s.report.messages.size() >= options.max_messages_per_session) {
      s.report.rejected.push_back("more than " + std::to_string(options.max_messages_per_session) +
                                  " messages in one session");
      co_return co_await reply(s, "452 4.5.3 Error: too many messages in one session\r\n");
    }
    std::optional<MailPath> from = parse_mail_from(argument);
    if (!from) {
      ++s.errors;
      co_return co_await reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    }
    const std::uint64_t announced = size_parameter(from->params);
    if (announced > options.max_message_bytes) {
      s.report.rejected.push_back("MAIL FROM announced SIZE=" + std::to_string(announced) + ", limit " +
                                  std::to_string(options.max_message_bytes));
      co_return co_await reply(s, "552 5.3.4 Error: message file too big\r\n");
    }
    s.in_transaction = true;
    s.mail_from = std::move(from->path);
    co_return co_await reply(s, "250 2.1.0 Ok\r\n");
  }

  asio::awaitable<bool> handle_rcpt(Session& s, const std::string& argument) {
    if (!s.in_transaction) {
      ++s.errors;
      co_return co_await reply(s, "503 5.5.1 Error: need MAIL command\r\n");
    }
    std::optional<MailPath> to = parse_rcpt_to(argument);
    if (!to) {
      ++s.errors;
      co_return co_await reply(s, "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
    }
    if (s.recipients.size() >= options.max_recipients) {
      s.report.rejected.push_back("more than " + std::to_string(options.max_recipients) + " recipients");
      co_return co_await reply(s, "452 4.5.3 Error: too many recipients\r\n");
    }
    // Every recipient is accepted: nothing is delivered or relayed anywhere.
    s.recipients.push_back(std::move(to->path));
    co_return co_await reply(s, "250 2.1.5 Ok\r\n");
  }

  asio::awaitable<bool> receive_data(Session& s) {
    const bool go = co_await reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
    if (!go) co_return false;
    const Clock::time_point data_end = std::min(s.session_end, Clock::now() + options.data_timeout);
    std::string message;
    std::size_t total = 0;
    bool too_big = false;
    for (;;) {
      smtp::ServerChannel::Line line = co_await s.conn.read_line(options.max_data_line, data_end);
      if (line.status == smtp::ServerChannel::ReadStatus::too_long) {
        s.report.end_reason = "message line longer than " + std::to_string(options.max_data_line) + " bytes";
        const bool sent = co_await reply(s, "500 5.5.2 Error: line too long\r\n");
        (void)sent;
        co_return false;
      }
      if (line.status == smtp::ServerChannel::ReadStatus::timeout) {
        s.report.end_reason = "timeout during DATA";
        const bool sent = co_await reply(s, "421 4.4.2 " + options.hostname + " Error: timeout exceeded\r\n");
        (void)sent;
        co_return false;
      }
      if (line.status != smtp::ServerChannel::ReadStatus::line) {
        s.report.end_reason = "peer closed during DATA";
        co_return false;
      }
      if (line.text == ".") break;
      std::string_view text = line.text;
      if (!text.empty() && text.front() == '.') text.remove_prefix(1);  // RFC 5321 §4.5.2
      total += text.size() + 2;
      // Past the limit the rest is read and dropped (bounded by the DATA deadline), so the
      // sender gets a proper 552 instead of a broken connection.
      if (total > options.max_message_bytes) {
        too_big = true;
        message.clear();
        message.shrink_to_fit();
      } else {
        message.append(text);
        message += "\r\n";
      }
    }
    if (too_big) {
      s.report.rejected.push_back("message larger than " + std::to_string(options.max_message_bytes) + " bytes");
      reset_transaction(s);
      co_return co_await reply(s, "552 5.3.4 Error: message file too big\r\n");
    }
    ReceivedMessage m;
    m.mail_from = s.mail_from;
    m.recipients = s.recipients;
    m.size = message.size();
    mail::ParsedHeaders headers = mail::parse_headers(message);
    m.hops = std::move(headers.hops);
    m.header_notes = std::move(headers.notes);
    m.headers_capped = headers.capped;
    if (!options.save_dir.empty()) save(s, message, m);
    s.report.messages.push_back(std::move(m));
    {
      std::lock_guard lock(mutex);
      counters.messages += 1;
    }
    reset_transaction(s);
    co_return co_await reply(s, "250 2.0.0 Ok: " + std::to_string(message.size()) +
                                    " bytes received by mxtls listen, nothing relayed\r\n");
  }

  // Our own Received: line, Postfix style, so a saved message shows this hop like any other.
  std::string received_header(const Session& s, const ReceivedMessage& m) const {
    const SessionReport& r = s.report;
    std::string h = "Received: from " + (r.ehlo_name.empty() ? std::string("unknown") : r.ehlo_name) + " (" +
                    (r.reverse.name.empty() ? std::string("unknown") : r.reverse.name) + " [" + r.peer_ip + "])\r\n";
    if (r.tls) {
      h += "\t(using " + r.tls->version + " with cipher " + r.tls->cipher + " (" + std::to_string(r.tls->cipher_bits) +
           "/" + std::to_string(r.tls->cipher_bits) + " bits)" +
           (r.tls->group.empty() ? std::string() : " key-exchange " + r.tls->group) + ")\r\n";
    }
    const std::string protocol = r.used_helo ? "SMTP" : r.tls ? "ESMTPS" : "ESMTP";
    h += "\tby " + options.hostname + " (mxtls listen) with " + protocol + " id S" + std::to_string(r.number) + "M" +
         std::to_string(r.messages.size() + 1) + "\r\n";
    if (m.recipients.size() == 1) h += "\tfor " + m.recipients.front() + "; " + rfc5322_now() + "\r\n";
    else h += "\t; " + rfc5322_now() + "\r\n";
    return h;
  }

  void save(const Session& s, const std::string& message, ReceivedMessage& m) const {
    const std::string path = options.save_dir + "/mxtls-" + compact_utc_now() + "-s" + std::to_string(s.report.number) +
                             "-m" + std::to_string(s.report.messages.size() + 1) + ".eml";
    // O_EXCL|O_NOFOLLOW: never overwrite or follow a planted link; 0600: mail is private.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      m.save_error = "cannot create " + path + ": " + std::strerror(errno);
      return;
    }
    const std::string content = received_header(s, m) + message;
    std::size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        m.save_error = "cannot write " + path + ": " + std::strerror(errno);
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 && m.save_error.empty()) m.save_error = "cannot write " + path + ": " + std::strerror(errno);
    if (m.save_error.empty()) m.saved_as = path;
  }

  asio::awaitable<bool> handle_starttls(Session& s, const std::string& argument) {
    if (!tls_context) {
      ++s.errors;
      co_return co_await reply(s, "502 5.5.1 Error: command not implemented\r\n");
    }
    if (s.conn.tls_active()) {
      ++s.errors;
      co_return co_await reply(s, "554 5.5.1 Error: TLS already active\r\n");
    }
    if (!starttls_argument_valid(argument)) {
      ++s.errors;
      co_return co_await reply(s, "501 5.5.4 Syntax: STARTTLS\r\n");
    }
    s.report.starttls_requested = true;
    const bool sent = co_await reply(s, "220 2.0.0 Ready to start TLS\r\n");
    if (!sent) co_return false;
    const std::error_code ec =
        co_await s.conn.start_tls(*tls_context, std::min(s.session_end, Clock::now() + options.handshake_timeout));
    s.report.discarded_before_tls = s.conn.discarded_before_tls();
    if (const tls::ServerStream* stream = s.conn.tls()) s.report.sni = printable(stream->server_name(), max_kept_argument);
    if (ec) {
      s.report.tls_error = ec == asio::error::timed_out ? "handshake timeout" : ec.message();
      s.report.end_reason = "TLS handshake failed";
      co_return false;
    }
    const tls::ServerStream& stream = *s.conn.tls();
    TlsFacts facts;
    facts.version = stream.version();
    facts.cipher = stream.cipher();
    facts.group = stream.group();
    facts.cipher_bits = stream.cipher_bits();
    facts.cert = stream.client_certificate();
    s.report.tls = std::move(facts);
    // RFC 3207 §4.2: everything learnt before TLS is forgotten; the client must EHLO again.
    s.greeted = false;
    reset_transaction(s);
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
        auto [wait_ec] = co_await backoff.async_wait(as_tuple_awaitable);
        (void)wait_ec;
        continue;
      }
      bool admitted = false;
      {
        std::lock_guard lock(mutex);
        ++counters.sessions;
        if (counters.active < options.max_sessions) {
          ++counters.active;
          admitted = true;
        } else {
          ++counters.rejected_busy;
        }
      }
      if (admitted) {
        asio::co_spawn(executor, run_session(std::move(socket)), asio::detached);
        continue;
      }
      // Over the limit: a best-effort 421 without waiting, then hang up.
      std::error_code ignored;
      socket.non_blocking(true, ignored);
      static constexpr std::string_view busy = "421 4.7.0 Error: too many connections\r\n";
      socket.write_some(asio::buffer(busy.data(), busy.size()), ignored);
      socket.close(ignored);
    }
  }
};

Receiver::Receiver(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, ReceiverOptions options,
                   SessionHandler on_session_end)
    : state_(std::make_shared<State>(std::move(executor), endpoint, std::move(options), std::move(on_session_end))) {
  if (state_->options.credentials) {
    tls::ServerOptions tls_options;
    // A receiver at "may" accepts what the sender offers: the point is to see what it uses.
    tls_options.request_client_certificate = true;
    state_->tls_context.emplace(*state_->options.credentials, tls_options);
  }
}

Receiver::~Receiver() { stop(); }

void Receiver::start() {
  State& st = *state_;
  if (st.acceptor.is_open()) return;
  if (const std::error_code ec = smtp::listen_on(st.acceptor, st.requested, st.bound))
    throw std::runtime_error("cannot listen on " + endpoint_text(st.requested) + ": " + ec.message());
  st.stopped = false;
  asio::co_spawn(st.executor, st.accept_loop(), asio::detached);
}

void Receiver::stop() {
  if (!state_) return;
  State& st = *state_;
  st.stopped = true;
  std::error_code ignored;
  st.acceptor.close(ignored);
  for (auto& conn : st.live) conn->close();
}

asio::ip::tcp::endpoint Receiver::endpoint() const { return state_->bound; }

ReceiverCounters Receiver::counters() const {
  std::lock_guard lock(state_->mutex);
  return state_->counters;
}

}  // namespace mxtls::listen
