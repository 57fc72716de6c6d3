// Alarms: a callback at a point in time, for thousands of connections at once. All alarms of
// an io_context share one timer and one heap (AlarmService), so setting or moving an alarm
// allocates nothing and queues no handler, where a timer per connection costs a pending
// operation per connection and a cancelled handler at every re-arm.
#pragma once

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <limits>

namespace mxtls {

class AlarmService;

// One alarm, set and moved as often as needed; its callback runs on the io_context's thread
// when the time passes, at most once per set(). Destroying it or cancel() disarms it for good,
// so the callback may refer to whatever lives as long as the alarm. Like any I/O object it
// must not outlive its io_context, which must run on one thread.
class Alarm {
 public:
  using clock = std::chrono::steady_clock;
  using Callback = void (*)(void* context);

  Alarm(const asio::any_io_executor& executor, Callback callback, void* context);
  ~Alarm();
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

  // Arms the alarm for `when` (in the past: as soon as the io_context gets to it), replacing
  // any earlier time.
  void set(clock::time_point when);
  void cancel();
  bool armed() const { return heap_index_ != not_queued; }

 private:
  friend class AlarmService;
  static constexpr std::size_t not_queued = std::numeric_limits<std::size_t>::max();

  AlarmService* service_;
  Callback callback_;
  void* context_;
  std::size_t heap_index_ = not_queued;  // kept by the service
};

}  // namespace mxtls
