// Tells, from the first connections of a scan, whether this machine's network blocks outbound
// port 25 (home lines and cloud providers often do): nearly every attempt fails at connect —
// time-outs, refusals, a firewall — across many unrelated networks. Pure bookkeeping; the
// scheduler holds the failed probes until the verdict and stops the scan when it is "blocked".
#pragma once

#include "scan/probe.hpp"

#include <asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

namespace mxtls::scan {

class Port25Watch {
 public:
  struct Settings {
    // A verdict needs this many connection attempts to at least `networks` distinct networks
    // (/24 for IPv4, /48 for IPv6): a list whose first domains all sit at one dead provider
    // must not look like a blocked port.
    std::size_t sample = 16;
    std::size_t networks = 8;
    // Blocked when at most this share of the sample got a TCP connection. A working network
    // reaches far more than 10% of real MX hosts (most answer on port 25).
    double reachable_share = 0.1;
    // connect() failing with EPERM/EACCES is this machine's own firewall speaking: certain
    // after a few attempts to a couple of networks.
    std::size_t firewall_sample = 4;
    std::size_t firewall_networks = 2;
  };

  enum class Verdict {
    undecided,
    reachable,     // port 25 works from here
    blocked,       // the local network blocks outbound port 25
    no_route,      // this machine has no route for the address family (typically no IPv6)
    inconclusive,  // the scan ended or stalled before the sample was complete
  };

  Port25Watch() = default;
  explicit Port25Watch(Settings settings) : settings_(settings) {}

  // Records one connection attempt; true when it decided its address family's verdict.
  // Attempts after the verdict are not recorded (the sample, and its memory, stay bounded).
  bool record(const asio::ip::address& to, ConnectOutcome outcome);
  // No further attempts of that family will come for now (the scan ended or stalled): an
  // undecided verdict becomes inconclusive. True when the verdict changed.
  bool give_up(bool ipv6);

  Verdict verdict(bool ipv6) const { return family(ipv6).verdict; }
  bool any_blocked() const { return verdict(false) == Verdict::blocked || verdict(true) == Verdict::blocked; }
  // What the sample of that family showed, for a person: "0 of 16 connections to port 25 in
  // 12 networks got through: 14 timed out, 2 refused".
  std::string evidence(bool ipv6, std::uint16_t port = 25) const;
  // Attempts recorded and connections made in that family (for the closing line).
  std::size_t attempts(bool ipv6) const { return family(ipv6).attempts; }
  std::size_t connected(bool ipv6) const { return family(ipv6).count(ConnectOutcome::connected); }
  std::size_t count(bool ipv6, ConnectOutcome outcome) const { return family(ipv6).count(outcome); }

 private:
  struct Family {
    Verdict verdict = Verdict::undecided;
    std::size_t attempts = 0;
    std::array<std::size_t, 6> outcomes{};
    std::set<std::string> networks;           // all networks of the sample
    std::set<std::string> firewall_networks;  // those that answered EPERM/EACCES
    std::size_t network_count = 0;            // networks.size(), kept after the verdict
    std::size_t count(ConnectOutcome o) const { return outcomes[static_cast<std::size_t>(o)]; }
  };
  const Family& family(bool ipv6) const { return families_[ipv6 ? 1 : 0]; }
  Verdict decide(const Family& f) const;

  Settings settings_;
  std::array<Family, 2> families_;
};

const char* to_string(Port25Watch::Verdict verdict);

}  // namespace mxtls::scan
