// One direction of a relay: bytes from a source to a sink until the source ends, by the
// cheapest path their descriptors allow (zero_copy.hpp) or through one fixed buffer, with
// one operation in flight: a full sink stops its source.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/socket_base.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <span>
#include <system_error>
#include <tuple>

#include "copy_thread.hpp"
#include "with_error.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "source_waits.hpp"
#include "stream_ends.hpp"
#include "zero_copy.hpp"

namespace sockcat {

// Bytes per direction moved in one read: large enough for loopback throughput, one per direction.
inline constexpr std::size_t relay_buffer_size = 64 * 1024;

// How one direction ended.
struct PumpResult {
  std::uint64_t bytes = 0;        // bytes written to the sink
  std::error_code read_error;     // asio::error::eof for a normal end of the source
  std::error_code write_error;    // set when the sink failed (e.g. broken_pipe)
  bool reset_at_eof = false;      // on a copy thread: the source's end was a reset (eof_was_reset),
                                  // checked the moment it was read
};

// What watches or changes one direction of a relay. All null by default: nothing to pay.
struct PumpHooks {
  RelayTap* tap = nullptr;                // counts what crosses (and logs it, if it sees bytes)
  Direction direction = Direction::sent;  // which way this pump moves bytes, for the tap
  SendShaper* shaper = nullptr;           // -C / -d: changes and paces what is written
  SourceWaits* source_waits = nullptr;    // told when the pump starts and stops waiting for its source
  std::chrono::steady_clock::time_point* last_traffic = nullptr;  // -i: stamped whenever bytes move
  CopyThread* thread = nullptr;  // a zero-copy path runs there with blocking calls; tap and
                                 // last_traffic must then be null (the thread tells neither)

  // Whether the pump must see every byte, which rules out the zero-copy paths.
  bool must_see_bytes() const { return shaper || (tap && tap->sees_bytes()); }
};

// Copies `from` into `to` with `copier` (a zero-copy path) until `from` ends, either side
// fails, or `*stop` becomes true. Waits on whichever side is not ready, one at a time.
// Counts what moved into `tap`, if any.
template <typename Source, typename Sink>
asio::awaitable<PumpResult> pump_zero_copy(Source& from, Sink& to, ZeroCopy& copier, const bool* stop,
                                           PumpHooks hooks = {}) {
  auto executor = co_await asio::this_coro::executor;
  make_non_blocking(from);  // sockets must not block; pipes use SPLICE_F_NONBLOCK
  make_non_blocking(to);
  PumpResult result;
  while (!*stop) {
    CopyStep step = copier.step();
    result.bytes += step.bytes;
    if (hooks.tap) hooks.tap->counted(hooks.direction, step.bytes);
    if (hooks.last_traffic && step.bytes > 0) *hooks.last_traffic = std::chrono::steady_clock::now();
    if (step.read_error || step.write_error) {
      result.read_error = step.read_error;
      result.write_error = step.write_error;
      co_return result;
    }
    if (step.source_ended) {
      result.read_error = asio::error::eof;
      co_return result;
    }
    if (step.wait_source) {
      if (hooks.source_waits) hooks.source_waits->begin();
      std::error_code ec = co_await wait_until(from, Readiness::readable);
      if (hooks.source_waits) hooks.source_waits->end();
      if (ec) result.read_error = ec;
    } else if (step.wait_sink) {
      std::error_code ec = co_await wait_until(to, Readiness::writable);
      if (ec) result.write_error = ec;
    } else {
      co_await asio::post(executor, asio::use_awaitable);  // let the other direction run
    }
    if (result.read_error || result.write_error) co_return result;
  }
  result.read_error = asio::error::operation_aborted;
  co_return result;
}

// Copies `from` into `to` on `thread` with blocking calls, by `copier` (made with
// Calls::blocking) or through a buffer if its path is buffered, until `from` ends, either side
// fails, or the thread is stopped (CopyThread::stop, not `*stop`). Both ends are off the event
// loop meanwhile (lend).
template <typename Source, typename Sink>
asio::awaitable<PumpResult> pump_on_thread(Source& from, Sink& to, ZeroCopy& copier, CopyThread& thread,
                                           SourceWaits* source_waits) {
  const int source_fd = lend(from);
  const int sink_fd = lend(to);
  CopyOutcome outcome = co_await thread.run(copier, source_fd, sink_fd, source_waits);
  give_back(from, source_fd);
  give_back(to, sink_fd);
  co_return PumpResult{outcome.bytes, outcome.read_error, outcome.write_error, outcome.reset_at_eof};
}

// Copies `from` into `to` until `from` ends, either side fails, or `*stop` becomes true, by
// the cheapest path their descriptors allow (see zero_copy.hpp), else through `buffer`:
// everything read is written before the next read, so a stop drops nothing already read
// unless the sink itself was cancelled. `hooks` see (or count) what is written, and with a
// shaper change it; bytes then counts what was written after the change. With hooks.thread,
// the copy runs on that thread (pump_on_thread), which its owner stops instead of `*stop`.
template <typename Source, typename Sink>
asio::awaitable<PumpResult> pump(Source& from, Sink& to, std::span<char> buffer, const bool* stop,
                                 PumpHooks hooks = {}) {
  PumpResult result;
  if (!from.is_open()) {  // a closed source (stdin) is an empty one
    result.read_error = asio::error::eof;
    co_return result;
  }
  if (!hooks.must_see_bytes()) {
    ZeroCopy copier(descriptor_of(from), descriptor_of(to), hooks.thread ? Calls::blocking : Calls::non_blocking);
    if (hooks.thread) co_return co_await pump_on_thread(from, to, copier, *hooks.thread, hooks.source_waits);
    if (copier.path() != CopyPath::buffered) co_return co_await pump_zero_copy(from, to, copier, stop, hooks);
  }
  while (!*stop) {
    if (hooks.source_waits) hooks.source_waits->begin();
    auto [read_error, n] = co_await read_some(from, buffer);
    if (hooks.source_waits) hooks.source_waits->end();
    if (hooks.last_traffic && n > 0) *hooks.last_traffic = std::chrono::steady_clock::now();
    if (n > 0) {
      std::error_code write_error;
      std::size_t written = 0;
      if (hooks.shaper) {
        std::tie(write_error, written) = co_await hooks.shaper->write(to, std::span<const char>(buffer.data(), n), hooks.tap);
      } else {
        std::tie(write_error, written) = co_await write_all(to, std::span<const char>(buffer.data(), n));
        if (hooks.tap) hooks.tap->crossed(hooks.direction, std::span<const char>(buffer.data(), written));
      }
      result.bytes += written;
      if (hooks.last_traffic && written > 0) *hooks.last_traffic = std::chrono::steady_clock::now();
      if (write_error) {
        result.write_error = write_error;
        co_return result;
      }
    }
    if (read_error) {
      result.read_error = read_error;
      co_return result;
    }
  }
  result.read_error = asio::error::operation_aborted;
  co_return result;
}

}  // namespace sockcat
