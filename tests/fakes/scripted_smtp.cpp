// The scripted fake SMTP server: an accept loop and one coroutine per connection that walks
// its script step by step, recording the client's bytes through the bounded smtp::ServerChannel.
#include "fakes/scripted_smtp.hpp"

#include "lab/text.hpp"
#include "smtp/server_channel.hpp"

#include <asio/co_spawn.hpp>
#include <asio/ssl/error.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <list>
#include <mutex>
#include <stdexcept>

namespace mxtls::fakes {

namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
using smtp::Clock;

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string kind_name(Step::Kind kind) {
  switch (kind) {
    case Step::Kind::send: return "send";
    case Step::Kind::expect_line: return "expect";
    case Step::Kind::expect_prefix: return "expect_prefix";
    case Step::Kind::start_tls: return "start_tls";
    case Step::Kind::sleep: return "sleep";
    case Step::Kind::close: return "close";
    case Step::Kind::drip: return "drip";
    case Step::Kind::garbage: return "garbage";
    case Step::Kind::read_bytes: return "read_bytes";
    case Step::Kind::wait_close: return "wait_close";
  }
  return "?";
}

bool is_peer_gone(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

namespace step {
namespace {
Step make(Step::Kind kind, std::string bytes = {}) {
  Step s;
  s.kind = kind;
  s.bytes = std::move(bytes);
  return s;
}
}  // namespace

Step send(std::string bytes) { return make(Step::Kind::send, std::move(bytes)); }
Step reply(std::string line) { return make(Step::Kind::send, std::move(line) + "\r\n"); }
Step expect(std::string line) { return make(Step::Kind::expect_line, std::move(line)); }
Step expect_prefix(std::string prefix) { return make(Step::Kind::expect_prefix, std::move(prefix)); }
Step start_tls(const tls::Credentials& credentials, const tls::ServerOptions& options) {
  Step s = make(Step::Kind::start_tls);
  s.tls = std::make_shared<const tls::ServerContext>(credentials, options);
  return s;
}
Step sleep(std::chrono::milliseconds duration) {
  Step s = make(Step::Kind::sleep);
  s.interval = duration;
  return s;
}
Step close() { return make(Step::Kind::close); }
Step drip(std::string bytes, std::chrono::milliseconds interval) {
  Step s = make(Step::Kind::drip, std::move(bytes));
  s.interval = interval;
  return s;
}
Step garbage(std::size_t count) {
  Step s = make(Step::Kind::garbage);
  s.count = count;
  return s;
}
Step read_bytes(std::size_t max) {
  Step s = make(Step::Kind::read_bytes);
  s.count = max;
  return s;
}
Step wait_close(std::chrono::milliseconds limit) {
  Step s = make(Step::Kind::wait_close);
  s.interval = limit;
  return s;
}
}  // namespace step

Script starttls_session(const tls::Credentials& credentials, const std::string& hostname,
                        const tls::ServerOptions& options) {
  return {
      step::reply("220 " + hostname + " ESMTP fake"),
      step::expect_prefix("EHLO "),
      step::send("250-" + hostname + "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
                 "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"),
      step::expect("STARTTLS"),
      step::reply("220 2.0.0 Ready to start TLS"),
      step::start_tls(credentials, options),
      step::expect_prefix("EHLO "),
      step::send("250-" + hostname + "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
      step::expect("QUIT"),
      step::reply("221 2.0.0 Bye"),
  };
}

Script plain_session(const std::string& hostname) {
  return {
      step::reply("220 " + hostname + " ESMTP fake"),
      step::expect_prefix("EHLO "),
      step::send("250-" + hostname + "\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
      step::expect("QUIT"),
      step::reply("221 2.0.0 Bye"),
  };
}

std::vector<std::string> FakeSession::lines() const {
  std::vector<std::string> out;
  for (const std::string* part : {&received_plain, &received_tls}) {
    std::string_view rest = *part;
    while (!rest.empty()) {
      auto lf = rest.find('\n');
      std::string line(rest.substr(0, lf));
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out.push_back(std::move(line));
      if (lf == std::string_view::npos) break;
      rest.remove_prefix(lf + 1);
    }
  }
  return out;
}

bool FakeSession::sent_mail_commands() const {
  for (const auto& line : lines())
    for (std::string_view verb : {"MAIL", "RCPT", "DATA", "BDAT"})
      if (iequals_prefix(line, verb) && (line.size() == verb.size() || line[verb.size()] == ' ' ||
                                         line[verb.size()] == ':' || line[verb.size()] == '\t'))
        return true;
  return false;
}

struct ScriptedSmtp::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, std::vector<Script> s, bool repeat_first, ScriptedSmtpOptions o)
      : executor(std::move(ex)), scripts(std::move(s)), repeat(repeat_first), options(std::move(o)), acceptor(executor) {}

  asio::any_io_executor executor;
  std::vector<Script> scripts;
  bool repeat;  // every connection runs scripts[0]
  ScriptedSmtpOptions options;
  asio::ip::tcp::acceptor acceptor;
  asio::ip::tcp::endpoint bound;
  bool stopped = false;
  std::list<std::shared_ptr<smtp::ServerChannel>> live;

  mutable std::mutex mutex;
  std::vector<FakeSession> sessions;  // index = accept order

  template <typename F>
  void update(std::size_t index, F&& f) {
    std::lock_guard lock(mutex);
    f(sessions[index]);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(as_tuple_awaitable);
      if (stopped || !acceptor.is_open()) co_return;
      if (ec) continue;
      std::size_t index;
      {
        std::lock_guard lock(mutex);
        index = sessions.size();
        sessions.emplace_back();
      }
      const Script* script = repeat ? &scripts.front() : (index < scripts.size() ? &scripts[index] : nullptr);
      if (!script) {
        std::error_code ignored;
        socket.close(ignored);
        update(index, [](FakeSession& s) {
          s.failure = "no script for this connection";
          s.finished = true;
        });
        continue;
      }
      asio::co_spawn(executor, run_session(index, *script, std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> run_session(std::size_t index, const Script& script, asio::ip::tcp::socket socket) {
    auto self = shared_from_this();
    auto channel = std::make_shared<smtp::ServerChannel>(std::move(socket));
    auto where = live.insert(live.end(), channel);
    update(index, [&](FakeSession& s) { s.remote = lab::endpoint_text(channel->remote()); });
    channel->set_recorder([this, index](std::string_view bytes, bool under_tls) {
      update(index, [&](FakeSession& s) {
        std::string& sink = under_tls ? s.received_tls : s.received_plain;
        sink.append(bytes.substr(0, options.max_record - std::min(options.max_record, sink.size())));
      });
    });
    bool drain = true;
    try {
      drain = co_await run_steps(index, script, *channel);
    } catch (const std::exception& e) {
      update(index, [&](FakeSession& s) { s.failure = std::string("internal error: ") + e.what(); });
    }
    if (drain) co_await drain_client(index, *channel);
    channel->close();
    live.erase(where);
    update(index, [](FakeSession& s) { s.finished = true; });
  }

  void fail(std::size_t index, std::size_t step_index, const Step& st, const std::string& why) {
    update(index, [&](FakeSession& s) {
      s.failure = "step " + std::to_string(step_index + 1) + " (" + kind_name(st.kind) +
                  (st.bytes.empty() || st.kind == Step::Kind::send ? "" : " \"" + lab::printable(st.bytes) + "\"") +
                  "): " + why;
    });
  }

  void note_io_error(std::size_t index, const std::error_code& ec) {
    if (is_peer_gone(ec)) update(index, [](FakeSession& s) { s.peer_closed = true; });
  }

  // Runs the steps; returns whether to drain the client afterwards (false after close()).
  asio::awaitable<bool> run_steps(std::size_t index, const Script& script, smtp::ServerChannel& channel) {
    asio::steady_timer timer(executor);
    auto deadline = [&] { return Clock::now() + options.step_timeout; };
    for (std::size_t i = 0; i < script.size(); ++i) {
      const Step& st = script[i];
      switch (st.kind) {
        case Step::Kind::send: {
          const auto ec = co_await channel.write(st.bytes, deadline());
          if (ec) {
            note_io_error(index, ec);
            fail(index, i, st, "write failed: " + ec.message());
            co_return true;
          }
          break;
        }
        case Step::Kind::expect_line:
        case Step::Kind::expect_prefix: {
          auto line = co_await channel.read_line(options.max_line, deadline());
          if (line.status != smtp::ServerChannel::ReadStatus::line) {
            const char* what = line.status == smtp::ServerChannel::ReadStatus::timeout    ? "timeout"
                               : line.status == smtp::ServerChannel::ReadStatus::too_long ? "line too long"
                               : line.status == smtp::ServerChannel::ReadStatus::eof      ? "client closed"
                                                                                   : "read error";
            if (line.status == smtp::ServerChannel::ReadStatus::eof)
              update(index, [](FakeSession& s) { s.peer_closed = true; });
            fail(index, i, st, what);
            co_return line.status != smtp::ServerChannel::ReadStatus::eof;
          }
          const bool ok = st.kind == Step::Kind::expect_line
                              ? line.text.size() == st.bytes.size() && iequals_prefix(line.text, st.bytes)
                              : iequals_prefix(line.text, st.bytes);
          if (!ok) {
            fail(index, i, st, "got \"" + lab::printable(line.text) + "\"");
            co_return true;
          }
          break;
        }
        case Step::Kind::start_tls: {
          auto ec = co_await channel.start_tls(*st.tls, deadline());
          update(index, [&](FakeSession& s) {
            s.discarded_before_tls = channel.discarded_before_tls();
            if (channel.tls()) s.sni = channel.tls()->server_name();
            if (!ec) {
              s.tls = true;
              s.tls_version = channel.tls()->version();
              s.tls_cipher = channel.tls()->cipher();
            }
          });
          if (ec) {
            note_io_error(index, ec);
            fail(index, i, st, "handshake failed: " + ec.message());
            co_return false;  // the TLS state is unusable: nothing sensible left to read
          }
          break;
        }
        case Step::Kind::sleep: {
          timer.expires_after(st.interval);
          co_await timer.async_wait(as_tuple_awaitable);
          break;
        }
        case Step::Kind::close:
          update(index, [&](FakeSession& s) { s.steps_done = i + 1; s.completed = i + 1 == script.size(); });
          co_return false;
        case Step::Kind::drip: {
          for (std::size_t b = 0; b < st.bytes.size(); ++b) {
            const auto ec = co_await channel.write(std::string_view(&st.bytes[b], 1), deadline());
            if (ec) {
              note_io_error(index, ec);
              fail(index, i, st, "write failed after " + std::to_string(b) + " bytes: " + ec.message());
              co_return true;
            }
            if (b + 1 < st.bytes.size()) {
              timer.expires_after(st.interval);
              co_await timer.async_wait(as_tuple_awaitable);
            }
          }
          break;
        }
        case Step::Kind::garbage: {
          std::uint32_t x = 0x9E3779B9u;
          std::string chunk;
          for (std::size_t sent = 0; sent < st.count;) {
            chunk.clear();
            const std::size_t n = std::min<std::size_t>(64 * 1024, st.count - sent);
            while (chunk.size() < n) {
              x ^= x << 13;
              x ^= x >> 17;
              x ^= x << 5;
              const char c = static_cast<char>(x & 0xff);
              if (c != '\r' && c != '\n') chunk += c;
            }
            const auto ec = co_await channel.write(chunk, deadline());
            if (ec) {
              note_io_error(index, ec);
              fail(index, i, st, "write failed after " + std::to_string(sent) + " bytes: " + ec.message());
              co_return true;
            }
            sent += n;
          }
          break;
        }
        case Step::Kind::read_bytes: {
          std::string buffer(std::max<std::size_t>(st.count, 1), '\0');
          auto [ec, n] = co_await channel.read_some(asio::buffer(buffer), deadline());
          if (ec) {
            note_io_error(index, ec);
            fail(index, i, st, ec == asio::error::timed_out ? "timeout" : "read failed: " + ec.message());
            co_return !is_peer_gone(ec);
          }
          break;  // the channel's recorder has kept the bytes
        }
        case Step::Kind::wait_close: {
          const auto until = Clock::now() + st.interval;
          std::array<char, 4096> sink;
          for (;;) {
            auto [ec, n] = co_await channel.read_some(asio::buffer(sink), until);
            if (!ec) continue;
            if (ec == asio::error::timed_out) {
              fail(index, i, st, "client did not close");
              co_return false;
            }
            update(index, [](FakeSession& s) { s.peer_closed = true; });
            break;
          }
          break;
        }
      }
      update(index, [&](FakeSession& s) { s.steps_done = i + 1; });
    }
    update(index, [](FakeSession& s) { s.completed = true; });
    co_return true;
  }

  // Reads (and so records) whatever the client still sends until it closes or time runs out.
  asio::awaitable<void> drain_client(std::size_t index, smtp::ServerChannel& channel) {
    const auto until = Clock::now() + options.drain_timeout;
    std::array<char, 4096> sink;
    for (;;) {
      auto [ec, n] = co_await channel.read_some(asio::buffer(sink), until);
      if (ec) {
        note_io_error(index, ec);
        co_return;
      }
    }
  }
};

ScriptedSmtp::ScriptedSmtp(asio::any_io_executor executor, Script script, ScriptedSmtpOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::vector<Script>{std::move(script)}, true,
                                     std::move(options))) {}

ScriptedSmtp::ScriptedSmtp(asio::any_io_executor executor, std::vector<Script> scripts, ScriptedSmtpOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(scripts), false, std::move(options))) {}

ScriptedSmtp::~ScriptedSmtp() { stop(); }

void ScriptedSmtp::start() {
  State& st = *state_;
  const asio::ip::tcp::endpoint requested(st.options.address, st.options.port);
  if (const std::error_code ec = smtp::listen_on(st.acceptor, requested, st.bound)) {
    throw std::runtime_error("scripted SMTP fake: cannot listen on " + lab::endpoint_text(requested) + ": " +
                             ec.message());
  }
  asio::co_spawn(st.executor, st.accept_loop(), asio::detached);
}

void ScriptedSmtp::stop() {
  State& st = *state_;
  st.stopped = true;
  std::error_code ignored;
  st.acceptor.close(ignored);
  for (auto& channel : st.live) channel->close();
}

asio::ip::tcp::endpoint ScriptedSmtp::endpoint() const { return state_->bound; }
std::uint16_t ScriptedSmtp::port() const { return state_->bound.port(); }

std::size_t ScriptedSmtp::connections() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions.size();
}

std::vector<FakeSession> ScriptedSmtp::sessions() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions;
}

bool ScriptedSmtp::client_sent_mail_commands() const {
  std::lock_guard lock(state_->mutex);
  return std::any_of(state_->sessions.begin(), state_->sessions.end(),
                     [](const FakeSession& s) { return s.sent_mail_commands(); });
}

asio::awaitable<bool> ScriptedSmtp::wait_finished(std::size_t count, std::chrono::milliseconds limit) {
  auto state = state_;
  const auto until = Clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    {
      std::lock_guard lock(state->mutex);
      const auto done = std::count_if(state->sessions.begin(), state->sessions.end(),
                                      [](const FakeSession& s) { return s.finished; });
      if (static_cast<std::size_t>(done) >= count) co_return true;
    }
    if (Clock::now() >= until) co_return false;
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(as_tuple_awaitable);
  }
}

}  // namespace mxtls::fakes
