// Authoritative DNS server for the lab fleet and tests: zone text parsed with ldns into a map
// of owner names, answers built with ldns, carried by Asio coroutines over UDP and TCP.
// Queries are hostile input too: the same structural check as the resolver runs first.
#include "dns/zone_server.hpp"

#include "core/endpoint_text.hpp"
#include "dns/ldns_handles.hpp"
#include "dns/wire.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

namespace mxtls::dns {

namespace {

using asio::ip::tcp;
using asio::ip::udp;
using detail::LdnsPktPtr;
using detail::LdnsRdfPtr;
using detail::LdnsRrPtr;
using detail::MallocPtr;
using namespace asio::experimental::awaitable_operators;

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t udp_query_buffer_size = 4096;
constexpr int max_cname_hops_served = 16;
constexpr int port_zero_bind_attempts = 20;
constexpr int udp_receive_buffer_bytes = 4 << 20;

std::string rdf_text(const ldns_rdf* rdf) {
  if (rdf == nullptr) return {};
  return wire::name_text(std::span(ldns_rdf_data(rdf), ldns_rdf_size(rdf)));
}

std::string owner_text(const ldns_rr* rr) { return rdf_text(ldns_rr_owner(rr)); }

// Safe on canonical names: '.' inside a label is written as \046, never as a bare dot.
std::optional<std::string> parent_name(const std::string& name) {
  if (name.empty()) return std::nullopt;
  const auto dot = name.find('.');
  return dot == std::string::npos ? std::string() : name.substr(dot + 1);
}

std::string canonical_or_throw(const std::string& name, const char* what) {
  auto canonical = wire::canonical_name(name);
  if (!canonical) throw std::invalid_argument(std::string("bad ") + what + ": '" + name + "'");
  return *canonical;
}

// ---- zone data --------------------------------------------------------------------------------

// Hashed: the scale lab serves 100 000+ owner names and must answer tens of thousands of
// queries a second, so a lookup costs one hash of the name, not a walk through a tree.
struct ZoneData {
  std::unordered_map<std::string, std::vector<LdnsRrPtr>> records;  // owner → its records
  std::unordered_set<std::string> names;  // owners and empty non-terminals
  std::map<std::string, const ldns_rr*> soa;  // apex → its SOA (kept in records); few, sorted

