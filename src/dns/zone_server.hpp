// A small authoritative DNS server over UDP and TCP, answering from zone-file text (read with
// ldns). It serves the built-in lab fleet and the tests; options inject the faults a stub
// resolver must survive (silence, spoofed IDs, wrong questions, truncation, other ports, delay).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mxtls::dns {

struct ZoneServerOptions {
  // Zone apexes (e.g. "secure.test") whose answers carry the AD bit when the query sets DO or
  // AD: the lab plays a validating resolver in front of signed zones, without real signatures.
  std::vector<std::string> signed_zones;

  // Fault injection. A "faulty" answer is one changed by wrong_id, wrong_question or
  // answer_from_other_port; with also_send_correct_answer the right one follows it.
  bool silent = false;                      // read every query, answer none (UDP and TCP)
  bool wrong_id = false;                    // answers carry a different ID
  bool wrong_question = false;              // answers echo a different question name
  bool answer_from_other_port = false;      // UDP answers are sent from another socket/port
  bool also_send_correct_answer = false;    // after a faulty answer, send the correct one too
  bool truncate_udp = false;                // UDP answers: header + question, TC set (force TCP)
  std::vector<std::string> servfail_names;  // queries for these exact names get SERVFAIL
  std::chrono::milliseconds delay{0};       // wait before each answer

  std::chrono::milliseconds tcp_idle_timeout{10000};  // close a quiet TCP connection
};

struct ZoneServerStats {
  std::uint64_t udp_queries = 0;
  std::uint64_t tcp_queries = 0;
};

// Runs as coroutines on the given executor; use it from that executor's thread (one
// io_context run by one thread, as mxtls does), and destroy it before that io_context. No wildcards and no delegations: every name
// is answered from the zone that contains it, and CNAMEs are followed within that zone only.
class ZoneServer {
 public:
  // Parses `zone_text` now (master-file syntax with $ORIGIN/$TTL; several zones may follow
  // each other, each starting with its SOA). Throws std::invalid_argument naming the line.
  ZoneServer(asio::any_io_executor executor, asio::ip::address listen_address, std::uint16_t port,
             std::string zone_text, ZoneServerOptions options = {});
  ~ZoneServer();  // stops
  ZoneServer(const ZoneServer&) = delete;
  ZoneServer& operator=(const ZoneServer&) = delete;

  // Binds UDP and TCP on the same port (port 0: a free one) and starts serving.
  // Throws std::system_error when the address cannot be bound.
  void start();
  // Closes the sockets and wakes every waiting coroutine so the io_context can finish.
  void stop();

  asio::ip::udp::endpoint endpoint() const;  // valid after start()
  std::vector<std::string> zones() const;    // zone apexes, sorted
  ZoneServerStats stats() const;
  void set_options(ZoneServerOptions options);  // takes effect for the next query

  // The answer to a wire-format query as this server would send it over TCP (no faults
  // applied); empty when it would not answer. For tests and the lab's self-checks.
  std::vector<std::uint8_t> answer(std::span<const std::uint8_t> query) const;

  static std::string load_zone_text(const std::string& path);  // throws std::runtime_error

  struct State;  // defined in zone_server.cpp; shared with the serving coroutines

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::dns
