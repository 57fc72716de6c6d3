// Stub resolver transport: each query goes out on a connected UDP socket (reused a bounded
// number of times, random ID), waits under a per-attempt deadline for a matching answer, retries
// over all servers, and falls back to TCP on truncation. Message bytes are dns/wire's work.
#include "dns/resolver.hpp"

#include "core/endpoint_text.hpp"
#include "dns/ldns_handles.hpp"
#include "dns/resolution.hpp"
#include "dns/wire.hpp"

#include "core/deadline.hpp"
#include "core/text.hpp"
#include "core/waiting.hpp"

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <variant>

namespace mxtls::dns {

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::nodata: return "nodata";
    case Outcome::nxdomain: return "nxdomain";
    case Outcome::servfail: return "servfail";
    case Outcome::refused: return "refused";
    case Outcome::timeout: return "timeout";
    case Outcome::error: return "error";
  }
  return "error";
}

namespace {

using asio::ip::tcp;
using asio::ip::udp;
using wire::RecordType;
using namespace asio::experimental::awaitable_operators;

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Receive buffer per UDP attempt. We advertise 1232 bytes; a little more is accepted from
// servers that ignore it, anything longer is cut off and then fails to parse.
constexpr std::size_t udp_receive_buffer_size = 4096;
constexpr std::uint16_t dns_port = 53;

// Query IDs from a CSPRNG: with the random source port they are what stops an off-path
// attacker from guessing a forged answer (RFC 5452).
// Drawn 64 at a time: one RAND_bytes call per query (its locks and fork check) was about 1 % of
// a bulk scan's CPU, and an ID unused in memory is no easier to guess from outside.
std::uint16_t random_query_id() {
  thread_local std::array<std::uint16_t, 64> pool{};
  thread_local std::size_t left = 0;
  if (left == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(pool.data()), sizeof pool) != 1) {
      std::random_device kernel_random;  // fallback if OpenSSL's DRBG ever fails
      return static_cast<std::uint16_t>(kernel_random());
    }
    left = pool.size();
  }
  return pool[--left];
}

// What one exchange with one server gave.
struct Exchange {
  enum class Kind { answered, timeout, failed };
  Kind kind = Kind::failed;
  wire::ParsedResponse response;
  std::string detail;  // for timeout/failed
};

Exchange failed(std::string detail) {
  Exchange exchange;
  exchange.detail = std::move(detail);
  return exchange;
}

Exchange answered(wire::ParsedResponse response) {
  Exchange exchange;
  exchange.kind = Exchange::Kind::answered;
  exchange.response = std::move(response);
  return exchange;
}

// The outcome of a final answer's RCODE.
Outcome outcome_of(const wire::ParsedResponse& response) {
  switch (response.rcode) {
    case wire::rcode_noerror: return response.has_records() ? Outcome::ok : Outcome::nodata;
    case wire::rcode_nxdomain: return Outcome::nxdomain;
    case wire::rcode_servfail: return Outcome::servfail;
    default: return Outcome::refused;
  }
}

// A final answer of a kind the caller may want to hear from another server first.
bool worth_asking_elsewhere(const wire::ParsedResponse& response) {
  return response.rcode != wire::rcode_noerror && response.rcode != wire::rcode_nxdomain;
}

}  // namespace

// ---- Resolver::Impl ---------------------------------------------------------------------------

struct Resolver::Impl {
  Impl(asio::any_io_executor ex, ResolverConfig cfg)
      : executor(std::move(ex)), config(std::move(cfg)), query_slots(executor, config.max_queries_in_flight) {}

  asio::any_io_executor executor;
  ResolverConfig config;
  CacheCounters counters{};
  Slots query_slots;  // config.max_queries_in_flight

  // One question to the network, when a slot is free.
  asio::awaitable<Resolution> resolve_in_turn(const std::string& name, RecordType type) {
    co_await query_slots.acquire();
    SlotLease lease(query_slots);
    Resolution fresh = co_await resolve(name, type);
    co_return fresh;
  }

