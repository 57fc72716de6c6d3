// The blocked-port-25 verdict: see port25_watch.hpp. A family's verdict is final once made;
// only the first attempts of a scan are looked at, which is when the answer matters.
#include "scan/port25_watch.hpp"

#include <algorithm>

namespace mxtls::scan {
namespace {

// The network an address belongs to, as a sender's provider would allocate it: /24, /48.
std::string network_of(const asio::ip::address& address) {
  if (address.is_v6() && !address.to_v6().is_v4_mapped()) {
    const auto bytes = address.to_v6().to_bytes();
    return std::string(reinterpret_cast<const char*>(bytes.data()), 6);
  }
  const auto v4 = address.is_v4() ? address.to_v4() : asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  const auto bytes = v4.to_bytes();
  return std::string(reinterpret_cast<const char*>(bytes.data()), 3);
}

bool is_ipv6(const asio::ip::address& address) {
  return address.is_v6() && !address.to_v6().is_v4_mapped();
}

}  // namespace

const char* to_string(Port25Watch::Verdict verdict) {
  switch (verdict) {
    case Port25Watch::Verdict::undecided: return "undecided";
    case Port25Watch::Verdict::reachable: return "reachable";
    case Port25Watch::Verdict::blocked: return "blocked";
    case Port25Watch::Verdict::no_route: return "no-route";
    case Port25Watch::Verdict::inconclusive: return "inconclusive";
  }
  return "?";
}

Port25Watch::Verdict Port25Watch::decide(const Family& f) const {
  const std::size_t connected = f.count(ConnectOutcome::connected);
  const std::size_t failed = f.attempts - connected;
  if (connected == 0 && f.count(ConnectOutcome::local_firewall) >= settings_.firewall_sample &&
      f.firewall_networks.size() >= settings_.firewall_networks)
    return Verdict::blocked;
  // So many connections got through that no complete sample could show a block.
  const double bound = settings_.reachable_share * static_cast<double>(std::max(f.attempts, settings_.sample));
  if (static_cast<double>(connected) > bound) return Verdict::reachable;
  if (f.attempts < settings_.sample || f.networks.size() < settings_.networks) return Verdict::undecided;
  // "Network is unreachable" from connect() itself is the routing table, not a filter on
  // port 25: the machine has no route for this family at all (IPv6 on many hosts).
  if (f.count(ConnectOutcome::no_route) * 10 >= failed * 9) return Verdict::no_route;
  return Verdict::blocked;
}

bool Port25Watch::record(const asio::ip::address& to, ConnectOutcome outcome) {
  Family& f = families_[is_ipv6(to) ? 1 : 0];
  if (f.verdict != Verdict::undecided) return false;
  ++f.attempts;
  ++f.outcomes[static_cast<std::size_t>(outcome)];
  // Bounded: at most one entry per attempt, and attempts stop being recorded at the verdict
  // (or, for a list stuck in few networks, when give_up() settles it).
  const std::string network = network_of(to);
  f.networks.insert(network);
  f.network_count = f.networks.size();
  if (outcome == ConnectOutcome::local_firewall) f.firewall_networks.insert(network);
  f.verdict = decide(f);
  if (f.verdict == Verdict::undecided) return false;
  f.networks.clear();
  f.firewall_networks.clear();
  return true;
}

bool Port25Watch::give_up(bool ipv6) {
  Family& f = families_[ipv6 ? 1 : 0];
  if (f.verdict != Verdict::undecided) return false;
  f.verdict = Verdict::inconclusive;
  f.networks.clear();
  f.firewall_networks.clear();
  return true;
}

std::string Port25Watch::evidence(bool ipv6, std::uint16_t port) const {
  const Family& f = family(ipv6);
  std::string text = std::to_string(f.count(ConnectOutcome::connected)) + " of " + std::to_string(f.attempts) +
                     (f.attempts == 1 ? " connection" : " connections") + " to port " + std::to_string(port) + " in " +
                     std::to_string(f.network_count) + (f.network_count == 1 ? " network" : " networks") +
                     " got through";
  const std::pair<ConnectOutcome, const char*> kinds[] = {
      {ConnectOutcome::timed_out, "timed out"},
      {ConnectOutcome::refused, "refused"},
      {ConnectOutcome::host_unreachable, "host unreachable"},
      {ConnectOutcome::no_route, "no route (network unreachable)"},
      {ConnectOutcome::local_firewall, "refused by this machine's firewall (EPERM/EACCES)"},
  };
  std::string parts;
  for (const auto& [kind, words] : kinds) {
    if (f.count(kind) == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(f.count(kind)) + " " + words;
  }
  if (!parts.empty()) text += ": " + parts;
  return text;
}

}  // namespace mxtls::scan
