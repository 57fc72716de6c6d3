// Bulk scan engine: see bulk.hpp. Input is pumped by a thread into a small bounded queue;
// the io_context thread takes domains from it only when a domain slot is free, so memory is
// bounded by the concurrency and not by the list.
#include "scan/bulk.hpp"

#include "dns/resolver.hpp"
#include "report/verdict.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <memory>

namespace mxtls::scan {
namespace {

using Item = DomainListReader::Item;

// Runs a DomainListReader on its own thread; the scan takes items with next(). The thread
// owns the shared state, so a scan that stops early can leave it blocked on a silent pipe
// (detached) instead of hanging in join().
class InputPump {
 public:
  static constexpr std::size_t capacity = 4096;

  InputPump(asio::any_io_executor executor, std::unique_ptr<DomainListReader> reader)
      : wake_(std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max())),
        state_(std::make_shared<State>(executor, std::move(reader), wake_)) {
    std::thread([state = state_] { state->pump(); }).detach();
  }
  ~InputPump() {
    {
      std::lock_guard lock(state_->mutex);
      state_->closing = true;
    }
    state_->space.notify_all();
  }
  InputPump(const InputPump&) = delete;
  InputPump& operator=(const InputPump&) = delete;

  asio::awaitable<Item> next() {
    for (;;) {
      {
        std::lock_guard lock(state_->mutex);
        if (!state_->items.empty()) {
          Item item = std::move(state_->items.front());
          state_->items.pop_front();
          state_->space.notify_one();
          co_return item;
        }
        if (state_->finished) co_return Item{};
      }
      auto [ec] = co_await wake_->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      (void)ec;
    }
  }

  std::uint64_t lines() const { return state_->lines.load(); }
  std::uint64_t duplicates() const { return state_->duplicates.load(); }

 private:
  struct State {
    State(asio::any_io_executor ex, std::unique_ptr<DomainListReader> r, std::weak_ptr<asio::steady_timer> w)
        : executor(std::move(ex)), reader(std::move(r)), wake(std::move(w)) {}

    void pump() {
      for (;;) {
        Item item = reader->next();
        lines = reader->lines_read();
        duplicates = reader->duplicates();
        const bool end = item.kind == Item::Kind::end;
        {
          std::unique_lock lock(mutex);
          space.wait(lock, [&] { return items.size() < capacity || closing; });
          if (closing) return;
          if (end) finished = true;
          else items.push_back(std::move(item));
          // Wake the scan on its own thread (timers are not thread-safe). The handler holds the
          // timer weakly: once the pump is gone it does nothing, and no IO object outlives
          // the io_context through it.
          asio::post(executor, [timer = wake] {
            if (auto t = timer.lock()) t->cancel();
          });
        }
        if (end) return;
      }
    }

    asio::any_io_executor executor;
    std::unique_ptr<DomainListReader> reader;
    std::weak_ptr<asio::steady_timer> wake;
    std::mutex mutex;
    std::condition_variable space;
    std::deque<Item> items;
    bool finished = false;
    bool closing = false;
    std::atomic<std::uint64_t> lines{0}, duplicates{0};
  };
  std::shared_ptr<asio::steady_timer> wake_;
  std::shared_ptr<State> state_;
};

}  // namespace

BulkScan::BulkScan(asio::io_context& io, dns::Resolver& resolver, tls::ClientTlsContext& tls_context,
                   const ExclusionList* exclude, BulkSettings settings, BulkHooks hooks)
    : io_(io),
      resolver_(resolver),
      exclude_(exclude),
      settings_(std::move(settings)),
      hooks_(std::move(hooks)),
      scheduler_(
          io.get_executor(), settings_.scheduler,
          [this, &tls_context](const ProbeTarget& target, ProbeResult& out) {
            return run_probe(target, settings_.domain.probe, tls_context, out);
          },
          exclude),
      domain_slots_(io.get_executor(), settings_.domains_in_flight != 0 ? settings_.domains_in_flight
                                                                        : 2 * settings_.scheduler.concurrency),
      all_finished_(io.get_executor(), asio::steady_timer::time_point::max()),
      scheduled_probe_([this](const ProbeTarget& target, ProbeResult& out) { return scheduler_.run(target, out); }) {
  // As many domains resolve at once as the resolver has questions in flight: more would only
  // queue inside it, each holding its lookups' memory (a scan starts all its domain slots at
  // once).
  if (!settings_.domain.resolving)
    settings_.domain.resolving = std::make_shared<Slots>(io.get_executor(), resolver.config().max_queries_in_flight);
  // 500 handshakes in flight keep one core busy even at 300 ms round trips, and bound what a
  // burst of them holds (see ProbeSettings::handshakes).
  if (!settings_.domain.probe.handshakes)
    settings_.domain.probe.handshakes = std::make_shared<Slots>(io.get_executor(), 500);
  scheduler_.on_port25_verdict([this](bool ipv6) {
    // Everything from here on would fail at connect too: start no further domains.
    if (scheduler_.port25().verdict(ipv6) == Port25Watch::Verdict::blocked) stop();
    if (hooks_.on_port25_verdict) hooks_.on_port25_verdict(ipv6, scheduler_.port25());
  });
}