  // ---- UDP sockets, reused ----
  // Opening, connecting and closing a socket per query is five system calls and an epoll
  // registration each time; at tens of thousands of lookups a second that is most of the cost.
  // Idle connected sockets wait here per server and are reused a bounded number of times, so
  // the source port still changes often (RFC 5452). A reused socket may hold a late answer to
  // an earlier query: its ID and question do not match, and the matching below skips it.
  static constexpr unsigned max_socket_uses = 32;
  struct PooledSocket {
    udp::socket socket;
    unsigned uses = 0;
  };
  struct IdleSockets {
    udp::endpoint server;
    std::vector<PooledSocket> sockets;
  };
  std::vector<IdleSockets> idle_sockets{};

  IdleSockets& idle_for(const udp::endpoint& server) {
    for (auto& entry : idle_sockets)
      if (entry.server == server) return entry;
    idle_sockets.push_back(IdleSockets{server, {}});
    return idle_sockets.back();
  }

  std::optional<PooledSocket> take_socket(const udp::endpoint& server, asio::error_code& error) {
    IdleSockets& idle = idle_for(server);
    if (!idle.sockets.empty()) {
      PooledSocket pooled = std::move(idle.sockets.back());
      idle.sockets.pop_back();
      ++pooled.uses;
      return pooled;
    }
    udp::socket socket(executor);
    socket.open(server.protocol(), error);
    // A connected socket gets its own kernel-chosen random port, only sees datagrams from
    // the server, and learns of ICMP port-unreachable (ECONNREFUSED) at once.
    if (!error) socket.connect(server, error);
    if (!error) socket.non_blocking(true, error);  // reads happen only after readiness
    if (error) return std::nullopt;
    return PooledSocket{std::move(socket), 1};
  }

  void give_back_socket(const udp::endpoint& server, PooledSocket pooled) {
    IdleSockets& idle = idle_for(server);
    if (pooled.uses < max_socket_uses && idle.sockets.size() < max_idle_udp_sockets) idle.sockets.push_back(std::move(pooled));
  }

  // Waits on a connected UDP socket for the answer to `question`. Datagrams from other
  // senders and answers to other questions are skipped, not errors: a spoofer must not be
  // able to end the wait early. The last malformed answer is kept for the report.
  asio::awaitable<Exchange> udp_round_trip(udp::socket& socket, const udp::endpoint& server,
                                           const wire::Question& question,
                                           const std::vector<std::uint8_t>& query,
                                           std::string& last_problem, const ExpiryGuard& deadline) {
    auto [send_error, sent] = co_await socket.async_send(asio::buffer(query), use_tuple);
    if (send_error) {
      co_return failed("send to " + endpoint_text(server) + ": " + send_error.message());
    }
    // Wait for readability, then read into one buffer per thread: a query in flight holds no
    // receive buffer of its own (thousands wait at once in a bulk scan), and the datagram is
    // parsed before the next co_await, so no other query can overwrite it meanwhile.
    thread_local std::array<std::uint8_t, udp_receive_buffer_size> buffer;
    for (;;) {
      if (deadline.fired()) co_return failed("deadline passed");
      auto [wait_error] = co_await socket.async_wait(udp::socket::wait_read, use_tuple);
      if (wait_error) co_return failed(endpoint_text(server) + ": " + wait_error.message());
      udp::endpoint sender;
      asio::error_code error;
      const std::size_t size = socket.receive_from(asio::buffer(buffer), sender, 0, error);
      if (error == asio::error::would_block || error == asio::error::try_again) continue;
      if (error) co_return failed(endpoint_text(server) + ": " + error.message());
      if (sender != server) continue;
      if (size == buffer.size()) {
        // A datagram that fills the buffer was probably cut by the kernel (servers that ignore our
        // EDNS size): TCP has the whole answer, so go there now instead of failing to parse.
        Exchange cut;
        cut.kind = Exchange::Kind::answered;
        cut.response.truncated = true;
        co_return cut;
      }
      auto parsed = wire::parse_response(std::span(buffer.data(), size), question);
      if (parsed.status == wire::ParseStatus::accepted) co_return answered(std::move(parsed));
      if (parsed.status == wire::ParseStatus::malformed) last_problem = parsed.problem;
    }
  }

