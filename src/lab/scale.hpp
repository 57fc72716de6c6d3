// The scale lab: thousands of simulated MX hosts (one listening socket per 127.64.0.0/10
// address) serving a ScaleZone's personalities, with injected per-reply latency, and the zone's
// DNS server. Built for benchmarks and the 100 000-domain test, so a connection costs the
// server little: one coroutine, one small line buffer, TLS objects only after STARTTLS.
#pragma once

#include "lab/scale_zone.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace mxtls::lab {

struct ScaleFleetOptions {
  ScaleZoneSpec zone;
  asio::ip::address dns_address = asio::ip::make_address("127.53.0.53");
  std::uint16_t dns_port = 5353;   // 0: a free port
  bool start_dns = true;
  // Shared by every host. 0: the first host gets a free port from the kernel and every other
  // host binds the same number on its own address (for tests).
  std::uint16_t smtp_port = 2525;

  // Latency: every SMTP reply (banner included) waits lognormal(median, spread), keyed by
  // (seed, host, connection, reply) so a run is reproducible whatever the scheduling.
  std::chrono::microseconds delay_median{0};
  double delay_spread = 0.5;
  std::chrono::milliseconds slow_banner{5000};      // slow_banner: extra wait before the banner
  std::chrono::milliseconds drip_interval{1000};    // tarpit: one byte per interval
  std::size_t busy_rejects = 1;                     // busy: 421 to this many of every n+1 connections
  std::chrono::milliseconds idle_timeout{30000};    // waiting for one client line
  std::chrono::milliseconds session_timeout{120000};  // a whole connection, whatever happens
  std::size_t max_sessions = 16000;  // beyond it new connections are closed at once
};

struct ScaleCounters {
  std::uint64_t sessions = 0;       // accepted connections
  std::uint64_t active = 0;         // open now
  std::uint64_t peak_active = 0;
  std::uint64_t over_limit = 0;     // closed at once: max_sessions reached
  std::uint64_t busy_rejected = 0;  // 421 sent
  std::uint64_t tls_handshakes = 0;
  std::uint64_t tls_failures = 0;
  std::uint64_t quits = 0;
  std::uint64_t timeouts = 0;       // sessions ended by the idle or session deadline
  std::uint64_t mail_commands = 0;  // MAIL/RCPT/DATA/BDAT: a scanner must send none
  std::array<std::uint64_t, scale_personality_count> sessions_per_personality{};
};

class ScaleFleet {
 public:
  // Plans the zone and makes the lab CA and the two certificates (good and self-signed, both
  // ECDSA P-256 for *.mx.<apex>). Throws std::invalid_argument for a bad spec.
  ScaleFleet(asio::any_io_executor executor, ScaleFleetOptions options);
  ~ScaleFleet();  // stops
  ScaleFleet(const ScaleFleet&) = delete;
  ScaleFleet& operator=(const ScaleFleet&) = delete;

  // Raises RLIMIT_NOFILE to what the hosts and max_sessions need, parses the zone into the DNS
  // server, binds every listener and the DNS server. Throws std::runtime_error with a clear
  // reason (descriptor limit, address:port that cannot be bound); whatever started is stopped.
  void start();
  void stop();  // idempotent; call on the executor's thread

  const ScaleZone& zone() const;
  const ScaleFleetOptions& options() const;
  asio::ip::udp::endpoint dns_endpoint() const;  // valid after start
  std::uint16_t smtp_port() const;               // the bound port after start
  const std::string& ca_pem() const;
  ScaleCounters counters() const;
  std::chrono::milliseconds startup_time() const;  // how long start() took
  std::string describe() const;                    // one line for `mxtls lab --scale`

  struct State;  // defined in scale.cpp; shared with the serving coroutines

 private:
  std::shared_ptr<State> state_;
};

// Raises the soft (and, when allowed, the hard) descriptor limit to at least `needed`.
// Throws std::runtime_error saying what is needed and what the limit is when impossible.
void ensure_descriptor_limit(std::size_t needed);

}  // namespace mxtls::lab
