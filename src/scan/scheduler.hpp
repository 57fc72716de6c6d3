// The bulk scan's probe scheduler: one probe per (IP, port, MX name) per scan, shared by every
// domain that needs it; a global cap on open connections, a cap per destination IP, a global
// new-connection rate, back-off and bounded retries for servers that answer 4xx, and the
// exclusion list. Probes themselves are plain run_probe() calls.
#pragma once

#include "core/result.hpp"
#include "core/waiting.hpp"
#include "scan/exclude.hpp"
#include "scan/port25_watch.hpp"
#include "scan/probe.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <exception>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

namespace mxtls::scan {

struct SchedulerSettings {
  std::size_t concurrency = 100;  // open connections at once; suits a laptop on a home line
  std::size_t per_ip = 2;         // open connections to one destination address at once
  double rate = 0;                // new connections per second over the whole scan; 0: no limit
  int retries = 2;                // further tries after a 4xx answer
  std::chrono::milliseconds retry_delay{30'000};  // before the first retry; doubled each time
  // Out of descriptors or local ports (EMFILE, ENFILE, EADDRNOTAVAIL) is back-pressure: the
  // connection waits (from 50 ms, doubling up to 2 s) for others to close, at most this long.
  std::chrono::milliseconds local_wait_limit{120'000};
  // Finished probes kept for reuse by later domains (least recently used ones go first).
  // Bounds memory; a probe evicted and needed again is run again.
  std::size_t cache_entries = 20'000;
  // Watch the first connections for a local block of outbound port 25 (port25_watch.hpp): a
  // probe whose connection failed waits for the verdict before it is handed back, and once a
  // family is "blocked" nothing more of it is connected; such probes come back not probed
  // (held_back_by_blocked_port) so that a resumed scan runs them.
  bool watch_port25 = true;
  Port25Watch::Settings port25;
  // Failed connections stop waiting (verdict "inconclusive") when their family has seen no
  // new attempt for `port25_stall`, or after `port25_hold_limit` in all.
  std::chrono::milliseconds port25_stall{2'000};
  std::chrono::milliseconds port25_hold_limit{120'000};
};

struct SchedulerCounters {
  std::uint64_t connections = 0;  // connections opened (retries included)
  std::uint64_t probes = 0;       // distinct probes finished
  std::uint64_t reused = 0;       // probe results handed to a further domain
  std::uint64_t retries = 0;      // retries after a 4xx
  std::uint64_t excluded = 0;     // targets never contacted because of --exclude
  std::uint64_t local_waits = 0;  // connections put off because this machine ran out of descriptors or ports
  std::uint64_t held_for_port25 = 0;  // failed connections that waited for the port-25 verdict
};

// A 4xx from the server at greeting, EHLO or STARTTLS: "try again later" (RFC 5321 §4.2.1).
bool temporary_rejection(const ProbeResult& result);

// A probe not run, or whose failed connection is not kept, because this machine's network
// blocks outbound port 25: it says nothing about the server and must be run again later.
bool held_back_by_blocked_port(const ProbeResult& result);

class ProbeScheduler {
 public:
  // Runs one probe, writing its result into the second argument (run_probe does).
  using Prober = std::function<asio::awaitable<void>(const ProbeTarget&, ProbeResult&)>;

  ProbeScheduler(asio::any_io_executor executor, SchedulerSettings settings, Prober prober,
                 const ExclusionList* exclude = nullptr);
  ~ProbeScheduler();
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // The probe's result for this target, filed under target.domain with its preference: run
  // now, awaited from a probe already running, or copied from one finished earlier. Written
  // into `out`; `target` must stay alive until it is done.
  asio::awaitable<void> run(const ProbeTarget& target, ProbeResult& out);
  // The same, returned.
  asio::awaitable<ProbeResult> run(ProbeTarget target);

  const SchedulerCounters& counters() const { return counters_; }
  std::size_t open_connections() const { return connections_.in_use(); }
  std::size_t cached() const { return lru_.size(); }
  const Port25Watch& port25() const { return watch_; }
  // Called once per address family when its port-25 verdict is made (ipv6 says which).
  void on_port25_verdict(std::function<void(bool ipv6)> callback) { on_port25_verdict_ = std::move(callback); }

 private:
  struct Entry;
  struct AddressSlots;

  asio::awaitable<void> probe_with_retries(const ProbeTarget& target, ProbeResult& out);
  AddressSlots& address_slots(const asio::ip::address& address);
  void release_address_slots(const asio::ip::address& address, AddressSlots& destination);
  static void record_prober_exception(const ProbeTarget& target, ProbeResult& out, const std::exception& e);
  asio::awaitable<void> pause(std::chrono::milliseconds duration);
  void remember(const std::string& key, const std::shared_ptr<Entry>& entry);
  // Records the connection attempt; a failed one waits for its family's verdict, because only
  // the verdict tells a dead server from a blocked port: "blocked" turns it into a probe not
  // run (it is not kept, and --resume runs it), anything else leaves it as it is.
  asio::awaitable<void> settle_port25(const ProbeTarget& target, ProbeResult& result);
  asio::awaitable<void> release_stalled_holds(std::shared_ptr<const bool> alive);
  void port25_decided(bool ipv6);

  asio::any_io_executor executor_;
  SchedulerSettings settings_;
  Prober prober_;
  const ExclusionList* exclude_;
  Slots connections_;
  Pacer pacer_;
  std::unordered_map<asio::ip::address, std::unique_ptr<AddressSlots>> per_address_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> probes_;  // running and finished
  std::list<const std::string*> lru_;  // keys (in probes_) of finished probes, most recent first
  SchedulerCounters counters_;

  struct Port25Holds {
    std::size_t waiting = 0;  // failed connections waiting for this family's verdict
    std::chrono::steady_clock::time_point first_hold{}, last_attempt{};
  };
  Port25Watch watch_;
  std::array<Port25Holds, 2> holds_;  // IPv4, IPv6
  asio::steady_timer verdict_made_;   // cancelled at every verdict: wakes the held probes
  bool stall_check_running_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::function<void(bool)> on_port25_verdict_;
};

}  // namespace mxtls::scan