  asio::awaitable<Exchange> udp_exchange(const udp::endpoint& server, const std::string& name,
                                         RecordType type) {
    const wire::Question question{name, type, random_query_id()};
    const auto query = wire::build_query(question, config.request_dnssec);
    if (query.empty()) co_return failed("cannot build a query for " + name);

    asio::error_code error;
    std::optional<PooledSocket> pooled = take_socket(server, error);
    if (!pooled) co_return failed("UDP socket for " + endpoint_text(server) + ": " + error.message());

    std::string last_problem;
    // The deadline cancels the socket's wait (a callback on a timer: thousands of queries wait
    // at once, and racing each with a timer coroutine cost two spawned frames and a parallel
    // group per query).
    const ExpiryGuard deadline(executor, config.timeout, [&socket = pooled->socket] {
      std::error_code ignored;
      socket.cancel(ignored);
    });
    Exchange exchange = co_await udp_round_trip(pooled->socket, server, question, query, last_problem, deadline);
    const bool timed_out = deadline.fired() && exchange.kind != Exchange::Kind::answered;
    // A socket that saw an answer or a plain timeout goes back for another query; one that
    // failed (ICMP unreachable, send error) is closed.
    if (timed_out || exchange.kind == Exchange::Kind::answered) give_back_socket(server, std::move(*pooled));
    if (!timed_out) co_return exchange;
    if (!last_problem.empty()) {
      co_return failed("malformed answer from " + endpoint_text(server) + ": " + last_problem);
    }
    Exchange timeout;
    timeout.kind = Exchange::Kind::timeout;
    timeout.detail = "no answer from " + endpoint_text(server) + " within " +
                     std::to_string(config.timeout.count()) + " ms";
    co_return timeout;
  }

  // DNS over TCP (RFC 1035 §4.2.2, RFC 7766): a 2-byte length, then the message. The length
  // prefix caps an answer at 65535 bytes, so the buffer is bounded by construction.
  static asio::awaitable<Exchange> tcp_round_trip(tcp::socket& socket, const tcp::endpoint& server,
                                                  const wire::Question& question,
                                                  const std::vector<std::uint8_t>& query) {
    const std::string where = "TCP " + endpoint_text(server);
    auto [connect_error] = co_await socket.async_connect(server, use_tuple);
    if (connect_error) co_return failed(where + ": " + connect_error.message());

    const std::array<std::uint8_t, 2> prefix{static_cast<std::uint8_t>(query.size() >> 8),
                                             static_cast<std::uint8_t>(query.size() & 0xFF)};
    const std::array<asio::const_buffer, 2> request{asio::buffer(prefix), asio::buffer(query)};
    auto [write_error, written] = co_await asio::async_write(socket, request, use_tuple);
    if (write_error) co_return failed(where + ": " + write_error.message());

    std::array<std::uint8_t, 2> length_bytes{};
    auto [length_error, length_read] =
        co_await asio::async_read(socket, asio::buffer(length_bytes), use_tuple);
    if (length_error) co_return failed(where + ": " + length_error.message());
    const std::size_t length = (std::size_t{length_bytes[0]} << 8) | length_bytes[1];
    std::vector<std::uint8_t> message(length);
    auto [read_error, read] = co_await asio::async_read(socket, asio::buffer(message), use_tuple);
    if (read_error) co_return failed(where + ": " + read_error.message());

    // One question per connection: an answer that does not match is a broken server, not a
    // spoof to wait out (TCP cannot be spoofed off-path).
    auto parsed = wire::parse_response(message, question);
    if (parsed.status != wire::ParseStatus::accepted) {
      co_return failed(where + ": unusable answer: " + parsed.problem);
    }
    // TC over TCP: the server itself says the records are not all there. Taking the rest as the
    // answer would turn "cut off" into "no MX", and a scan into probing the implicit MX.
    if (parsed.truncated) co_return failed(where + ": answer truncated (TC) even over TCP");
    co_return answered(std::move(parsed));
  }

