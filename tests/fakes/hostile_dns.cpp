// The hostile DNS fake: hand-built wire format (no ldns, so it can write what ldns would
// refuse: pointer loops, lying lengths), a UDP loop, a second UDP socket on another address
// and a TCP accept loop, all coroutines on the test's executor.
#include "fakes/hostile_dns.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <cctype>
#include <list>
#include <stdexcept>

namespace mxtls::fakes {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  put16(out, static_cast<std::uint16_t>(value >> 16));
  put16(out, static_cast<std::uint16_t>(value & 0xFFFF));
}

// "mx1.example.test" → 3mx17example4test0; the tests only use plain names.
std::vector<std::uint8_t> name_wire(const std::string& name) {
  std::vector<std::uint8_t> out;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::size_t length = std::min<std::size_t>(dot - start, 63);
    out.push_back(static_cast<std::uint8_t>(length));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(start + length));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

constexpr std::uint16_t class_in = 1;

// Header and question of a response to `question`.
std::vector<std::uint8_t> response_head(const DnsQuestion& question, std::uint16_t answer_count,
                                        const DnsAnswerOptions& options) {
  std::vector<std::uint8_t> out;
  put16(out, static_cast<std::uint16_t>(question.id ^ options.id_xor));
  std::uint16_t flags = 0x8000 | 0x0400 | 0x0100 | 0x0080;  // QR AA RD RA
  if (options.truncated) flags |= 0x0200;
  flags |= static_cast<std::uint16_t>(options.rcode & 0x0F);
  put16(out, flags);
  put16(out, 1);
  put16(out, answer_count);
  put16(out, 0);
  put16(out, 0);
  const auto qname = options.question_name ? name_wire(*options.question_name) : question.qname_wire;
  out.insert(out.end(), qname.begin(), qname.end());
  put16(out, question.type);
  put16(out, class_in);
  return out;
}

void put_record_tail(std::vector<std::uint8_t>& out, std::uint16_t type, std::uint32_t ttl,
                     const std::vector<std::uint8_t>& rdata) {
  put16(out, type);
  put16(out, class_in);
  put32(out, ttl);
  put16(out, static_cast<std::uint16_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
}

// Rdata that fits the asked type (the loop is in the owner name, not here).
std::vector<std::uint8_t> filler_rdata(std::uint16_t type) {
  if (type == 15) return {0, 10, 0};  // MX 10 "."
  if (type == 28) return std::vector<std::uint8_t>(16, 0);
  return {127, 0, 0, 9};
}

std::optional<DnsQuestion> parse_question(const std::uint8_t* data, std::size_t size, bool tcp) {
  if (size < 12) return std::nullopt;
  DnsQuestion q;
  q.tcp = tcp;
  q.id = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
  if ((data[2] & 0x80) != 0) return std::nullopt;  // a response, not a query
  if (((data[4] << 8) | data[5]) < 1) return std::nullopt;
  std::size_t pos = 12;
  for (;;) {
    if (pos >= size) return std::nullopt;
    const std::uint8_t length = data[pos];
    if (length == 0) {
      q.qname_wire.push_back(0);
      ++pos;
      break;
    }
    if (length > 63 || pos + 1 + length > size || q.qname_wire.size() + 1 + length > 255) return std::nullopt;
    q.qname_wire.insert(q.qname_wire.end(), data + pos, data + pos + 1 + length);
    if (!q.name.empty()) q.name += '.';
    for (std::size_t i = 0; i < length; ++i)
      q.name += static_cast<char>(std::tolower(static_cast<unsigned char>(data[pos + 1 + i])));
    pos += 1 + length;
  }
  if (pos + 4 > size) return std::nullopt;
  q.type = static_cast<std::uint16_t>((data[pos] << 8) | data[pos + 1]);
  return q;
}

}  // namespace

DnsRecord mx_record(std::string owner, std::uint16_t preference, const std::string& host) {
  DnsRecord r{std::move(owner), 15, {}};
  put16(r.rdata, preference);
  const auto name = name_wire(host);
  r.rdata.insert(r.rdata.end(), name.begin(), name.end());
  return r;
}

DnsRecord a_record(std::string owner, const std::string& ipv4) {
  const auto bytes = asio::ip::make_address_v4(ipv4).to_bytes();
  return DnsRecord{std::move(owner), 1, std::vector<std::uint8_t>(bytes.begin(), bytes.end())};
}

