// A two-direction session: a sending and a receiving coroutine run together until both are
// done (Asio's `&&`), with what the relay, the framed client and the datagram client share
// written once: the -i watchdog that ends both (idle_watch.hpp) and the linger after the
// sending side's end (-q). The directions tell the helper when they finish and ask it to stop
// the other one; what "stop" means (cancel stdin, the connection, stdout) each session says in
// the two callbacks it gives.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>

#include "idle_watch.hpp"

namespace sockcat {

// What ends each direction's waits at once: called by the helper (idle, linger's end, end())
// and through stop_sending()/stop_receiving() by the directions themselves.
struct TwoWayStops {
  std::function<void()> stop_sending;    // the sending direction: its source, its sends
  std::function<void()> stop_receiving;  // the receiving direction: its reads, its sink
  std::function<void()> on_idle = {};    // if set: told first when the idle watchdog ends the session
};

// One session's two directions and their shared watches. Lives as long as run() runs.
class TwoWay {
 public:
  // `idle_limit` (-i): no byte either way for that long ends both directions; none: no watchdog.
  TwoWay(const asio::any_io_executor& executor, std::optional<std::chrono::milliseconds> idle_limit,
         TwoWayStops stops);

  // Runs the coroutines `send()` and `receive()` make together until both have finished (each
  // is marked finished when it returns, if it did not say so earlier). With an idle limit, the
  // watchdog ends both (idle() then true) once no byte moved for that long; it stops when both
  // are done.
  template <typename Send, typename Receive>
  asio::awaitable<void> run(Send& send, Receive& receive) {
    using namespace asio::experimental::awaitable_operators;
    auto sending = [&]() -> asio::awaitable<void> {
      co_await send();
      sending_finished();
    };
    auto receiving = [&]() -> asio::awaitable<void> {
      co_await receive();
      receiving_finished();
    };
    if (!stamp()) {  // no -i: nothing to watch
      co_await (sending() && receiving());
      co_return;
    }
    auto both_then_stop_watch = [&]() -> asio::awaitable<void> {
      co_await (sending() && receiving());
      idle_.stop();
    };
    co_await (both_then_stop_watch() && watch_idle());
  }

  // Where the data path stamps the time bytes moved (for pump hooks); null without -i.
  std::chrono::steady_clock::time_point* stamp() { return idle_.stamp(); }

  // Stamps "bytes moved now" (does nothing without -i).
  void note_traffic() {
    if (auto* at = stamp()) *at = std::chrono::steady_clock::now();
  }

  // The sending direction has sent all it will.
  void sending_finished() { sending_over_ = true; }
  bool sending_over() const { return sending_over_; }

  // The receiving direction has received all it will: a linger in progress ends (false).
  void receiving_finished();
  bool receiving_over() const { return receiving_over_; }

  // Ends the waits of one direction (the session's own callback).
  void stop_sending() { stops_.stop_sending(); }
  void stop_receiving() { stops_.stop_receiving(); }

  // Ends the session: both directions, the linger and the idle watch. ended() is true from now.
  void end();
  bool ended() const { return ended_; }

  // From now on the idle limit no longer applies (the datagram client after stdin's end).
  void stop_idle_watch() { idle_.stop(); }

  // True when the watchdog ended the session.
  bool idle() const { return idle_ended_; }

  // For the sending direction after its source's end (-q): waits until `limit` has passed
  // since `*quiet_since` (re-read at each wake, so the receiving side may push it later), or
  // since this call when null. Then, unless receiving finished or the session ended first,
  // stops the receiving direction and returns true ("time is up"); otherwise returns false.
  asio::awaitable<bool> linger(std::chrono::milliseconds limit,
                               const std::chrono::steady_clock::time_point* quiet_since = nullptr);

 private:
  // Finishes once the idle limit passed (then ends the session) or the watch was stopped.
  asio::awaitable<void> watch_idle();

  TwoWayStops stops_;
  IdleWatch idle_;
  asio::steady_timer linger_timer_;
  bool sending_over_ = false;
  bool receiving_over_ = false;
  bool ended_ = false;
  bool idle_ended_ = false;
};

}  // namespace sockcat
