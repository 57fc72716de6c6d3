// One probe: connect to (MX, IP, port), read the greeting, EHLO, STARTTLS, TLS handshake,
// judge the certificate, EHLO again, QUIT. Never MAIL, RCPT or DATA. Always returns a result.
#pragma once

#include "core/result.hpp"
#include "core/waiting.hpp"
#include "tls/dane.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace mxtls::tls {
class ClientTlsContext;
}

namespace mxtls::scan {

struct ProbeTarget {
  std::string domain;
  std::string mx;  // MX host name; SNI and the name the certificate must match
  int preference = 0;
  asio::ip::address address;
  std::uint16_t port = 25;
  // What DNS said about DANE for this MX host (resolve_addr's AD bit, resolve_tlsa's answer),
  // looked up once per MX host by the domain scan. nullopt: not looked at (dnssec_addr null).
  std::optional<tls::DaneLookup> dane;
  std::int64_t tlsa_lookup_ms = -1;  // the resolve_tlsa phase's duration, when it ran
};

struct Timeouts {
  std::chrono::milliseconds connect{10'000};
  std::chrono::milliseconds greeting{30'000};
  std::chrono::milliseconds command{15'000};  // each EHLO/STARTTLS reply
  std::chrono::milliseconds handshake{15'000};
  std::chrono::milliseconds quit{3'000};
  std::chrono::milliseconds probe{90'000};  // the whole probe, whatever the phases say
};

struct ProbeSettings {
  std::string ehlo_name;  // what we call ourselves: truthful (the machine's FQDN by default)
  Timeouts timeouts;
  // TLS handshakes in progress at once (none: no limit). A handshake holds OpenSSL's record
  // buffers and its state, some 40 KB, until it ends, and one core completes only a thousand
  // or two a second: thousands started together would only queue for the CPU, holding that
  // memory. The wait counts against the handshake's deadline.
  std::shared_ptr<Slots> handshakes;
};

// The connection could not even be attempted for want of local resources: EMFILE/ENFILE (no
// descriptor), ENOBUFS, EADDRNOTAVAIL (no free local port). Says nothing about the server.
bool local_resources_exhausted(const ProbeResult& result);

// How a probe's TCP connection attempt ended, for telling a server's trouble from this
// machine's network (Port25Watch). `connected` covers every probe that got past connect.
enum class ConnectOutcome { connected, timed_out, refused, host_unreachable, no_route, local_firewall };
// nullopt when no connection was attempted (excluded, out of local resources, not probed).
std::optional<ConnectOutcome> connect_outcome(const ProbeResult& result);

// A result for `target` with its identity filled in (domain, MX, preference, address, port) and
// started now; every probe, and every probe that is never run (excluded), starts from one.
ProbeResult result_for(const ProbeTarget& target);

// Runs the probe into `out` (overwritten; `target` must outlive it). Bulk scans use this
// form: no coroutine in the chain holds a result of its own.
asio::awaitable<void> run_probe(const ProbeTarget& target, const ProbeSettings& settings,
                                tls::ClientTlsContext& tls_context, ProbeResult& out);
// The same, returned.
asio::awaitable<ProbeResult> run_probe(ProbeTarget target, const ProbeSettings& settings,
                                       tls::ClientTlsContext& tls_context);

}  // namespace mxtls::scan