  asio::awaitable<Exchange> tcp_exchange(const udp::endpoint& server, const std::string& name,
                                         RecordType type) {
    const wire::Question question{name, type, random_query_id()};
    const auto query = wire::build_query(question, config.request_dnssec);
    if (query.empty()) co_return failed("cannot build a query for " + name);
    const tcp::endpoint tcp_server(server.address(), server.port());
    tcp::socket socket(executor);
    // One deadline covers connect, write and both reads.
    asio::steady_timer deadline(executor, config.timeout);
    auto result = co_await (tcp_round_trip(socket, tcp_server, question, query) ||
                            deadline.async_wait(use_tuple));
    if (result.index() == 0) co_return std::get<0>(std::move(result));
    Exchange timeout;
    timeout.kind = Exchange::Kind::timeout;
    timeout.detail = "no TCP answer from " + endpoint_text(tcp_server) + " within " +
                     std::to_string(config.timeout.count()) + " ms";
    co_return timeout;
  }

  asio::awaitable<Exchange> ask_server(const udp::endpoint& server, const std::string& name,
                                       RecordType type) {
    Exchange exchange = co_await udp_exchange(server, name, type);
    if (exchange.kind == Exchange::Kind::answered && exchange.response.truncated) {
      // The answer did not fit in UDP: the same server over TCP has all of it.
      co_return co_await tcp_exchange(server, name, type);
    }
    co_return exchange;
  }

  // Up to `attempts` rounds over all servers. NOERROR or NXDOMAIN ends the search at once.
  // SERVFAIL/REFUSED from one server sends us on to the next, and is the result when no
  // server does better in that round; another round is made only when no server answered.
  asio::awaitable<std::pair<Exchange, udp::endpoint>> ask_servers(const std::string& name,
                                                                  RecordType type) {
    if (config.servers.empty()) {
      co_return std::pair{failed("no DNS servers configured"), udp::endpoint{}};
    }
    std::optional<std::pair<Exchange, udp::endpoint>> unsuccessful;
    Exchange last_failure;
    bool only_timeouts = true;
    for (int round = 0; round < std::max(1, config.attempts); ++round) {
      for (const auto& server : config.servers) {
        Exchange exchange = co_await ask_server(server, name, type);
        if (exchange.kind == Exchange::Kind::answered) {
          if (!worth_asking_elsewhere(exchange.response)) {
            co_return std::pair{std::move(exchange), server};
          }
          if (!unsuccessful) unsuccessful.emplace(std::move(exchange), server);
          continue;
        }
        only_timeouts = only_timeouts && exchange.kind == Exchange::Kind::timeout;
        last_failure = std::move(exchange);
      }
      if (unsuccessful) co_return std::move(*unsuccessful);
    }
    last_failure.kind = only_timeouts ? Exchange::Kind::timeout : Exchange::Kind::failed;
    last_failure.detail += " (" + std::to_string(std::max(1, config.attempts)) +
                           " attempt(s) over " + std::to_string(config.servers.size()) +
                           " server(s))";
    co_return std::pair{std::move(last_failure), udp::endpoint{}};
  }

  static std::string answer_detail(const wire::ParsedResponse& response, Outcome outcome,
                                   const std::string& name, RecordType type,
                                   const udp::endpoint& server) {
    const std::string question = name + " " + wire::to_string(type);
    switch (outcome) {
      case Outcome::ok: return {};
      case Outcome::nodata:
        return "no " + std::string(wire::to_string(type)) + " records for " + name + " (from " +
               endpoint_text(server) + ")";
      default:
        return wire::rcode_name(response.rcode) + " for " + question + " from " +
               endpoint_text(server);
    }
  }