  // The apex of the zone holding `name` (the closest enclosing apex), if we serve one.
  std::optional<std::string> zone_of(const std::string& name) const {
    for (std::optional<std::string> candidate = name; candidate;
         candidate = parent_name(*candidate)) {
      if (soa.count(*candidate) != 0) return candidate;
    }
    return std::nullopt;
  }
};

// ldns' parser state across lines; freed whatever happens.
struct ParserNames {
  ldns_rdf* origin = nullptr;
  ldns_rdf* previous = nullptr;
  ParserNames() = default;
  ParserNames(const ParserNames&) = delete;
  ParserNames& operator=(const ParserNames&) = delete;
  ~ParserNames() {
    if (origin != nullptr) ldns_rdf_deep_free(origin);
    if (previous != nullptr) ldns_rdf_deep_free(previous);
  }
};

struct FileCloser {
  void operator()(FILE* file) const noexcept { std::fclose(file); }
};

std::vector<LdnsRrPtr> read_records(const std::string& text) {
  std::vector<LdnsRrPtr> records;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return records;
  std::unique_ptr<FILE, FileCloser> file(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!file) throw std::runtime_error("cannot read the zone text");
  ParserNames names;
  std::uint32_t default_ttl = 3600;
  int line = 1;
  while (std::feof(file.get()) == 0) {
    ldns_rr* raw = nullptr;
    // By the time ldns reports an error it has counted the line; keep where the record began.
    const int record_line = line;
    const ldns_status status =
        ldns_rr_new_frm_fp_l(&raw, file.get(), &default_ttl, &names.origin, &names.previous, &line);
    LdnsRrPtr record(raw);
    switch (status) {
      case LDNS_STATUS_OK:
        if (record) records.push_back(std::move(record));
        break;
      case LDNS_STATUS_SYNTAX_EMPTY:
      case LDNS_STATUS_SYNTAX_TTL:
      case LDNS_STATUS_SYNTAX_ORIGIN: break;
      case LDNS_STATUS_SYNTAX_INCLUDE:
        throw std::invalid_argument("zone text line " + std::to_string(record_line) +
                                    ": $INCLUDE is not supported");
      default: {
        const char* reason = ldns_get_errorstr_by_id(status);
        throw std::invalid_argument("zone text line " + std::to_string(record_line) + ": " +
                                    (reason != nullptr ? reason : "syntax error"));
      }
    }
  }
  return records;
}

ZoneData parse_zone_text(const std::string& text) {
  ZoneData zone;
  std::vector<LdnsRrPtr> records = read_records(text);
  zone.records.reserve(records.size());
  zone.names.reserve(records.size());
  for (const auto& record : records) {
    if (ldns_rr_get_type(record.get()) == LDNS_RR_TYPE_SOA) {
      zone.soa.emplace(owner_text(record.get()), record.get());
    }
  }
  for (auto& record : records) {
    const std::string owner = owner_text(record.get());
    const auto apex = zone.zone_of(owner);
    if (!apex) {
      throw std::invalid_argument("zone text: " + owner +
                                  " is outside every zone (no SOA above it)");
    }
    if (ldns_rr_get_class(record.get()) != LDNS_RR_CLASS_IN) {
      throw std::invalid_argument("zone text: " + owner + " is not in class IN");
    }
    // Every name between the owner and its apex exists (RFC 8020: no NXDOMAIN for an
    // empty non-terminal such as _tcp.example.test when _25._tcp.example.test exists).
    for (std::optional<std::string> name = owner; name && *name != *apex;
         name = parent_name(*name)) {
      zone.names.insert(*name);
    }
    zone.names.insert(*apex);
    zone.records[owner].push_back(std::move(record));
  }
  return zone;
}

// ---- queries and answers ----------------------------------------------------------------------

struct Query {
  LdnsPktPtr packet;
  const ldns_rr* question = nullptr;  // null unless QDCOUNT is 1
  std::string name;
};

std::optional<Query> parse_query(std::span<const std::uint8_t> message) {
  if (wire::structure_problem(message)) return std::nullopt;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, message.data(), message.size()) != LDNS_STATUS_OK) {
    ldns_pkt_free(raw);
    return std::nullopt;
  }
  Query query;
  query.packet.reset(raw);
  // Never answer an answer: two servers must not be able to ping-pong through us.
  if (ldns_pkt_qr(raw)) return std::nullopt;
  const ldns_rr_list* questions = ldns_pkt_question(raw);
  if (ldns_rr_list_rr_count(questions) == 1) {
    query.question = ldns_rr_list_rr(questions, 0);
    query.name = owner_text(query.question);
  }
  return query;
}

// What to answer, before it is encoded.
struct Reply {
  unsigned rcode = wire::rcode_noerror;
  bool authoritative = false;
  bool authenticated = false;
  std::vector<const ldns_rr*> answer;
  const ldns_rr* authority_soa = nullptr;
};

// How an encoded answer deviates from the truth (fault injection and truncation).
struct Variation {
  bool truncated = false;
  std::optional<std::uint16_t> id;
  std::optional<std::string> question_name;
};

LdnsRrPtr question_with_name(const ldns_rr* question, const std::string& name) {
  LdnsRrPtr copy(ldns_rr_clone(question));
  LdnsRdfPtr owner(ldns_dname_new_frm_str(name.c_str()));
  if (!copy || !owner) return copy;
  ldns_rdf* old_owner = ldns_rr_owner(copy.get());
  ldns_rr_set_owner(copy.get(), owner.release());
  ldns_rdf_deep_free(old_owner);  // ldns_rr_set_owner does not free the old one
  return copy;
}

