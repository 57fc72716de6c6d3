// The bulk scan engine behind `mxtls scan`: domains stream in from a reader thread, each is
// scanned by scan_domain() with its probes going through the shared ProbeScheduler, judged,
// and handed to the caller as soon as it is complete. At most `domains_in_flight` domains are
// held in memory at once, whatever the length of the list.
#pragma once

#include "core/result.hpp"
#include "scan/domain.hpp"
#include "scan/exclude.hpp"
#include "scan/input.hpp"
#include "scan/scheduler.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include <asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mxtls::dns {
class Resolver;
}
namespace mxtls::tls {
class ClientTlsContext;
}

namespace mxtls::scan {

struct BulkSettings {
  DomainScanSettings domain;
  SchedulerSettings scheduler;
  std::size_t domains_in_flight = 0;  // 0: twice the connection concurrency
  Shard shard;
};

struct BulkCounters {
  std::uint64_t lines = 0;            // input lines read so far
  std::uint64_t input_problems = 0;   // rejected lines
  std::uint64_t duplicates = 0;       // repeated domains dropped
  std::uint64_t other_shards = 0;     // domains left to other shards
  std::uint64_t already_done = 0;     // skipped by --resume
  std::uint64_t excluded = 0;         // domains on the exclusion list
  std::uint64_t started = 0;          // domains being scanned or done
  std::uint64_t finished = 0;         // domains handed to on_domain
  std::uint64_t in_flight = 0;
  std::uint64_t held_back = 0;        // not written: their probes met a blocked port 25 (--resume runs them)
  std::array<std::uint64_t, 16> probe_status{};  // finished probes by Status
};

struct BulkHooks {
  std::function<void(const DomainResult&)> on_domain;      // judged, complete
  std::function<void(const InputProblem&)> on_problem;     // a rejected input line
  std::function<bool(const std::string& ascii)> is_done;   // --resume: finished earlier
  // The scheduler's port-25 verdict for a family (ipv6 says which), as soon as it is made;
  // on "blocked" the scan has already stopped starting domains.
  std::function<void(bool ipv6, const Port25Watch& watch)> on_port25_verdict;
};

class BulkScan {
 public:
  BulkScan(asio::io_context& io, dns::Resolver& resolver, tls::ClientTlsContext& tls_context,
           const ExclusionList* exclude, BulkSettings settings, BulkHooks hooks);
  ~BulkScan();

  // Scans every domain `input` yields; returns when all are handed over or stop() was called
  // and the domains in flight have finished. `input` is read on a thread of its own, so a slow
  // pipe never stalls the probes' timers.
  asio::awaitable<void> run(std::unique_ptr<DomainListReader> input);

  // Start no further domains (SIGINT); the ones in flight finish.
  void stop();
  bool stopping() const { return stopping_; }
  // Why the scan stopped by itself (the output could not be written), or empty.
  const std::string& fatal_error() const { return fatal_error_; }

  const BulkCounters& counters() const { return counters_; }
  const ProbeScheduler& scheduler() const { return scheduler_; }

 private:
  // Starts scan_domain for one domain; its result lives on the heap, owned by the completion
  // handler, which delivers it and frees the domain's slot.
  void start_domain(InputDomain domain);
  void finish_domain(DomainResult& d);
  // On the --exclude list: d says so (and is counted), and nothing of it is resolved.
  bool mark_if_excluded(DomainResult& d);
  // A finished domain: judged and handed to on_domain, or held back (blocked port 25).
  void deliver(DomainResult& d);

  asio::io_context& io_;
  dns::Resolver& resolver_;
  const ExclusionList* exclude_;
  BulkSettings settings_;
  BulkHooks hooks_;
  ProbeScheduler scheduler_;
  Slots domain_slots_;
  BulkCounters counters_;
  bool stopping_ = false;
  std::string fatal_error_;
  asio::steady_timer all_finished_;  // cancelled when the last domain in flight finishes
  ProbeRunner scheduled_probe_;      // every domain's probes go through scheduler_
};

}  // namespace mxtls::scan