  // Asks for `name`, re-asking for a CNAME target when an answer stops at one. At most
  // max_cname_hops CNAMEs in total; a name seen twice is a loop.
  asio::awaitable<Resolution> resolve(const std::string& input, RecordType type) {
    Resolution result;
    const auto canonical = wire::canonical_name(input);
    if (!canonical) {
      result.answer.detail = "not a valid domain name: '" + input + "'";
      co_return result;
    }
    std::string current = *canonical;
    std::vector<std::string> seen{current};
    bool all_authenticated = true;
    result.answer.canonical_name = current;
    // Each question is bounded by attempts × servers × timeout, but a CNAME chain asks up to
    // nine of them: a hostile chain of slow servers must not hold a lookup for minutes. A new
    // hop starts only within one full round of asking (so the worst case is twice that).
    const auto budget = config.timeout * std::max(1, config.attempts) *
                        static_cast<int>(std::max<std::size_t>(1, config.servers.size())) * 2;
    const auto give_up_at = std::chrono::steady_clock::now() + budget;
    for (;;) {
      if (current != *canonical && std::chrono::steady_clock::now() >= give_up_at) {
        result.answer.outcome = Outcome::timeout;
        result.answer.detail = "gave up on " + *canonical + " after " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(budget).count()) +
                               " ms, at CNAME " + current;
        co_return result;
      }
      auto [exchange, server] = co_await ask_servers(current, type);
      if (exchange.kind != Exchange::Kind::answered) {
        result.answer.outcome =
            exchange.kind == Exchange::Kind::timeout ? Outcome::timeout : Outcome::error;
        result.answer.detail = exchange.detail;
        co_return result;
      }
      auto& response = exchange.response;
      // A chain is only as secure as its weakest answer.
      all_authenticated = all_authenticated && response.authenticated;
      for (const auto& target : response.cnames) {
        if (std::find(seen.begin(), seen.end(), target) != seen.end()) {
          response.cname_loop = true;
          response.problem = "CNAME loop at " + target;
        } else if (static_cast<int>(result.answer.cnames.size()) >= wire::max_cname_hops) {
          response.cname_loop = true;
          response.problem = "CNAME chain longer than " + std::to_string(wire::max_cname_hops);
        }
        if (response.cname_loop) break;
        seen.push_back(target);
        result.answer.cnames.push_back(target);
      }
      if (response.cname_loop) {
        result.answer.outcome = Outcome::error;
        result.answer.detail = response.problem + " (from " + endpoint_text(server) + ")";
        co_return result;
      }
      result.answer.canonical_name = response.final_name;
      if (response.stops_at_cname()) {
        current = response.final_name;
        continue;
      }
      result.answer.outcome = outcome_of(response);
      result.answer.authenticated = all_authenticated;
      result.answer.detail =
          answer_detail(response, result.answer.outcome, response.final_name, type, server);
      result.mx = std::move(response.mx);
      result.addresses = std::move(response.addresses);
      result.texts = std::move(response.texts);
      result.tlsa = std::move(response.tlsa);
      co_return result;
    }
  }

  // ---- cache: one query per (type, name) while the entry lives ----
  // A bulk scan keeps up to 100 000 answers, three or more per domain. While the first lookup
  // of a name runs, later askers wait on `pending`; once it is done the answer is kept packed
  // (dns/resolution.hpp), a few dozen bytes, and unpacked for each hit.
  struct CacheEntry {
    std::shared_ptr<SharedValue<Resolution>> pending;  // set while the lookup runs
    std::string packed;                                // the answer, once it is in
    std::list<const std::string*>::iterator position;  // in cache_order, once it is in
  };
  std::unordered_map<std::string, CacheEntry> cache{};
  // Finished entries, most recently used first, by their key in `cache` (a map node's key
  // stays where it is until the node is erased, whatever rehashing does).
  std::list<const std::string*> cache_order{};

  asio::awaitable<Resolution> cached_resolve(const std::string& name, RecordType type) {
    if (config.cache_entries == 0 ||
        std::find(config.uncached_types.begin(), config.uncached_types.end(), type) != config.uncached_types.end()) {
      ++counters.queries;
      Resolution fresh = co_await resolve_in_turn(name, type);
      co_return fresh;
    }
    // "Example.TEST." and "example.test" are one name to DNS, and so one entry here.
    std::string key = ascii_lower(name.ends_with('.') ? std::string_view(name).substr(0, name.size() - 1) : name);
    key += ' ';
    key += std::to_string(static_cast<int>(type));
    if (const auto found = cache.find(key); found != cache.end()) {
      ++counters.hits;
      CacheEntry& entry = found->second;
      if (!entry.pending) {
        cache_order.splice(cache_order.begin(), cache_order, entry.position);
        co_return unpack(entry.packed);
      }
      // Our own reference: the entry drops its `pending` when the lookup ends.
      const std::shared_ptr<SharedValue<Resolution>> pending = entry.pending;
      co_await pending->wait();
      co_return pending->value();
    }
    // A map node (key and entry) stays where it is until erased, whatever rehashing does to
    // iterators, and only finished entries are ever erased: both references hold across the wait.
    const auto inserted = cache.emplace(std::move(key), CacheEntry{}).first;
    const std::string& stored_key = inserted->first;
    CacheEntry& entry = inserted->second;
    entry.pending = std::make_shared<SharedValue<Resolution>>(executor);
    ++counters.queries;
    Resolution fresh;
    try {
      fresh = co_await resolve_in_turn(name, type);
    } catch (const std::exception& e) {
      // Whoever waits on this entry must be woken with an answer, whatever happened here.
      fresh.answer.outcome = Outcome::error;
      fresh.answer.detail = std::string("internal error resolving ") + name + ": " + e.what();
    }
    entry.packed = pack(fresh);
    entry.pending->set(fresh);
    entry.pending.reset();
    cache_order.push_front(&stored_key);
    entry.position = cache_order.begin();
    while (cache_order.size() > config.cache_entries) {
      // Found first, erased by position: the key lives in the node being erased.
      const auto oldest = cache.find(*cache_order.back());
      cache_order.pop_back();
      cache.erase(oldest);
    }
    co_return fresh;
  }

  // Runs a lookup and converts it to the typed answer; nothing escapes as an exception.
  template <typename TypedAnswer, typename Fill>
  asio::awaitable<TypedAnswer> lookup(std::string name, RecordType type, Fill fill) {
    TypedAnswer typed;
    try {
      Resolution resolution = co_await cached_resolve(name, type);
      static_cast<Answer&>(typed) = std::move(resolution.answer);
      fill(typed, resolution);
    } catch (const std::exception& e) {
      typed = TypedAnswer{};
      typed.outcome = Outcome::error;
      typed.detail = std::string("internal error resolving ") + name + ": " + e.what();
    }
    co_return typed;
  }
};

