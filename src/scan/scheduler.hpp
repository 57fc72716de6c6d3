// The bulk scan's probe scheduler: one probe per (IP, port, MX name) per scan, shared by every
// domain that needs it; a global cap on open connections, a cap per destination IP, a global
// new-connection rate, back-off and bounded retries for servers that answer 4xx, and the
// exclusion list. Probes themselves are plain run_probe() calls.
#pragma once

#include "core/result.hpp"
#include "core/waiting.hpp"
#include "scan/exclude.hpp"
#include "scan/probe.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

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
};

struct SchedulerCounters {
  std::uint64_t connections = 0;  // connections opened (retries included)
  std::uint64_t probes = 0;       // distinct probes finished
  std::uint64_t reused = 0;       // probe results handed to a further domain
  std::uint64_t retries = 0;      // retries after a 4xx
  std::uint64_t excluded = 0;     // targets never contacted because of --exclude
  std::uint64_t local_waits = 0;  // connections put off because this machine ran out of descriptors or ports
};

// A 4xx from the server at greeting, EHLO or STARTTLS: "try again later" (RFC 5321 §4.2.1).
bool temporary_rejection(const ProbeResult& result);

class ProbeScheduler {
 public:
  using Prober = std::function<asio::awaitable<ProbeResult>(ProbeTarget)>;

  ProbeScheduler(asio::any_io_executor executor, SchedulerSettings settings, Prober prober,
                 const ExclusionList* exclude = nullptr);
  ~ProbeScheduler();
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // The probe's result for this target, filed under target.domain with its preference: run
  // now, awaited from a probe already running, or copied from one finished earlier.
  asio::awaitable<ProbeResult> run(ProbeTarget target);

  const SchedulerCounters& counters() const { return counters_; }
  std::size_t open_connections() const { return connections_.in_use(); }
  std::size_t cached() const { return lru_.size(); }

 private:
  struct Entry;
  struct AddressSlots;

  asio::awaitable<ProbeResult> probe_with_retries(const ProbeTarget& target);
  asio::awaitable<ProbeResult> probe_once(const ProbeTarget& target);
  asio::awaitable<ProbeResult> probe_when_resources_allow(const ProbeTarget& target);
  void remember(const std::string& key, const std::shared_ptr<Entry>& entry);

  asio::any_io_executor executor_;
  SchedulerSettings settings_;
  Prober prober_;
  const ExclusionList* exclude_;
  Slots connections_;
  Pacer pacer_;
  std::unordered_map<std::string, std::unique_ptr<AddressSlots>> per_address_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> probes_;  // running and finished
  std::list<std::string> lru_;                                      // finished, most recent first
  SchedulerCounters counters_;
};

}  // namespace mxtls::scan
