// The relay: bytes both ways at once between a connection and a local source/sink (stdin and
// stdout), one pump (pump.hpp) per direction, generic over the stream types so tests drive it
// with socket pairs.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/this_coro.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <tuple>

#include "pump.hpp"
#include "socket_state.hpp"
#include "two_way.hpp"
#include "transport/connection.hpp"
#include "with_error.hpp"

namespace sockcat {

// How a relay ended, one result per direction.
struct RelayResult {
  PumpResult sent;      // local source -> connection
  PumpResult received;  // connection -> local sink
  bool peer_closed_first = false;  // the peer's EOF came while we were still sending
  bool quit = false;               // ended by RelayOptions::quit_after
  bool source_idle = false;        // ended after the peer's EOF because the source went idle
  bool idle = false;               // ended by RelayOptions::idle_timeout
};

// When the relay stops sending because the peer has stopped.
enum class PeerEofPolicy {
  keep_sending,  // the peer may only have half-closed: send the rest of the source
  stop_sending,  // the peer's EOF ends the session (an interactive source has nothing queued)
  until_source_idle,  // send what the source still delivers; a source that delivers nothing
                      // for RelayOptions::source_idle_limit after the peer's EOF ends it
};

// After the peer's EOF under PeerEofPolicy::until_source_idle, how long a source may deliver
// nothing before the session ends: longer than the pauses of a producer that is still
// answering, shorter than anyone waits for a listener whose client has gone.
inline constexpr std::chrono::milliseconds default_source_idle_limit{500};

// How a relay behaves at the ends of its streams, and what watches it.
struct RelayOptions {
  bool half_close = true;                                // shut down our sending side at source EOF
  PeerEofPolicy on_peer_eof = PeerEofPolicy::keep_sending;
  std::optional<std::chrono::milliseconds> quit_after;   // after source EOF, end the relay this soon
  bool read_source = true;     // false (--recv-only): never read the source, never half-close
  RelayTap* tap = nullptr;     // counts (and logs) both directions
  SendShaper* shaper = nullptr;  // -C / -d on the sending direction
  std::chrono::milliseconds source_idle_limit = default_source_idle_limit;  // see until_source_idle
  std::optional<std::chrono::milliseconds> idle_timeout{};  // -i: end the relay once no byte moved for this long
  bool copy_threads = false;  // may move each direction on a thread of its own (see copy_threads_fit)
};

// Whether a relay moves its directions on copy threads (copy_thread.hpp): allowed by
// `options`, nothing that must see the bytes or the time (tap, shaper, -i), and a connection
// with a kernel socket. Each direction then uses blocking calls on its own thread, zero-copy
// where the descriptors allow it.
template <typename Source, typename Sink>
bool copy_threads_fit(const Connection& connection, Source&, Sink& sink, const RelayOptions& options) {
  if (!options.copy_threads || options.tap || options.shaper || options.idle_timeout) return false;
  return connection.descriptor() != -1 && descriptor_of(sink) != -1;
}

// Finishes once the pump that `waits` watches has been in one wait for its source for at least
// `limit` (seen at ticks of a quarter of it, so by `limit` and a quarter at most); cancel it to
// stop watching.
inline asio::awaitable<void> wait_for_idle_source(const SourceWaits& waits, std::chrono::milliseconds limit) {
  const auto tick = std::max(limit / 4, std::chrono::milliseconds(1));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::optional<std::uint64_t> watched;  // the wait seen at the last tick, if any
  std::chrono::steady_clock::time_point seen_since;
  for (;;) {
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(with_error);
    if (ec) co_return;  // cancelled: the caller has stopped waiting
    auto now = std::chrono::steady_clock::now();
    if (!waits.waiting.load()) {
      watched.reset();
    } else if (watched != waits.begun.load()) {  // a new wait: it began after the last tick at the latest
      watched = waits.begun.load();
      seen_since = now;
    } else if (now - seen_since >= limit) {
      co_return;
    }
  }
}

// Runs both directions until each is done. Connection -> sink ends at the peer's EOF or an
// error on either side. Source -> connection ends at the source's EOF (then, if `half_close`,
// the connection's sending side is shut down), on a failed send (the peer is gone), when the
// other direction failed, or at the peer's EOF under PeerEofPolicy::stop_sending (under
// until_source_idle, once the source then delivers nothing for `source_idle_limit`: nothing it
// had delivered is dropped, and `source_idle` is set). The sink is closed at the peer's clean
// EOF when sending goes on, so that its reader sees the end at once.
// With `quit_after`, the relay ends that long after the source's EOF even if the peer goes on
// (received.read_error is then operation_aborted and `quit` is set). Without `read_source`
// nothing is sent and the relay ends with the receiving direction.
// With `idle_timeout`, one watchdog timer ends the relay (both directions cancelled, `idle`
// set) once no byte has moved either way for that long; the pumps only stamp the time.
// The join, the watchdog and the -q linger are TwoWay's (two_way.hpp). When copy_threads_fit,
// each direction moves on a CopyThread with blocking calls; the policies above stay here.
template <typename Source, typename Sink>
asio::awaitable<RelayResult> relay(Connection& connection, Source& source, Sink& sink, RelayOptions options) {
  using namespace asio::experimental::awaitable_operators;
  RelayResult result;
  bool stop_sending = false;    // read by the pump between steps; mid-step the cancels end it
  bool stop_receiving = false;  // set only when -q's time is up or -i's limit passed
  auto up_buffer = std::make_unique<std::array<char, relay_buffer_size>>();
  auto down_buffer = std::make_unique<std::array<char, relay_buffer_size>>();
  bool watching_for_reset = false;
  const bool watch_source = options.on_peer_eof == PeerEofPolicy::until_source_idle;
  SourceWaits source_waits;
  std::error_code ignored;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::optional<CopyThread> up_thread, down_thread;
  if (copy_threads_fit(connection, source, sink, options)) {
    up_thread.emplace(executor);
    down_thread.emplace(executor);
  }
  // (Named, not a temporary in a statement with co_await: g++ 12 would destroy it twice.)
  TwoWayStops stops{[&] {
                      stop_sending = true;
                      if (options.shaper) options.shaper->cancel();
                      if (up_thread) up_thread->stop();
                      source.cancel(ignored);
                      connection.cancel();
                    },
                    [&] {
                      stop_receiving = true;
                      if (down_thread) down_thread->stop();
                      connection.cancel();
                      sink.cancel(ignored);
                    }};
  TwoWay two_way(executor, options.idle_timeout, std::move(stops));

  auto send = [&]() -> asio::awaitable<void> {
    if (!options.read_source) {
      two_way.sending_finished();
      co_return;
    }
    PumpHooks hooks{options.tap, Direction::sent, options.shaper, watch_source ? &source_waits : nullptr,
                    two_way.stamp(), up_thread ? &*up_thread : nullptr};
    result.sent = co_await pump(source, connection, *up_buffer, &stop_sending, hooks);
    const bool source_ended = result.sent.read_error == asio::error::eof;
    // Ending our side is a send too (TLS: the close_notify): a peer that reset meanwhile fails it.
    if (source_ended && !result.sent.write_error && options.half_close) {
      std::error_code ended = co_await end_sending(connection);
      if (ended && ended != asio::error::operation_aborted) result.sent.write_error = ended;
    }
    two_way.sending_finished();
    if (watching_for_reset) connection.cancel();
    if (options.quit_after && source_ended) result.quit = co_await two_way.linger(*options.quit_after);
  };
  // After the peer's clean EOF while we still send: keep sending, but not to a peer that has
  // fully closed (the reset it answers our next send with ends the session at once); under
  // until_source_idle an idle source ends it too, cancelling only the source (a pump that
  // waits for its source holds nothing unsent). True when the session is over for this reason.
  auto send_after_peer_eof = [&]() -> asio::awaitable<bool> {
    sink.close(ignored);  // nothing more will come: the sink's reader sees its end now
    watching_for_reset = true;
    auto reset = connection.wait(Readiness::failed);
    if (watch_source) {
      auto ended = co_await (std::move(reset) || wait_for_idle_source(source_waits, options.source_idle_limit));
      result.source_idle = ended.index() == 1 && !two_way.sending_over();
    } else {
      co_await std::move(reset);
    }
    watching_for_reset = false;
    if (two_way.sending_over()) co_return true;
    if (!result.source_idle) co_return false;
    stop_sending = true;
    if (up_thread) up_thread->stop();
    source.cancel(ignored);
    co_return true;
  };
  auto receive = [&]() -> asio::awaitable<void> {
    PumpHooks hooks{options.tap, Direction::received, nullptr, nullptr, two_way.stamp(),
                    down_thread ? &*down_thread : nullptr};
    result.received = co_await pump(connection, sink, *down_buffer, &stop_receiving, hooks);
    // Our FIN, if we sent one, changes the TCP state that tells a reset from an EOF.
    bool no_fin_sent = !two_way.sending_over() || !options.read_source;
    // (A copy thread checked the moment it read the end: a send since then may have drawn a reset.)
    auto was_reset = [&] { return down_thread ? result.received.reset_at_eof : eof_was_reset(connection.descriptor()); };
    if (result.received.read_error == asio::error::eof && no_fin_sent && was_reset())
      result.received.read_error = asio::error::connection_reset;
    bool peer_finished_cleanly = result.received.read_error == asio::error::eof && !result.received.write_error;
    result.peer_closed_first = peer_finished_cleanly && !two_way.sending_over();
    if (peer_finished_cleanly && options.on_peer_eof != PeerEofPolicy::stop_sending) {
      two_way.receiving_finished();
      if (two_way.sending_over() || co_await send_after_peer_eof()) co_return;
    }
    // The session is over (failure, or the peer's EOF ends it): stop the other direction.
    two_way.receiving_finished();
    two_way.stop_sending();
  };
  co_await two_way.run(send, receive);
  result.idle = two_way.idle();
  co_return result;
}

}  // namespace sockcat