Resolver::Resolver(asio::any_io_executor executor, ResolverConfig config)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(config))) {}

Resolver::~Resolver() = default;

const ResolverConfig& Resolver::config() const { return impl_->config; }
const CacheCounters& Resolver::cache_counters() const { return impl_->counters; }

asio::awaitable<MxAnswer> Resolver::mx(std::string name) {
  co_return co_await impl_->lookup<MxAnswer>(
      std::move(name), RecordType::mx,
      [](MxAnswer& out, auto& in) { out.records = std::move(in.mx); });
}

asio::awaitable<AddressAnswer> Resolver::a(std::string name) {
  co_return co_await impl_->lookup<AddressAnswer>(std::move(name), RecordType::a,
                                                  [](AddressAnswer& out, auto& in) {
                                                    out.addresses = std::move(in.addresses);
                                                  });
}

asio::awaitable<AddressAnswer> Resolver::aaaa(std::string name) {
  co_return co_await impl_->lookup<AddressAnswer>(std::move(name), RecordType::aaaa,
                                                  [](AddressAnswer& out, auto& in) {
                                                    out.addresses = std::move(in.addresses);
                                                  });
}

asio::awaitable<TxtAnswer> Resolver::txt(std::string name) {
  co_return co_await impl_->lookup<TxtAnswer>(
      std::move(name), RecordType::txt,
      [](TxtAnswer& out, auto& in) { out.texts = std::move(in.texts); });
}

asio::awaitable<TlsaAnswer> Resolver::tlsa(std::string name) {
  co_return co_await impl_->lookup<TlsaAnswer>(
      std::move(name), RecordType::tlsa,
      [](TlsaAnswer& out, auto& in) { out.records = std::move(in.tlsa); });
}

// ---- configuration ----------------------------------------------------------------------------

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

