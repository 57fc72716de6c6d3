// Alarms on the io_context's shared heap: they fire in time order, each at most once per set,
// moved or cancelled ones do not fire at their old time, callbacks may set and cancel alarms,
// and once no alarm is armed io_context::run() returns (no wait is left behind).
#include "core/alarm.hpp"

#include <asio/io_context.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <vector>

using namespace mxtls;
using namespace std::chrono_literals;

namespace {

// An alarm that records, in one shared log, its number and when it fired.
struct Recorder {
  Recorder(asio::io_context& io, int number, std::vector<int>& log)
      : number(number), log(log), alarm(io.get_executor(), &Recorder::fired, this) {}
  static void fired(void* self) {
    auto& r = *static_cast<Recorder*>(self);
    r.log.push_back(r.number);
    r.at = Alarm::clock::now();
    ++r.times;
  }
  int number;
  std::vector<int>& log;
  Alarm alarm;
  Alarm::clock::time_point due{}, at{};
  int times = 0;
};

}  // namespace

TEST_SUITE("core") {

TEST_CASE("alarms fire once each, in time order, never before their time; moved and cancelled ones follow their last set") {
  asio::io_context io;
  std::vector<int> log;
  std::vector<std::unique_ptr<Recorder>> alarms;
  std::mt19937 random(7);
  const auto start = Alarm::clock::now();
  for (int i = 0; i < 500; ++i) {
    alarms.push_back(std::make_unique<Recorder>(io, i, log));
    Recorder& r = *alarms.back();
    r.due = start + std::chrono::milliseconds(random() % 200);
    r.alarm.set(r.due);
  }
  // Move a third of them (earlier and later), cancel every tenth, destroy a few outright.
  for (int i = 0; i < 500; i += 3) {
    Recorder& r = *alarms[static_cast<std::size_t>(i)];
    r.due = start + std::chrono::milliseconds(random() % 300);
    r.alarm.set(r.due);
  }
  std::vector<int> cancelled;
  for (int i = 0; i < 500; i += 10) {
    alarms[static_cast<std::size_t>(i)]->alarm.cancel();
    CHECK_FALSE(alarms[static_cast<std::size_t>(i)]->alarm.armed());
    cancelled.push_back(i);
  }
  for (int i = 5; i < 500; i += 50) alarms[static_cast<std::size_t>(i)].reset();

  io.run_for(10s);  // returns as soon as the last alarm has fired

  CHECK(Alarm::clock::now() - start < 10s);
  for (const auto& r : alarms) {
    if (!r) continue;
    const bool was_cancelled = std::find(cancelled.begin(), cancelled.end(), r->number) != cancelled.end();
    CHECK(r->times == (was_cancelled ? 0 : 1));
    if (r->times == 1) CHECK(r->at >= r->due);
  }
  CHECK(log.size() == 500 - cancelled.size() - 10);
  for (std::size_t k = 1; k < log.size(); ++k)
    CHECK(alarms[static_cast<std::size_t>(log[k - 1])]->due <= alarms[static_cast<std::size_t>(log[k])]->due);
}

TEST_CASE("an alarm's callback may re-arm itself and cancel others; a due alarm set to the past fires at once") {
  asio::io_context io;
  struct Chain {
    explicit Chain(asio::io_context& io) : alarm(io.get_executor(), &Chain::fired, this), victim(io.get_executor(), &Chain::never, this) {}
    static void fired(void* self) {
      auto& c = *static_cast<Chain*>(self);
      if (++c.count == 1) c.victim.cancel();
      if (c.count < 5) c.alarm.set(Alarm::clock::now() + 1ms);
    }
    static void never(void* self) { ++static_cast<Chain*>(self)->victim_fired; }
    int count = 0;
    int victim_fired = 0;
    Alarm alarm;
    Alarm victim;
  } chain(io);
  chain.victim.set(Alarm::clock::now() + 50ms);
  chain.alarm.set(Alarm::clock::now() - 1h);
  io.run_for(10s);
  CHECK(chain.count == 5);
  CHECK(chain.victim_fired == 0);
  CHECK_FALSE(chain.alarm.armed());
}

TEST_CASE("no alarm armed, nothing keeps io_context::run() going; an io_context torn down with alarms armed is clean") {
  asio::io_context io;
  std::vector<int> log;
  {
    Recorder far(io, 1, log);
    far.alarm.set(Alarm::clock::now() + 1h);
    asio::post(io, [] {});
    io.run_for(50ms);  // the alarm is work: run() keeps going until the time limit
    CHECK(log.empty());
  }  // destroyed armed: the shared timer's wait goes with the last alarm
  io.restart();
  const auto before = Alarm::clock::now();
  io.run_for(10s);
  CHECK(Alarm::clock::now() - before < 5s);

  // A coroutine suspended with an armed alarm in its frame when its io_context goes: the frame
  // is destroyed during the context's shutdown, before or after the alarm service's own. Under
  // ASan a dangling heap entry or a touched service would show here.
  for (int run = 0; run < 2; ++run) {
    auto doomed = std::make_unique<asio::io_context>();
    asio::co_spawn(
        *doomed,
        [&io = *doomed, &log]() -> asio::awaitable<void> {
          Recorder held(io, 3, log);
          held.alarm.set(Alarm::clock::now() + 1h);
          asio::steady_timer forever(io, 1h);
          co_await forever.async_wait(asio::use_awaitable);
        },
        asio::detached);
    if (run == 1) {
      Recorder first(*doomed, 4, log);  // the service is made before the coroutine's alarm
      doomed->run_for(10ms);
    } else {
      doomed->run_for(10ms);
    }
    doomed.reset();
  }
  CHECK(log.empty());
}

}  // TEST_SUITE
