// `mxtls lab` in-process: a lab CA made at start, an authoritative DNS server for the lab
// zone, and one SMTP server per personality on its own 127.25.0.x address and a common port.
// Everything binds to loopback only; ports above 1024 so it runs without root.
#pragma once

#include "core/result.hpp"
#include "lab/builtin_zone.hpp"
#include "lab/smtp_server.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::lab {

// A domain of the built-in zone and the verdict a correct scanner gives it.
struct LabDomain {
  std::string domain;       // as a user would type it (the IDN one as a U-label)
  std::string description;  // what the domain is set up to show
  std::optional<GmailLock> expected_lock;  // nullopt: no mail can be delivered
  std::string expected;     // short text, e.g. "verified", "untrusted (self-signed)"
  std::optional<DaneState> expected_dane;          // of the first probe, when the domain shows DANE
  std::optional<MtaStsVerdict> expected_mta_sts;   // when the domain shows MTA-STS
};

// One lab server address and what runs there.
struct LabHost {
  Personality personality;
  asio::ip::address address;       // 127.25.0.x
  std::vector<std::string> names;  // zone names pointing here; the certificate names them
                                   // (except wrong_name's, which names mx.elsewhere.test)
  bool listening = true;           // false for refuse: nothing listens, connections are refused
};

struct FleetOptions {
  std::string zone_text;  // empty = the built-in zone (data/lab.zone)
  asio::ip::address dns_address = asio::ip::make_address("127.25.0.53");
  std::uint16_t dns_port = 5353;   // 0 = any free port
  std::uint16_t smtp_port = 2525;  // shared by every SMTP server; 0 = a free port picked at start
  bool start_smtp = true;
  bool start_dns = true;
  std::vector<std::string> signed_zones;  // zone apexes whose answers carry AD (see ZoneServer);
                                          // empty with the built-in zone: its DANE zones
  asio::ip::address https_address = asio::ip::make_address("127.25.0.30");  // MTA-STS policies
  std::uint16_t https_port = 8443;        // 0 = a free port; the policy server needs start_smtp
  std::chrono::milliseconds drip_interval{200};
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds session_timeout{120000};
};

// The built-in zone's domains with their expected results (the text: builtin_zone_text()).
const std::vector<LabDomain>& builtin_domains();
// The fixed 127.25.0.x address of each personality (refuse included: nothing listens there).
asio::ip::address personality_address(Personality);

class Fleet {
 public:
  // Makes the lab CA and every certificate (names from the zone's A records).
  Fleet(asio::any_io_executor executor, FleetOptions options);
  ~Fleet();  // stops
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Binds DNS and SMTP. Throws std::runtime_error naming address:port when a bind fails
  // (whatever was already started is stopped again); std::invalid_argument from the DNS
  // server when the zone text does not parse.
  void start();
  void stop();  // idempotent; call on the executor's thread

  asio::ip::udp::endpoint dns_endpoint() const;  // valid after start (port filled in)
  std::uint16_t smtp_port() const;               // the bound port after start
  std::uint16_t https_port() const;              // the MTA-STS policy server's port (0: not running)
  const std::string& ca_pem() const;             // trust this to get "verified"
  const std::vector<LabDomain>& domains() const; // built-in zone: builtin_domains(); custom: empty
  const std::vector<LabHost>& hosts() const;
  const SmtpServer* server(Personality) const;   // nullptr when not running
  SmtpCounters totals() const;                   // summed over every SMTP server
  std::string describe() const;                  // human summary for `mxtls lab`

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxtls::lab