asio::ip::udp::endpoint parse_server(const std::string& text) {
  const auto invalid = [&](const std::string& why) {
    return std::invalid_argument("bad DNS server '" + text + "': " + why);
  };
  std::string host = text;
  std::uint16_t port = dns_port;
  if (!text.empty() && text.front() == '[') {  // [IPv6] or [IPv6]:PORT
    const auto close = text.find(']');
    if (close == std::string::npos) throw invalid("missing ']'");
    host = text.substr(1, close - 1);
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      const auto parsed =
          rest.front() == ':' ? parse_port(std::string_view(rest).substr(1)) : std::nullopt;
      if (!parsed) throw invalid("expected ':PORT' after ']'");
      port = *parsed;
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {  // IPv4:PORT
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    const auto parsed = parse_port(std::string_view(text).substr(colon + 1));
    if (!parsed) throw invalid("port must be 1-65535");
    port = *parsed;
  }  // otherwise a bare IPv4 or IPv6 address
  asio::error_code error;
  const auto address = asio::ip::make_address(host, error);
  if (error) throw invalid("not an IP address");
  return {address, port};
}

std::vector<asio::ip::udp::endpoint> servers_from_resolv_conf(const std::string& path,
                                                              std::vector<std::string>& errors) {
  std::vector<asio::ip::udp::endpoint> servers;
  std::ifstream in(path);
  if (!in) {
    errors.push_back(path + ": cannot open");
    return servers;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    std::istringstream words(line);
    std::string keyword, address, extra;
    words >> keyword;
    // Comments start with '#' or ';'; other directives (search, options, …) are not ours.
    if (keyword != "nameserver") continue;
    if (!(words >> address)) {
      errors.push_back(where + "nameserver without an address");
      continue;
    }
    if (words >> extra && extra.front() != '#' && extra.front() != ';') {
      errors.push_back(where + "unexpected text after the address: '" + extra + "'");
      continue;
    }
    asio::error_code error;
    const auto ip = asio::ip::make_address(address, error);
    if (error) {
      errors.push_back(where + "not an IP address: '" + address + "'");
      continue;
    }
    servers.emplace_back(ip, dns_port);
  }
  return servers;
}

// ---- reverse lookups (PTR) ---------------------------------------------------------------------
// For `mxtls listen` (the peer's reverse name). dns/wire reads only the record types a scan
// needs, so the PTR answer is checked by wire::structure_problem() and then read with ldns here.

namespace {

// "1.2.0.192.in-addr.arpa." / nibbles of "…ip6.arpa.".
std::string reverse_query_name(const asio::ip::address& address) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string name;
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) name += std::to_string(*it) + ".";
    return name + "in-addr.arpa.";
  }
  const auto bytes = address.to_v6().to_bytes();
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) {
    name += hex[*it & 0xF];
    name += '.';
    name += hex[*it >> 4];
    name += '.';
  }
  return name + "ip6.arpa.";
}

// The answer to (id, qname) read from one datagram, or nothing when it answers something else.
std::optional<PtrAnswer> read_ptr_answer(std::span<const std::uint8_t> data, std::uint16_t id, const ldns_rdf* qname) {
  if (wire::structure_problem(data)) return std::nullopt;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, data.data(), data.size()) != LDNS_STATUS_OK) return std::nullopt;
  mxtls::dns::detail::LdnsPktPtr packet(raw);
  if (ldns_pkt_id(packet.get()) != id || !ldns_pkt_qr(packet.get())) return std::nullopt;
  const ldns_rr_list* question = ldns_pkt_question(packet.get());
  if (ldns_rr_list_rr_count(question) != 1) return std::nullopt;
  const ldns_rr* asked = ldns_rr_list_rr(question, 0);
  if (ldns_rr_get_type(asked) != LDNS_RR_TYPE_PTR || ldns_dname_compare(ldns_rr_owner(asked), qname) != 0)
    return std::nullopt;
  PtrAnswer answer;
  answer.authenticated = ldns_pkt_ad(packet.get());
  const ldns_rr_list* records = ldns_pkt_answer(packet.get());
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(records) && answer.names.size() < 8; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(records, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_PTR || ldns_rr_rd_count(rr) < 1) continue;
    mxtls::dns::detail::MallocPtr<char> text(ldns_rdf2str(ldns_rr_rdf(rr, 0)));
    if (!text) continue;
    std::string name = printable(text.get(), 255);
    if (name.size() > 1 && name.back() == '.') name.pop_back();
    answer.names.push_back(std::move(name));
  }
  const unsigned rcode = ldns_pkt_get_rcode(packet.get());
  if (rcode == wire::rcode_noerror) answer.outcome = answer.names.empty() ? Outcome::nodata : Outcome::ok;
  else if (rcode == wire::rcode_nxdomain) answer.outcome = Outcome::nxdomain;
  else if (rcode == wire::rcode_servfail) answer.outcome = Outcome::servfail;
  else answer.outcome = Outcome::refused;
  if (answer.outcome != Outcome::ok) answer.detail = wire::rcode_name(rcode);
  return answer;
}