std::vector<std::uint8_t> encode(const Query& query, const Reply& reply,
                                 const Variation& variation) {
  const ldns_pkt* asked = query.packet.get();
  LdnsPktPtr packet(ldns_pkt_new());
  if (!packet) return {};
  ldns_pkt_set_id(packet.get(), variation.id.value_or(ldns_pkt_id(asked)));
  ldns_pkt_set_qr(packet.get(), true);
  ldns_pkt_set_opcode(packet.get(), ldns_pkt_get_opcode(asked));
  ldns_pkt_set_aa(packet.get(), reply.authoritative);
  ldns_pkt_set_rd(packet.get(), ldns_pkt_rd(asked));
  ldns_pkt_set_ad(packet.get(), reply.authenticated);
  ldns_pkt_set_tc(packet.get(), variation.truncated);
  ldns_pkt_set_rcode(packet.get(), static_cast<std::uint8_t>(reply.rcode));
  if (query.question != nullptr) {
    LdnsRrPtr question = variation.question_name
                             ? question_with_name(query.question, *variation.question_name)
                             : LdnsRrPtr(ldns_rr_clone(query.question));
    if (question) ldns_pkt_push_rr(packet.get(), LDNS_SECTION_QUESTION, question.release());
  }
  if (!variation.truncated) {
    for (const ldns_rr* record : reply.answer) {
      ldns_pkt_push_rr(packet.get(), LDNS_SECTION_ANSWER, ldns_rr_clone(record));
    }
    if (reply.authority_soa != nullptr) {
      ldns_pkt_push_rr(packet.get(), LDNS_SECTION_AUTHORITY, ldns_rr_clone(reply.authority_soa));
    }
  }
  if (ldns_pkt_edns(asked)) {
    ldns_pkt_set_edns_udp_size(packet.get(), wire::edns_udp_size);
    ldns_pkt_set_edns_do(packet.get(), ldns_pkt_edns_do(asked));
  }
  std::uint8_t* raw = nullptr;
  std::size_t size = 0;
  const ldns_status status = ldns_pkt2wire(&raw, packet.get(), &size);
  MallocPtr<std::uint8_t> bytes(raw);
  if (status != LDNS_STATUS_OK || !bytes) return {};
  return std::vector<std::uint8_t>(bytes.get(), bytes.get() + size);
}

// The largest UDP answer the client said it can take.
std::size_t udp_limit(const Query& query) {
  if (!ldns_pkt_edns(query.packet.get())) return wire::classic_udp_size;
  return std::max<std::size_t>(wire::classic_udp_size, ldns_pkt_edns_udp_size(query.packet.get()));
}

// A datagram to send and where from.
struct Outgoing {
  std::vector<std::uint8_t> message;
  bool from_other_port = false;
};

}  // namespace

// ---- server state ------------------------------------------------------------------------------

struct ZoneServer::State {
  asio::any_io_executor executor;
  asio::ip::address listen_address;
  std::uint16_t requested_port = 0;
  ZoneData zone;
  ZoneServerOptions options;
  udp::socket udp_socket;
  udp::socket other_udp_socket;  // for answer_from_other_port
  tcp::acceptor acceptor;
  // Never expires while running; stop() moves it into the past, which wakes every waiter.
  asio::steady_timer stop_signal;
  bool running = false;
  ZoneServerStats stats;

  State(asio::any_io_executor ex, asio::ip::address address, std::uint16_t port, std::string text)
      : executor(ex),
        listen_address(address),
        requested_port(port),
        zone(parse_zone_text(text)),
        udp_socket(ex),
        other_udp_socket(ex),
        acceptor(ex),
        stop_signal(ex) {}

  void set_options(ZoneServerOptions fresh) {
    for (auto& name : fresh.signed_zones) name = canonical_or_throw(name, "signed zone");
    for (auto& name : fresh.servfail_names) name = canonical_or_throw(name, "SERVFAIL name");
    options = std::move(fresh);
  }

  bool is_signed(const std::string& apex) const {
    return std::find(options.signed_zones.begin(), options.signed_zones.end(), apex) !=
           options.signed_zones.end();
  }

