// AlarmService: the alarms of one io_context in a binary min-heap by time, with one steady
// timer armed for the earliest. Each alarm knows its heap index, so moving or removing it is
// O(log n) and allocates nothing.
#include "core/alarm.hpp"

#include <asio/execution/context.hpp>
#include <asio/execution_context.hpp>
#include <asio/query.hpp>
#include <asio/steady_timer.hpp>

#include <optional>
#include <utility>
#include <vector>

namespace mxtls {

class AlarmService : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  using clock = Alarm::clock;

  explicit AlarmService(asio::execution_context& context) : asio::execution_context::service(context) {}

  // The timer is made with the first alarm's executor (the service has no executor of its own).
  void attach(const asio::any_io_executor& executor) {
    if (!timer_ && !shut_down_) timer_.emplace(executor);
  }

  void set(Alarm& alarm, clock::time_point when) {
    if (shut_down_) return;
    if (alarm.armed()) {
      heap_[alarm.heap_index_].when = when;
      restore(alarm.heap_index_);
    } else {
      heap_.push_back({when, &alarm});
      alarm.heap_index_ = heap_.size() - 1;
      sift_up(alarm.heap_index_);
    }
    // A later top only makes the timer wake early once; an earlier one must re-arm it.
    if (heap_.front().when < armed_for_) arm();
  }

  void remove(Alarm& alarm) {
    if (!alarm.armed()) return;
    const std::size_t index = alarm.heap_index_;
    alarm.heap_index_ = Alarm::not_queued;
    const std::size_t last = heap_.size() - 1;
    if (index != last) {
      heap_[index] = heap_[last];
      heap_[index].alarm->heap_index_ = index;
    }
    heap_.pop_back();
    if (index < heap_.size()) {
      restore(index);
      // The timer stays armed for the earlier time: waking once for nothing is cheaper than
      // re-arming it at every removal.
    } else if (heap_.empty() && armed_for_ != clock::time_point::max()) {
      // No alarm left: a wait in progress would keep io_context::run() from returning.
      armed_for_ = clock::time_point::max();
      timer_->cancel();
    }
  }

 private:
  struct Entry {
    clock::time_point when;
    Alarm* alarm;
  };

  void shutdown() override {
    // The io_context is going away: pending handlers are destroyed, not run. Alarms destroyed
    // after this point (in frames torn down with the context) find themselves unqueued.
    shut_down_ = true;
    for (Entry& entry : heap_) entry.alarm->heap_index_ = Alarm::not_queued;
    heap_.clear();
    timer_.reset();
  }

  void arm() {
    armed_for_ = heap_.front().when;
    timer_->expires_at(armed_for_);  // cancels the wait in progress, if any
    // Only the newest wait acts: an older one may already have completed (not cancellable) and
    // still be queued when the timer is re-armed.
    const std::uint64_t generation = ++wait_generation_;
    timer_->async_wait([this, generation](const std::error_code& ec) {
      if (ec || generation != wait_generation_) return;
      fire_due();
    });
  }

  void fire_due() {
    armed_for_ = clock::time_point::max();
    const auto now = clock::now();
    // A callback may set, move or cancel alarms (its own included): the top is read afresh.
    while (!heap_.empty() && heap_.front().when <= now) {
      Alarm& due = *heap_.front().alarm;
      remove(due);
      due.callback_(due.context_);
    }
    if (!heap_.empty() && heap_.front().when < armed_for_) arm();
  }

  void restore(std::size_t index) {
    if (index > 0 && heap_[index].when < heap_[(index - 1) / 2].when) sift_up(index);
    else sift_down(index);
  }

  void sift_up(std::size_t index) {
    Entry moving = heap_[index];
    while (index > 0) {
      const std::size_t parent = (index - 1) / 2;
      if (!(moving.when < heap_[parent].when)) break;
      place(index, heap_[parent]);
      index = parent;
    }
    place(index, moving);
  }

  void sift_down(std::size_t index) {
    Entry moving = heap_[index];
    const std::size_t size = heap_.size();
    for (;;) {
      std::size_t child = 2 * index + 1;
      if (child >= size) break;
      if (child + 1 < size && heap_[child + 1].when < heap_[child].when) ++child;
      if (!(heap_[child].when < moving.when)) break;
      place(index, heap_[child]);
      index = child;
    }
    place(index, moving);
  }

  void place(std::size_t index, const Entry& entry) {
    heap_[index] = entry;
    entry.alarm->heap_index_ = index;
  }

  std::vector<Entry> heap_;
  std::optional<asio::steady_timer> timer_;
  clock::time_point armed_for_ = clock::time_point::max();  // max: no wait in progress
  std::uint64_t wait_generation_ = 0;
  bool shut_down_ = false;
};

asio::execution_context::id AlarmService::id;

Alarm::Alarm(const asio::any_io_executor& executor, Callback callback, void* context)
    : service_(&asio::use_service<AlarmService>(asio::query(executor, asio::execution::context))),
      callback_(callback),
      context_(context) {
  service_->attach(executor);
}

Alarm::~Alarm() {
  service_->remove(*this);
}

void Alarm::set(clock::time_point when) {
  service_->set(*this, when);
}

void Alarm::cancel() {
  service_->remove(*this);
}

}  // namespace mxtls
