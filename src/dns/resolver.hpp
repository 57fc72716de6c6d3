// Asynchronous stub resolver: ldns builds and parses DNS messages, Asio carries them.
// UDP with retries, TCP when truncated; random IDs and source ports; answers must match
// their question. Failures come back as an Answer outcome, never as an exception.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mxtls::dns {

namespace wire {
enum class RecordType : std::uint16_t;  // dns/wire.hpp
}

enum class Outcome {
  ok,        // NOERROR with records of the asked type (after CNAME chasing)
  nodata,    // NOERROR, name exists, no records of that type
  nxdomain,  // NXDOMAIN
  servfail,  // SERVFAIL (also: DNSSEC bogus at a validating resolver)
  refused,   // REFUSED / NOTIMP / FORMERR and other RCODEs
  timeout,   // no matching answer from any server within the attempts
  error,     // malformed answer, CNAME loop, local socket failure, …
};
const char* to_string(Outcome);

struct Answer {
  Outcome outcome = Outcome::error;
  bool authenticated = false;       // AD bit set on the (final) answer
  std::string detail;               // human text for anything not ok, e.g. "SERVFAIL from 127.0.0.53:53"
  std::vector<std::string> cnames;  // CNAME chain followed, in order (names without trailing dot)
  std::string canonical_name;       // final owner name (no trailing dot)
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // lower-case, no trailing dot; "" for the null MX target "."
};
struct MxAnswer : Answer {
  std::vector<MxRecord> records;  // sorted by preference, then host
};
struct AddressAnswer : Answer {
  std::vector<asio::ip::address> addresses;
};
struct TxtAnswer : Answer {
  std::vector<std::string> texts;  // character-strings of one TXT record concatenated
};
struct TlsaRecord {
  std::uint8_t usage = 0, selector = 0, matching_type = 0;
  std::vector<std::uint8_t> data;
};
struct TlsaAnswer : Answer {
  std::vector<TlsaRecord> records;
};

// Reverse (PTR) names of an address, without trailing dots.
struct PtrAnswer : Answer {
  std::vector<std::string> names;
};

// Connected UDP sockets a Resolver keeps open between queries, per server (reused, see resolver.cpp).
constexpr std::size_t max_idle_udp_sockets = 256;

struct ResolverConfig {
  std::vector<asio::ip::udp::endpoint> servers;  // tried in order
  std::chrono::milliseconds timeout{2000};       // per attempt
  int attempts = 3;                              // rounds over all servers
  bool request_dnssec = true;                    // set DO and AD in queries so the AD bit is returned
  // Answers kept for reuse (bulk scans: thousands of domains share MX hosts). 0: no cache.
  // Concurrent lookups of one name and type share one query. Failures are kept as well, so
  // a dead name server costs its timeout once per name, not once per domain.
  std::size_t cache_entries = 0;
  // Types whose answers are looked up afresh every time, bypassing the cache. A bulk scan asks
  // each domain's own MX and TXT once (its input has no duplicates): keeping those answers
  // would only hold memory; what domains share are their MX hosts' A, AAAA and TLSA.
  std::vector<wire::RecordType> uncached_types;
  // Questions on the network at once; more wait their turn. A bulk scan starts thousands of
  // domains together: without a bound each would hold a socket (until EMFILE) and a chain of
  // coroutine frames, and the resolver would flood its server.
  std::size_t max_queries_in_flight = 500;
};

struct CacheCounters {
  std::uint64_t queries = 0;  // lookups that went to the network
  std::uint64_t hits = 0;     // lookups answered from the cache or an identical lookup in flight
};

// Nameservers from a resolv.conf ("nameserver" lines, port 53); errors name file:line.
std::vector<asio::ip::udp::endpoint> servers_from_resolv_conf(const std::string& path,
                                                              std::vector<std::string>& errors);
// "IP", "IP:PORT", "[IPv6]:PORT" → endpoint; throws std::invalid_argument naming the input.
asio::ip::udp::endpoint parse_server(const std::string& text);

class Resolver {
 public:
  Resolver(asio::any_io_executor executor, ResolverConfig config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  asio::awaitable<MxAnswer> mx(std::string name);
  asio::awaitable<AddressAnswer> a(std::string name);
  asio::awaitable<AddressAnswer> aaaa(std::string name);
  asio::awaitable<TxtAnswer> txt(std::string name);
  asio::awaitable<TlsaAnswer> tlsa(std::string name);
  // PTR of in-addr.arpa / ip6.arpa for `address`: one UDP question per server and attempt,
  // under the configured timeout (no TCP fallback: a PTR answer fits in 512 bytes).
  asio::awaitable<PtrAnswer> ptr(asio::ip::address address);

  const ResolverConfig& config() const;
  const CacheCounters& cache_counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxtls::dns