// Datagrams from the connected server until one answers our question (others are skipped).
asio::awaitable<std::optional<PtrAnswer>> receive_ptr(udp::socket& socket, std::uint16_t id, const ldns_rdf* qname) {
  std::vector<std::uint8_t> buffer(udp_receive_buffer_size);
  for (;;) {
    auto [error, size] = co_await socket.async_receive(asio::buffer(buffer), use_tuple);
    if (error) co_return std::nullopt;
    auto answer = read_ptr_answer(std::span(buffer.data(), size), id, qname);
    if (answer) co_return answer;
  }
}

}  // namespace

asio::awaitable<PtrAnswer> Resolver::ptr(asio::ip::address address) {
  PtrAnswer result;
  const std::string name = reverse_query_name(address);
  mxtls::dns::detail::LdnsRdfPtr qname(ldns_dname_new_frm_str(name.c_str()));
  if (!qname) {
    result.detail = "cannot build the reverse name of " + address.to_string();
    co_return result;
  }
  result.outcome = Outcome::timeout;
  result.detail = "no answer for " + name + " PTR";
  for (int round = 0; round < std::max(1, impl_->config.attempts); ++round) {
    for (const auto& server : impl_->config.servers) {
      const std::uint16_t id = random_query_id();
      mxtls::dns::detail::LdnsPktPtr query(ldns_pkt_query_new(ldns_rdf_clone(qname.get()), LDNS_RR_TYPE_PTR, LDNS_RR_CLASS_IN, LDNS_RD));
      if (!query) continue;
      ldns_pkt_set_id(query.get(), id);
      std::uint8_t* wire_bytes = nullptr;
      std::size_t wire_size = 0;
      if (ldns_pkt2wire(&wire_bytes, query.get(), &wire_size) != LDNS_STATUS_OK) continue;
      mxtls::dns::detail::MallocPtr<std::uint8_t> wire_owner(wire_bytes);
      udp::socket socket(impl_->executor);
      asio::error_code error;
      socket.open(server.protocol(), error);
      if (!error) socket.connect(server, error);
      if (error) continue;
      auto [send_error, sent] = co_await socket.async_send(asio::buffer(wire_bytes, wire_size), use_tuple);
      if (send_error) continue;
      asio::steady_timer deadline(impl_->executor, impl_->config.timeout);
      auto outcome = co_await (receive_ptr(socket, id, qname.get()) || deadline.async_wait(use_tuple));
      if (outcome.index() != 0) {
        result.detail = "no answer for " + name + " PTR from " + endpoint_text(server) + " within " +
                        std::to_string(impl_->config.timeout.count()) + " ms";
        continue;
      }
      std::optional<PtrAnswer> answer = std::get<0>(std::move(outcome));
      if (!answer) continue;
      if (answer->outcome != Outcome::ok && !answer->detail.empty())
        answer->detail += " for " + name + " PTR from " + endpoint_text(server);
      result = std::move(*answer);
      // NOERROR and NXDOMAIN are final; SERVFAIL/REFUSED let another server try.
      if (result.outcome == Outcome::ok || result.outcome == Outcome::nodata || result.outcome == Outcome::nxdomain)
        co_return result;
    }
  }
  co_return result;
}

}  // namespace mxtls::dns
