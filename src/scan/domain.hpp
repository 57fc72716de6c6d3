// Scanning one domain: its MX hosts (or the implicit MX), their addresses, one probe per
// (MX, address), all concurrent. The verdicts (Gmail lock, findings) are judged afterwards.
#pragma once

#include "core/result.hpp"
#include "scan/probe.hpp"

#include <asio/awaitable.hpp>

#include <functional>
#include <string>

namespace mxtls::dns {
class Resolver;
}

namespace mxtls::scan {

struct DomainScanSettings {
  ProbeSettings probe;
  std::uint16_t port = 25;
  bool ipv4 = true;
  bool ipv6 = true;
};

// How a probe is run: directly in `check`, through a shared scheduler in bulk scans.
using ProbeRunner = std::function<asio::awaitable<ProbeResult>(ProbeTarget)>;

asio::awaitable<DomainResult> scan_domain(std::string input, std::string ascii_domain, dns::Resolver& resolver,
                                          const DomainScanSettings& settings, ProbeRunner run_probe);

}  // namespace mxtls::scan
