// Lab HTTPS policy server. Requests are read up to a bounded head (8 KiB) under a deadline,
// answered once and closed (Connection: close), as an MTA-STS fetcher expects.
#include "lab/policy_server.hpp"

#include "core/endpoint_text.hpp"
#include "core/text.hpp"
#include "tls/server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <stdexcept>

namespace mxtls::lab {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 404: return "Not Found";
    default: return "Status";
  }
}

std::string response_for(const std::vector<PolicyDocument>& documents, const std::string& host) {
  const PolicyDocument* doc = nullptr;
  for (const auto& d : documents)
    if (d.host == host) doc = &d;
  if (!doc) return "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n";
  std::string out = "HTTP/1.1 " + std::to_string(doc->status) + " " + reason(doc->status) + "\r\n";
  if (!doc->content_type.empty()) out += "Content-Type: " + doc->content_type + "\r\n";
  if (!doc->location.empty()) out += "Location: " + doc->location + "\r\n";
  out += "Connection: close\r\n";
  if (doc->chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    std::string_view body = doc->body;
    while (!body.empty()) {  // small chunks, so the fetcher's chunk parser is exercised
      const auto piece = body.substr(0, 17);
      char size[16];
      std::snprintf(size, sizeof size, "%zx", piece.size());
      out += std::string(size) + "\r\n" + std::string(piece) + "\r\n";
      body.remove_prefix(piece.size());
    }
    out += "0\r\n\r\n";
  } else {
    out += "Content-Length: " + std::to_string(doc->body.size()) + "\r\n\r\n" + doc->body;
  }
  return out;
}

}  // namespace

struct PolicyServer::State {
  State(asio::any_io_executor ex, asio::ip::tcp::endpoint ep, const tls::Credentials& creds,
        std::vector<PolicyDocument> docs, std::chrono::milliseconds timeout)
      : executor(std::move(ex)), endpoint(ep), context(creds), documents(std::move(docs)), io_timeout(timeout),
        acceptor(executor) {}
  asio::any_io_executor executor;
  asio::ip::tcp::endpoint endpoint;
  tls::ServerContext context;
  std::vector<PolicyDocument> documents;
  std::chrono::milliseconds io_timeout;
  asio::ip::tcp::acceptor acceptor;
  std::size_t requests = 0;
  bool stopped = false;
  std::vector<std::weak_ptr<asio::ip::tcp::socket>> sockets;
};

namespace {

asio::awaitable<void> serve(std::shared_ptr<PolicyServer::State> state, std::shared_ptr<asio::ip::tcp::socket> socket) {
  asio::steady_timer deadline(state->executor, state->io_timeout);
  tls::ServerStream stream(state->context, *socket);
  auto handshake = co_await (stream.handshake() || deadline.async_wait(as_result));
  if (handshake.index() != 0 || std::get<0>(handshake)) co_return;
  std::string request;
  std::array<char, 2048> buffer;
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    auto read = co_await (stream.read_some(asio::buffer(buffer)) || deadline.async_wait(as_result));
    if (read.index() != 0) co_return;
    const auto [ec, n] = std::get<0>(read);
    if (ec) co_return;
    request.append(buffer.data(), n);
  }
  std::string host;
  for (std::size_t pos = request.find("\r\n"); pos != std::string::npos && pos < request.size();) {
    const auto next = request.find("\r\n", pos + 2);
    const std::string line = request.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    if (ascii_lower(line.substr(0, 5)) == "host:") {
      host = ascii_lower(line.substr(5));
      host.erase(0, host.find_first_not_of(" \t"));
      host = host.substr(0, host.find(':'));
    }
    pos = next;
  }
  ++state->requests;
  const std::string response = response_for(state->documents, host);
  auto written = co_await (stream.write(asio::buffer(response)) || deadline.async_wait(as_result));
  (void)written;
  auto shut = co_await (stream.shutdown() || deadline.async_wait(as_result));
  (void)shut;
  std::error_code ignored;
  socket->close(ignored);
}

asio::awaitable<void> accept_loop(std::shared_ptr<PolicyServer::State> state) {
  while (!state->stopped) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(state->executor);
    auto [ec] = co_await state->acceptor.async_accept(*socket, as_result);
    if (state->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    std::erase_if(state->sockets, [](const auto& weak) { return weak.expired(); });
    state->sockets.push_back(socket);
    asio::co_spawn(state->executor, serve(state, socket), asio::detached);
  }
}

}  // namespace

PolicyServer::PolicyServer(asio::any_io_executor executor, asio::ip::tcp::endpoint endpoint, tls::Credentials credentials,
                           std::vector<PolicyDocument> documents, std::chrono::milliseconds io_timeout)
    : state_(std::make_shared<State>(std::move(executor), endpoint, credentials, std::move(documents), io_timeout)) {}

PolicyServer::~PolicyServer() { stop(); }

void PolicyServer::start() {
  std::error_code ec;
  auto& acceptor = state_->acceptor;
  acceptor.open(state_->endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(state_->endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("MTA-STS policy server: cannot listen on " + endpoint_text(state_->endpoint) + ": " +
                             ec.message());
  state_->endpoint = acceptor.local_endpoint();
  asio::co_spawn(state_->executor, accept_loop(state_), asio::detached);
}

void PolicyServer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  std::error_code ignored;
  state_->acceptor.close(ignored);
  for (auto& weak : state_->sockets)
    if (auto socket = weak.lock()) socket->close(ignored);
  state_->sockets.clear();
}

asio::ip::tcp::endpoint PolicyServer::endpoint() const { return state_->endpoint; }
std::size_t PolicyServer::requests() const { return state_->requests; }

}  // namespace mxtls::lab