DnsRecord cname_record(std::string owner, const std::string& target) {
  return DnsRecord{std::move(owner), 5, name_wire(target)};
}

std::vector<std::uint8_t> dns_answer(const DnsQuestion& question, const std::vector<DnsRecord>& answers,
                                     const DnsAnswerOptions& options) {
  auto out = response_head(question, static_cast<std::uint16_t>(answers.size()), options);
  for (const auto& record : answers) {
    if (record.owner.empty()) {
      put16(out, 0xC00C);  // the question name
    } else {
      const auto owner = name_wire(record.owner);
      out.insert(out.end(), owner.begin(), owner.end());
    }
    put_record_tail(out, record.type, record.ttl, record.rdata);
  }
  return out;
}

std::vector<std::uint8_t> dns_compression_loop_answer(const DnsQuestion& question) {
  auto out = response_head(question, 1, {});
  const std::size_t here = out.size();
  put16(out, static_cast<std::uint16_t>(0xC000 | here));  // the owner name points at itself
  put_record_tail(out, question.type, 300, filler_rdata(question.type));
  return out;
}

std::vector<std::uint8_t> dns_mutual_pointer_answer(const DnsQuestion& question) {
  auto out = response_head(question, 2, {});
  const auto rdata = filler_rdata(question.type);
  const std::size_t first = out.size();
  const std::size_t second = first + 2 + 2 + 10 + rdata.size();
  out.push_back(1);
  out.push_back('a');
  put16(out, static_cast<std::uint16_t>(0xC000 | second));
  put_record_tail(out, question.type, 300, rdata);
  out.push_back(1);
  out.push_back('b');
  put16(out, static_cast<std::uint16_t>(0xC000 | first));
  put_record_tail(out, question.type, 300, rdata);
  return out;
}

DnsAction send(std::vector<std::uint8_t> bytes) { return {DnsAction::Kind::send, std::move(bytes)}; }
DnsAction send_from_other_address(std::vector<std::uint8_t> bytes) {
  return {DnsAction::Kind::send_from_other_address, std::move(bytes)};
}
DnsAction send_raw(std::vector<std::uint8_t> bytes) { return {DnsAction::Kind::send_raw, std::move(bytes)}; }
DnsAction close_connection() { return {DnsAction::Kind::close, {}}; }

