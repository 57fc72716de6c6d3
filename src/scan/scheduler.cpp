// Probe scheduling for bulk scans: see scheduler.hpp. Order of waiting matters: a probe first
// waits for its destination's per-IP slot and only then takes a global connection slot, so
// thousands of domains queued behind one provider never hold the slots other servers need.
#include "scan/scheduler.hpp"

#include "core/text.hpp"
#include "scan/probe_pack.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace mxtls::scan {

bool temporary_rejection(const ProbeResult& r) {
  if (r.status != Status::smtp_reject || !r.failed_phase) return false;
  switch (*r.failed_phase) {
    case Phase::greeting: return r.greeting_code / 100 == 4;
    case Phase::starttls: return r.starttls_code / 100 == 4;
    case Phase::ehlo: return r.error.starts_with("EHLO answered 4");
    default: return false;
  }
}

namespace {
constexpr const char* blocked_port_detail = "not probed: outbound SMTP looks blocked by this machine's network";
}

bool held_back_by_blocked_port(const ProbeResult& r) {
  return r.status == Status::internal && r.failed_phase == Phase::connect && r.error.rfind(blocked_port_detail, 0) == 0;
}

struct ProbeScheduler::Entry {
  explicit Entry(const asio::any_io_executor& ex) : result(ex) {}
  SharedValue<std::string> result;  // pack_probe() of the finished result: one allocation, kept
  std::list<const std::string*>::iterator lru_position;
  bool in_lru = false;
};

struct ProbeScheduler::AddressSlots {
  AddressSlots(const asio::any_io_executor& ex, std::size_t cap) : slots(ex, cap) {}
  Slots slots;
  std::size_t users = 0;  // probes holding or waiting for a slot; the entry goes at 0
};

ProbeScheduler::ProbeScheduler(asio::any_io_executor executor, SchedulerSettings settings, Prober prober,
                               const ExclusionList* exclude)
    : executor_(executor),
      settings_(settings),
      prober_(std::move(prober)),
      exclude_(exclude),
      connections_(executor, settings.concurrency),
      pacer_(settings.rate),
      watch_(settings.port25),
      verdict_made_(executor, asio::steady_timer::time_point::max()) {}

ProbeScheduler::~ProbeScheduler() {
  *alive_ = false;  // a stall check still sleeping must not touch this scheduler when it wakes
}

namespace {

std::string probe_key(const ProbeTarget& t) {
  return t.address.to_string() + "|" + std::to_string(t.port) + "|" + t.mx;
}

// A shared result filed under another domain: the facts are the server's, the domain and the
// MX preference are the asking domain's.
ProbeResult filed_under(ProbeResult result, const ProbeTarget& target) {
  result.domain = target.domain;
  result.preference = target.preference;
  return result;
}

bool is_ipv6(const asio::ip::address& a) {
  return a.is_v6() && !a.to_v6().is_v4_mapped();
}

ProbeResult held_back_result(const ProbeTarget& target, const std::string& evidence) {
  ProbeResult r = result_for(target);
  r.status = Status::internal;
  r.failed_phase = Phase::connect;
  r.error = std::string(blocked_port_detail) + " (" + evidence + ")";
  r.attempts = 0;
  return r;
}

ProbeResult excluded_result(const ProbeTarget& target, const std::string& rule) {
  ProbeResult r = result_for(target);
  r.status = Status::excluded;
  r.failed_phase = Phase::connect;
  r.error = "not contacted: excluded by " + rule;
  r.attempts = 0;
  return r;
}

}  // namespace