BulkScan::~BulkScan() = default;

void BulkScan::stop() {
  stopping_ = true;
}

asio::awaitable<void> BulkScan::run(std::unique_ptr<DomainListReader> input) {
  auto executor = io_.get_executor();
  InputPump pump(executor, std::move(input));
  while (!stopping_) {
    // Take a slot first: an item is only taken from the queue when it can start.
    co_await domain_slots_.acquire();
    if (stopping_) {
      domain_slots_.release();
      break;
    }
    Item item = co_await pump.next();
    counters_.lines = pump.lines();
    counters_.duplicates = pump.duplicates();
    if (item.kind == Item::Kind::end) {
      domain_slots_.release();
      break;
    }
    if (item.kind == Item::Kind::problem) {
      domain_slots_.release();
      ++counters_.input_problems;
      if (hooks_.on_problem) hooks_.on_problem(item.problem);
      continue;
    }
    const std::string& ascii = item.domain.ascii;
    if (!settings_.shard.contains(ascii)) {
      domain_slots_.release();
      ++counters_.other_shards;
      continue;
    }
    if (hooks_.is_done && hooks_.is_done(ascii)) {
      domain_slots_.release();
      ++counters_.already_done;
      continue;
    }
    ++counters_.started;
    ++counters_.in_flight;
    start_domain(std::move(item.domain));
  }
  counters_.lines = pump.lines();
  counters_.duplicates = pump.duplicates();
  while (counters_.in_flight > 0) {
    auto [ec] = co_await all_finished_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
  }
}

namespace {
void record_internal_error(DomainResult& d, const std::exception_ptr& error) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    // Not a std::exception: "unknown exception" is all there is to say.
  }
  DomainResult fresh;
  fresh.input = std::move(d.input);
  fresh.domain = std::move(d.domain);
  fresh.kind = DomainKind::dns_error;
  fresh.error = "internal error: " + what;
  d = std::move(fresh);
}
}  // namespace

bool BulkScan::mark_if_excluded(DomainResult& d) {
  const auto rule = exclude_ != nullptr ? exclude_->match_domain(d.domain) : std::nullopt;
  if (!rule) return false;
  ++counters_.excluded;
  d.kind = DomainKind::excluded;
  d.error = "not scanned: excluded by " + *rule;
  return true;
}

void BulkScan::start_domain(InputDomain input) {
  // Not a coroutine of our own around scan_domain: its frame would hold the DomainResult and
  // stay alive, one per domain in flight, as long as the domain's probes wait.
  auto d = std::make_unique<DomainResult>();
  d->input = std::move(input.input);
  d->domain = std::move(input.ascii);
  if (mark_if_excluded(*d)) {
    finish_domain(*d);
    return;
  }
  DomainResult& result = *d;  // stays put when the handler takes the pointer
  asio::co_spawn(io_.get_executor(), scan_domain(result, resolver_, settings_.domain, scheduled_probe_),
                 [this, d = std::move(d)](std::exception_ptr error) {
                   if (error) record_internal_error(*d, error);
                   finish_domain(*d);
                 });
}

void BulkScan::finish_domain(DomainResult& d) {
  deliver(d);
  domain_slots_.release();
  if (--counters_.in_flight == 0) all_finished_.cancel();
}

void BulkScan::deliver(DomainResult& d) {
  if (std::any_of(d.probes.begin(), d.probes.end(), held_back_by_blocked_port)) {
    // Its failures are this network's, not the servers': not written, so --resume (from a
    // network that lets port 25 out) scans it again.
    ++counters_.held_back;
    return;
  }
  report::judge_domain(d);
  for (const auto& p : d.probes) {
    const auto index = static_cast<std::size_t>(p.status);
    if (index < counters_.probe_status.size()) ++counters_.probe_status[index];
  }
  try {
    if (hooks_.on_domain) hooks_.on_domain(d);
  } catch (const std::exception& e) {
    // Output failed (disk full, …): no later result could be kept either. Stop cleanly; the
    // blocks already written stay whole, and --resume continues from them.
    if (fatal_error_.empty()) fatal_error_ = e.what();
    stop();
  }
  ++counters_.finished;
}

}  // namespace mxtls::scan
