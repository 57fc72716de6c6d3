// A misbehaving DNS server for the adversarial tests: raw UDP and TCP on 127.0.0.1 (port 0),
// answering each query with whatever bytes a test-supplied responder returns — wrong IDs,
// wrong questions, TC then a broken TCP answer, compression loops, huge RRsets, CNAME loops,
// and datagrams sent from a second socket on another loopback address (127.0.0.2).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::fakes {

// The question of a query as the fake read it (our resolver sends uncompressed names).
struct DnsQuestion {
  std::uint16_t id = 0;
  std::vector<std::uint8_t> qname_wire;  // the name exactly as sent, ending in the root label
  std::string name;                      // lower-case text, no trailing dot
  std::uint16_t type = 0;
  bool tcp = false;
};

// One resource record of an answer. An empty owner is the question name (written as a
// compression pointer to offset 12, as real servers do).
struct DnsRecord {
  std::string owner;
  std::uint16_t type = 0;
  std::vector<std::uint8_t> rdata;
  std::uint32_t ttl = 300;
};
DnsRecord mx_record(std::string owner, std::uint16_t preference, const std::string& host);
DnsRecord a_record(std::string owner, const std::string& ipv4);
DnsRecord cname_record(std::string owner, const std::string& target);

struct DnsAnswerOptions {
  std::uint16_t id_xor = 0;                 // non-zero: the answer carries a different ID
  std::optional<std::string> question_name;  // echo another question name
  bool truncated = false;                   // TC bit
  unsigned rcode = 0;
};
// A response to `question` carrying `answers` (QR, AA, RD, RA set).
std::vector<std::uint8_t> dns_answer(const DnsQuestion& question, const std::vector<DnsRecord>& answers,
                                     const DnsAnswerOptions& options = {});
// A response whose single answer record's owner name is a compression pointer to itself.
std::vector<std::uint8_t> dns_compression_loop_answer(const DnsQuestion& question);
// Two answer records whose owner names point at each other (label + pointer, twice).
std::vector<std::uint8_t> dns_mutual_pointer_answer(const DnsQuestion& question);

// What the fake does in answer to one query, in order.
struct DnsAction {
  enum class Kind {
    send,                     // UDP: one datagram; TCP: a 2-byte length prefix, then the bytes
    send_from_other_address,  // UDP only: the datagram leaves from the second socket (127.0.0.2)
    send_raw,                 // TCP only: the bytes as they are (a lying length prefix, half a message)
    close,                    // TCP only: hang up now
  };
  Kind kind = Kind::send;
  std::vector<std::uint8_t> bytes;
};
DnsAction send(std::vector<std::uint8_t> bytes);
DnsAction send_from_other_address(std::vector<std::uint8_t> bytes);
DnsAction send_raw(std::vector<std::uint8_t> bytes);
DnsAction close_connection();

// Returns the actions for one query; an empty list means silence (over TCP: the connection
// stays open, sending nothing, until the client gives up).
using DnsResponder = std::function<std::vector<DnsAction>(const DnsQuestion&)>;

struct HostileDnsStats {
  std::size_t udp_queries = 0;
  std::size_t tcp_queries = 0;
  std::size_t bytes_sent = 0;        // every byte the fake wrote, UDP and TCP
  std::size_t tcp_connections = 0;
  std::size_t tcp_client_closed = 0;  // TCP connections the client closed (EOF seen)
};

class HostileDns {
 public:
  // `tcp` answers queries over TCP; without it TCP queries get `udp`'s actions.
  HostileDns(asio::any_io_executor executor, DnsResponder udp, DnsResponder tcp = {},
             asio::ip::address other_address = asio::ip::make_address("127.0.0.2"));
  ~HostileDns();  // stops
  HostileDns(const HostileDns&) = delete;
  HostileDns& operator=(const HostileDns&) = delete;

  void start();  // binds UDP and TCP on one free port of 127.0.0.1; throws std::runtime_error
  void stop();   // closes every socket so the io_context can finish (call on its thread)

  asio::ip::udp::endpoint endpoint() const;
  HostileDnsStats stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mxtls::fakes