  // The authoritative answer for one question, following CNAMEs inside our own zones.
  Reply resolve(const Query& query) const {
    Reply reply;
    const ldns_pkt* packet = query.packet.get();
    if (ldns_pkt_get_opcode(packet) != LDNS_PACKET_QUERY) {
      reply.rcode = wire::rcode_notimp;
      return reply;
    }
    if (query.question == nullptr) {
      reply.rcode = wire::rcode_formerr;
      return reply;
    }
    if (ldns_rr_get_class(query.question) != LDNS_RR_CLASS_IN) {
      reply.rcode = wire::rcode_refused;
      return reply;
    }
    if (std::find(options.servfail_names.begin(), options.servfail_names.end(), query.name) !=
        options.servfail_names.end()) {
      reply.rcode = wire::rcode_servfail;
      return reply;
    }
    const auto apex = zone.zone_of(query.name);
    if (!apex) {
      reply.rcode = wire::rcode_refused;  // not ours: an authoritative server refuses
      return reply;
    }
    const ldns_rr_type type = ldns_rr_get_type(query.question);
    reply.authoritative = true;
    std::string name = query.name;
    std::set<std::string> visited;
    for (int hop = 0; hop <= max_cname_hops_served && visited.insert(name).second; ++hop) {
      const auto found = zone.records.find(name);
      const ldns_rr* cname = nullptr;
      bool has_type = false;
      if (found != zone.records.end()) {
        for (const auto& record : found->second) {
          const ldns_rr_type record_type = ldns_rr_get_type(record.get());
          if (record_type == type) {
            reply.answer.push_back(record.get());
            has_type = true;
          } else if (record_type == LDNS_RR_TYPE_CNAME) {
            cname = record.get();
          }
        }
      }
      if (has_type) break;
      if (cname != nullptr) {
        reply.answer.push_back(cname);
        name = rdf_text(ldns_rr_rdf(cname, 0));
        // Like NSD, follow a CNAME only inside the same zone; for a target elsewhere the
        // answer stops at the CNAME and the client asks for the target itself.
        if (zone.zone_of(name) != apex) break;
        continue;
      }
      reply.authority_soa = zone.soa.at(*apex);  // NODATA or NXDOMAIN (RFC 2308)
      if (zone.names.count(name) == 0) reply.rcode = wire::rcode_nxdomain;
      break;
    }
    // As a validating resolver would (RFC 6840 §5.7): AD only for a client that asked by
    // setting DO or AD, and only when the zone is "signed".
    const bool asked_for_ad = ldns_pkt_ad(packet) || ldns_pkt_edns_do(packet);
    reply.authenticated = is_signed(*apex) && asked_for_ad;
    return reply;
  }

  // The messages to send for one query, faults applied. Empty: stay silent.
  std::vector<Outgoing> replies(std::span<const std::uint8_t> message, bool over_udp) const {
    const auto query = parse_query(message);
    if (!query) return {};
    const Reply reply = resolve(*query);
    Variation truthful;
    std::vector<std::uint8_t> correct = encode(*query, reply, truthful);
    if (over_udp && (options.truncate_udp || correct.size() > udp_limit(*query))) {
      truthful.truncated = true;
      correct = encode(*query, reply, truthful);
    }
    const bool other_port = over_udp && options.answer_from_other_port;
    if (!options.wrong_id && !options.wrong_question && !other_port) {
      return {Outgoing{std::move(correct), false}};
    }
    Variation faulty = truthful;
    if (options.wrong_id) {
      faulty.id = static_cast<std::uint16_t>(ldns_pkt_id(query->packet.get()) ^ 0x8001);
    }
    if (options.wrong_question) {
      faulty.question_name = query->name == "wrong-question.invalid" ? "other-question.invalid"
                                                                     : "wrong-question.invalid";
    }
    std::vector<Outgoing> out;
    out.push_back(Outgoing{encode(*query, reply, faulty), other_port});
    if (options.also_send_correct_answer) out.push_back(Outgoing{std::move(correct), false});
    return out;
  }
};