// Memory per connection matters at 10 000 connections: every ProbeResult a coroutine holds
// (local, promise, or temporary of a co_await) is a kilobyte of its frame. So the chain from
// here to run_probe passes one result by reference and no coroutine in it returns one.
asio::awaitable<void> ProbeScheduler::run(const ProbeTarget& target, ProbeResult& out) {
  if (exclude_ != nullptr) {
    auto rule = exclude_->match_address(target.address);
    if (!rule) rule = exclude_->match_domain(target.mx);
    if (rule) {
      ++counters_.excluded;
      out = excluded_result(target, *rule);
      co_return;
    }
  }
  const bool ipv6 = is_ipv6(target.address);
  if (settings_.watch_port25 && watch_.verdict(ipv6) == Port25Watch::Verdict::blocked) {
    out = held_back_result(target, watch_.evidence(ipv6, target.port));
    co_return;
  }
  auto [found, inserted] = probes_.try_emplace(probe_key(target));
  if (!inserted) {
    std::shared_ptr<Entry> entry = found->second;  // keeps it alive if evicted meanwhile
    if (entry->in_lru) lru_.splice(lru_.begin(), lru_, entry->lru_position);
    ++counters_.reused;
    co_await entry->result.wait();
    out = filed_under(unpack_probe(entry->result.value()), target);
    co_return;
  }
  // The key lives in the map node only: nodes stay put, and this one is not evicted before
  // remember() puts it in the LRU list, so the reference holds across the probe.
  const std::string& key = found->first;
  auto entry = std::make_shared<Entry>(executor_);
  found->second = entry;
  co_await probe_with_retries(target, out);
  if (settings_.watch_port25) co_await settle_port25(target, out);
  ++counters_.probes;
  entry->result.set(pack_probe(out));
  remember(key, entry);
}

asio::awaitable<ProbeResult> ProbeScheduler::run(ProbeTarget target) {
  ProbeResult result;
  co_await run(target, result);
  co_return result;
}

void ProbeScheduler::remember(const std::string& key, const std::shared_ptr<Entry>& entry) {
  lru_.push_front(&key);
  entry->lru_position = lru_.begin();
  entry->in_lru = true;
  while (lru_.size() > settings_.cache_entries) {
    // Found first, erased after: the key lives in the node being erased.
    if (const auto it = probes_.find(*lru_.back()); it != probes_.end()) {
      it->second->in_lru = false;
      probes_.erase(it);
    }
    lru_.pop_back();
  }
}

asio::awaitable<void> ProbeScheduler::settle_port25(const ProbeTarget& target, ProbeResult& result) {
  const auto outcome = connect_outcome(result);
  if (!outcome) co_return;
  const bool ipv6 = is_ipv6(target.address);
  Port25Holds& holds = holds_[ipv6 ? 1 : 0];
  holds.last_attempt = std::chrono::steady_clock::now();
  if (watch_.record(target.address, *outcome)) port25_decided(ipv6);
  if (*outcome == ConnectOutcome::connected) co_return;
  if (watch_.verdict(ipv6) == Port25Watch::Verdict::undecided) {
    ++counters_.held_for_port25;
    if (holds.waiting++ == 0) holds.first_hold = std::chrono::steady_clock::now();
    if (!stall_check_running_) {
      stall_check_running_ = true;
      asio::co_spawn(executor_, release_stalled_holds(alive_), asio::detached);
    }
    while (watch_.verdict(ipv6) == Port25Watch::Verdict::undecided) {
      auto [ec] = co_await verdict_made_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;  // cancel() is the wake-up call
    }
    --holds.waiting;
  }
  if (watch_.verdict(ipv6) == Port25Watch::Verdict::blocked) result = held_back_result(target, watch_.evidence(ipv6, target.port));
}