struct HostileDns::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor ex, DnsResponder u, DnsResponder t, asio::ip::address other)
      : executor(std::move(ex)),
        udp_responder(std::move(u)),
        tcp_responder(std::move(t)),
        other_address(other),
        udp(executor),
        other_udp(executor),
        acceptor(executor) {}

  asio::any_io_executor executor;
  DnsResponder udp_responder;
  DnsResponder tcp_responder;
  asio::ip::address other_address;
  asio::ip::udp::socket udp;
  asio::ip::udp::socket other_udp;
  asio::ip::tcp::acceptor acceptor;
  asio::ip::udp::endpoint bound;
  std::list<std::shared_ptr<asio::ip::tcp::socket>> live;
  HostileDnsStats stats;
  bool stopped = false;

  asio::awaitable<void> udp_loop() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> buffer(65536);
    while (!stopped) {
      asio::ip::udp::endpoint sender;
      auto [ec, n] = co_await udp.async_receive_from(asio::buffer(buffer), sender, as_result);
      if (stopped || !udp.is_open()) co_return;
      if (ec) continue;
      const auto question = parse_question(buffer.data(), n, false);
      if (!question) continue;
      ++stats.udp_queries;
      const auto actions = udp_responder(*question);
      for (const auto& action : actions) {
        auto& socket = action.kind == DnsAction::Kind::send_from_other_address ? other_udp : udp;
        if (action.kind == DnsAction::Kind::close || action.kind == DnsAction::Kind::send_raw) continue;
        auto [send_error, sent] = co_await socket.async_send_to(asio::buffer(action.bytes), sender, as_result);
        if (!send_error) stats.bytes_sent += sent;
      }
    }
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(as_result);
      if (stopped || !acceptor.is_open()) co_return;
      if (ec) continue;
      ++stats.tcp_connections;
      auto shared = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      live.push_back(shared);
      asio::co_spawn(executor, tcp_session(shared), asio::detached);
    }
  }

  asio::awaitable<void> tcp_session(std::shared_ptr<asio::ip::tcp::socket> socket) {
    auto self = shared_from_this();
    std::vector<std::uint8_t> message;
    for (;;) {
      std::array<std::uint8_t, 2> prefix{};
      auto [prefix_error, got] = co_await asio::async_read(*socket, asio::buffer(prefix), as_result);
      if (prefix_error) {
        if (prefix_error == asio::error::eof || prefix_error == asio::error::connection_reset)
          ++stats.tcp_client_closed;
        break;
      }
      message.assign((std::size_t{prefix[0]} << 8) | prefix[1], 0);
      auto [read_error, read] = co_await asio::async_read(*socket, asio::buffer(message), as_result);
      if (read_error) break;
      const auto question = parse_question(message.data(), message.size(), true);
      if (!question) continue;
      ++stats.tcp_queries;
      const auto actions = tcp_responder ? tcp_responder(*question) : udp_responder(*question);
      bool closed = false;
      for (const auto& action : actions) {
        if (action.kind == DnsAction::Kind::close) {
          closed = true;
          break;
        }
        std::vector<std::uint8_t> bytes;
        if (action.kind != DnsAction::Kind::send_raw) put16(bytes, static_cast<std::uint16_t>(action.bytes.size()));
        bytes.insert(bytes.end(), action.bytes.begin(), action.bytes.end());
        auto [write_error, written] = co_await asio::async_write(*socket, asio::buffer(bytes), as_result);
        stats.bytes_sent += written;
        if (write_error) {
          closed = true;
          break;
        }
      }
      if (closed) break;
      // No actions: silence; the next read waits for another query or the client's close.
    }
    std::error_code ignored;
    socket->close(ignored);
    live.remove(socket);
  }
};

HostileDns::HostileDns(asio::any_io_executor executor, DnsResponder udp, DnsResponder tcp,
                       asio::ip::address other_address)
    : state_(std::make_shared<State>(std::move(executor), std::move(udp), std::move(tcp), other_address)) {}

HostileDns::~HostileDns() { stop(); }

void HostileDns::start() {
  State& st = *state_;
  const auto loopback = asio::ip::make_address("127.0.0.1");
  std::error_code ec;
  // UDP picks the port; TCP must get the same one, which another process may hold: retry.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::error_code ignored;
    st.udp.close(ignored);
    st.acceptor.close(ignored);
    ec.clear();
    st.udp.open(asio::ip::udp::v4(), ec);
    if (!ec) st.udp.bind({loopback, 0}, ec);
    if (!ec) st.bound = st.udp.local_endpoint(ec);
    if (ec) continue;
    st.acceptor.open(asio::ip::tcp::v4(), ec);
    if (!ec) st.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) st.acceptor.bind({loopback, st.bound.port()}, ec);
    if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
  }
  if (ec) throw std::runtime_error("hostile DNS fake: cannot bind 127.0.0.1: " + ec.message());
  st.other_udp.open(asio::ip::udp::v4(), ec);
  // Same port on the other address: only the source address is wrong.
  if (!ec) st.other_udp.bind({st.other_address, st.bound.port()}, ec);
  if (ec) {
    std::error_code ignored;
    st.other_udp.close(ignored);
    st.other_udp.open(asio::ip::udp::v4(), ignored);
    st.other_udp.bind({st.other_address, 0}, ec);
  }
  if (ec) throw std::runtime_error("hostile DNS fake: cannot bind " + st.other_address.to_string() + ": " + ec.message());
  asio::co_spawn(st.executor, st.udp_loop(), asio::detached);
  asio::co_spawn(st.executor, st.accept_loop(), asio::detached);
}

void HostileDns::stop() {
  State& st = *state_;
  st.stopped = true;
  std::error_code ignored;
  st.udp.close(ignored);
  st.other_udp.close(ignored);
  st.acceptor.close(ignored);
  for (auto& socket : st.live) socket->close(ignored);
}

asio::ip::udp::endpoint HostileDns::endpoint() const { return state_->bound; }
HostileDnsStats HostileDns::stats() const { return state_->stats; }

}  // namespace mxtls::fakes