namespace {

using State = ZoneServer::State;

// Waits for `duration`, or less when the server stops.
asio::awaitable<void> sleep_unless_stopped(std::shared_ptr<State> state,
                                           std::chrono::milliseconds duration) {
  if (!state->running) co_return;
  asio::steady_timer timer(state->executor, duration);
  co_await (timer.async_wait(use_tuple) || state->stop_signal.async_wait(use_tuple));
}

asio::awaitable<void> answer_datagram(std::shared_ptr<State> state, std::vector<std::uint8_t> query,
                                      udp::endpoint client) {
  if (state->options.delay.count() > 0) co_await sleep_unless_stopped(state, state->options.delay);
  if (!state->running) co_return;
  for (auto& reply : state->replies(query, /*over_udp=*/true)) {
    udp::socket& socket = reply.from_other_port ? state->other_udp_socket : state->udp_socket;
    co_await socket.async_send_to(asio::buffer(reply.message), client, use_tuple);
  }
}

asio::awaitable<void> serve_udp(std::shared_ptr<State> state) {
  std::vector<std::uint8_t> buffer(udp_query_buffer_size);
  while (state->running) {
    udp::endpoint client;
    auto [error, size] =
        co_await state->udp_socket.async_receive_from(asio::buffer(buffer), client, use_tuple);
    if (error) {
      if (!state->running || error == asio::error::operation_aborted) co_return;
      continue;  // e.g. ICMP errors reported on the socket: not fatal for a server
    }
    ++state->stats.udp_queries;
    if (state->options.silent) continue;
    if (state->options.delay.count() == 0) {
      // Without an injected delay the answer goes out at once from this loop: a UDP send on
      // loopback does not block, and skipping a coroutine and a copy per query roughly
      // doubles the rate a scan of 100 000 domains can resolve at.
      const std::vector<Outgoing> replies =
          state->replies(std::span<const std::uint8_t>(buffer.data(), size), /*over_udp=*/true);
      for (const Outgoing& reply : replies) {
        udp::socket& socket = reply.from_other_port ? state->other_udp_socket : state->udp_socket;
        auto [send_error, sent] = co_await socket.async_send_to(asio::buffer(reply.message), client, use_tuple);
        (void)send_error;  // a client that went away is its own problem, not the server's
        (void)sent;
      }
      continue;
    }
    // One coroutine per query, so a delayed answer does not hold up the others.
    asio::co_spawn(
        state->executor,
        answer_datagram(state, std::vector(buffer.begin(), buffer.begin() + size), client),
        asio::detached);
  }
}

// One length-prefixed message; nullopt on EOF or error. At most 65535 bytes by construction.
asio::awaitable<std::optional<std::vector<std::uint8_t>>> read_tcp_message(tcp::socket& socket) {
  std::array<std::uint8_t, 2> prefix{};
  auto [prefix_error, prefix_size] =
      co_await asio::async_read(socket, asio::buffer(prefix), use_tuple);
  if (prefix_error) co_return std::nullopt;
  const std::size_t length = (std::size_t{prefix[0]} << 8) | prefix[1];
  if (length == 0) co_return std::nullopt;
  std::vector<std::uint8_t> message(length);
  auto [error, size] = co_await asio::async_read(socket, asio::buffer(message), use_tuple);
  if (error) co_return std::nullopt;
  co_return message;
}

asio::awaitable<bool> write_tcp_message(tcp::socket& socket,
                                        const std::vector<std::uint8_t>& message) {
  const std::array<std::uint8_t, 2> prefix{static_cast<std::uint8_t>(message.size() >> 8),
                                           static_cast<std::uint8_t>(message.size() & 0xFF)};
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(prefix), asio::buffer(message)};
  auto [error, size] = co_await asio::async_write(socket, buffers, use_tuple);
  co_return !error;
}

asio::awaitable<void> serve_tcp_connection(std::shared_ptr<State> state, tcp::socket socket) {
  while (state->running) {
    // Every wait is bounded: by the idle timeout and by stop().
    auto read = co_await (read_tcp_message(socket) ||
                          sleep_unless_stopped(state, state->options.tcp_idle_timeout));
    if (read.index() != 0 || !std::get<0>(read)) co_return;
    const std::vector<std::uint8_t> query = std::move(*std::get<0>(read));
    ++state->stats.tcp_queries;
    if (state->options.silent) continue;
    if (state->options.delay.count() > 0) {
      co_await sleep_unless_stopped(state, state->options.delay);
    }
    if (!state->running) co_return;
    for (const auto& reply : state->replies(query, /*over_udp=*/false)) {
      auto written = co_await (write_tcp_message(socket, reply.message) ||
                               sleep_unless_stopped(state, state->options.tcp_idle_timeout));
      if (written.index() != 0 || !std::get<0>(written)) co_return;
    }
  }
}