// A small list, or one whose first servers sit in few networks, may never complete the
// sample: when a family with waiting probes sees no new attempt for a while (or they have
// waited long enough), its verdict is "inconclusive" and they go on as they are.
asio::awaitable<void> ProbeScheduler::release_stalled_holds(std::shared_ptr<const bool> alive) {
  const auto tick = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(10), settings_.port25_stall / 10);
  asio::steady_timer timer(executor_);
  for (;;) {
    bool waiting = false;
    const auto now = std::chrono::steady_clock::now();
    for (int family = 0; family < 2; ++family) {
      const bool ipv6 = family == 1;
      const Port25Holds& holds = holds_[family];
      if (holds.waiting == 0 || watch_.verdict(ipv6) != Port25Watch::Verdict::undecided) continue;
      if (now - holds.last_attempt >= settings_.port25_stall || now - holds.first_hold >= settings_.port25_hold_limit) {
        watch_.give_up(ipv6);
        port25_decided(ipv6);
      } else {
        waiting = true;
      }
    }
    if (!waiting) break;
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
    if (!*alive) co_return;  // the scheduler is gone (its io_context outlived it)
  }
  stall_check_running_ = false;
}

void ProbeScheduler::port25_decided(bool ipv6) {
  verdict_made_.cancel();
  if (on_port25_verdict_) on_port25_verdict_(ipv6);
}

asio::awaitable<void> ProbeScheduler::pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(executor_, duration);
  auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  (void)ec;
}

// One coroutine for the whole life of a probe, slots and retries included: it is one frame
// per connection, held as long as the server keeps us waiting.
asio::awaitable<void> ProbeScheduler::probe_with_retries(const ProbeTarget& target, ProbeResult& out) {
  std::vector<std::string> earlier;
  const bool ipv6 = is_ipv6(target.address);
  for (int attempt = 1;; ++attempt) {
    // The machine, not the server, said no (EMFILE, ENFILE, EADDRNOTAVAIL): hold this connection
    // back until others have closed and try again, without counting it against the server.
    std::chrono::milliseconds local_pause{50}, waited{0};
    for (;;) {
      AddressSlots& destination = address_slots(target.address);
      ++destination.users;
      {
        co_await destination.slots.acquire();
        SlotLease address_lease(destination.slots);
        co_await connections_.acquire();
        SlotLease connection_lease(connections_);
        co_await pacer_.wait();
        if (settings_.watch_port25 && watch_.verdict(ipv6) == Port25Watch::Verdict::blocked) {
          // The verdict came while this one queued for its slots: no connection after "blocked".
          out = held_back_result(target, watch_.evidence(ipv6, target.port));
        } else {
          ++counters_.connections;
          try {
            co_await prober_(target, out);
          } catch (const std::exception& e) {  // run_probe does not throw; a custom prober might
            record_prober_exception(target, out, e);
          }
        }
      }
      release_address_slots(target.address, destination);
      if (!local_resources_exhausted(out) || waited >= settings_.local_wait_limit) break;
      ++counters_.local_waits;
      co_await pause(local_pause);
      waited += local_pause;
      local_pause = std::min<std::chrono::milliseconds>(local_pause * 2, std::chrono::milliseconds(2000));
    }
    if (!temporary_rejection(out) || attempt > settings_.retries) {
      out.attempts = held_back_by_blocked_port(out) ? 0 : attempt;
      out.earlier_attempts = std::move(earlier);
      co_return;
    }
    // Back off without holding any slot: the server asked us to come back later.
    earlier.push_back(out.started_at + " " + out.error);
    ++counters_.retries;
    co_await pause(settings_.retry_delay * (1 << std::min(attempt - 1, 10)));
  }
}

ProbeScheduler::AddressSlots& ProbeScheduler::address_slots(const asio::ip::address& address) {
  auto& slot_entry = per_address_[address];
  if (!slot_entry) slot_entry = std::make_unique<AddressSlots>(executor_, settings_.per_ip);
  return *slot_entry;  // stable: the map holds it by pointer
}

void ProbeScheduler::release_address_slots(const asio::ip::address& address, AddressSlots& destination) {
  if (--destination.users == 0 && destination.slots.idle()) per_address_.erase(address);
}

void ProbeScheduler::record_prober_exception(const ProbeTarget& target, ProbeResult& out, const std::exception& e) {
  out = result_for(target);
  out.status = Status::internal;
  out.error = e.what();
}

}  // namespace mxtls::scan