asio::awaitable<void> serve_tcp(std::shared_ptr<State> state) {
  while (state->running) {
    auto [error, socket] = co_await state->acceptor.async_accept(use_tuple);
    if (error) {
      if (!state->running || error == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: back off instead of spinning.
      co_await sleep_unless_stopped(state, std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(state->executor, serve_tcp_connection(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

// ---- ZoneServer ---------------------------------------------------------------------------------

ZoneServer::ZoneServer(asio::any_io_executor executor, asio::ip::address listen_address,
                       std::uint16_t port, std::string zone_text, ZoneServerOptions options)
    : state_(std::make_shared<State>(std::move(executor), listen_address, port,
                                     std::move(zone_text))) {
  state_->set_options(std::move(options));
}

ZoneServer::~ZoneServer() { stop(); }

void ZoneServer::start() {
  State& state = *state_;
  if (state.running) return;
  const bool any_port = state.requested_port == 0;
  for (int attempt = 1;; ++attempt) {
    // UDP first; with port 0 its free port is then tried for TCP as well (retrying when
    // some TCP socket already holds that number).
    udp::socket udp_socket(state.executor);
    udp_socket.open(udp::endpoint(state.listen_address, 0).protocol());
    udp_socket.bind(udp::endpoint(state.listen_address, state.requested_port));
    const std::uint16_t port = udp_socket.local_endpoint().port();
    // A scan sends bursts of queries before this coroutine runs again; a larger receive
    // buffer (best effort, the kernel caps it at rmem_max) saves them from being dropped.
    asio::error_code ignored;
    udp_socket.set_option(udp::socket::receive_buffer_size(udp_receive_buffer_bytes), ignored);

    tcp::acceptor acceptor(state.executor);
    const tcp::endpoint tcp_endpoint(state.listen_address, port);
    acceptor.open(tcp_endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    asio::error_code error;
    acceptor.bind(tcp_endpoint, error);
    if (error) {
      if (any_port && attempt < port_zero_bind_attempts) continue;
      throw std::system_error(
          error, "bind TCP " + endpoint_text(tcp_endpoint));
    }
    acceptor.listen();

    udp::socket other(state.executor);
    other.open(udp_socket.local_endpoint().protocol());
    other.bind(udp::endpoint(state.listen_address, 0));

    state.udp_socket = std::move(udp_socket);
    state.acceptor = std::move(acceptor);
    state.other_udp_socket = std::move(other);
    break;
  }
  state.running = true;
  state.stop_signal.expires_at(asio::steady_timer::time_point::max());
  asio::co_spawn(state.executor, serve_udp(state_), asio::detached);
  asio::co_spawn(state.executor, serve_tcp(state_), asio::detached);
}

void ZoneServer::stop() {
  State& state = *state_;
  state.running = false;
  asio::error_code ignored;
  state.udp_socket.close(ignored);
  state.other_udp_socket.close(ignored);
  state.acceptor.close(ignored);
  state.stop_signal.expires_at(asio::steady_timer::time_point::min());
}

asio::ip::udp::endpoint ZoneServer::endpoint() const {
  asio::error_code error;
  auto local = state_->udp_socket.local_endpoint(error);
  return error ? udp::endpoint(state_->listen_address, state_->requested_port) : local;
}

std::vector<std::string> ZoneServer::zones() const {
  std::vector<std::string> apexes;
  for (const auto& [apex, soa] : state_->zone.soa) apexes.push_back(apex);
  return apexes;
}

ZoneServerStats ZoneServer::stats() const { return state_->stats; }

void ZoneServer::set_options(ZoneServerOptions options) { state_->set_options(std::move(options)); }

std::vector<std::uint8_t> ZoneServer::answer(std::span<const std::uint8_t> query) const {
  const auto parsed = parse_query(query);
  if (!parsed) return {};
  return encode(*parsed, state_->resolve(*parsed), Variation{});
}

std::string ZoneServer::load_zone_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open zone file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read zone file " + path);
  return text.str();
}

}  // namespace mxtls::dns
