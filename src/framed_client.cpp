#include "framed_client.hpp"

#include <algorithm>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <unistd.h>
#include <vector>

#include "diag.hpp"
#include "idle_watch.hpp"
#include "exit_status.hpp"
#include "framing.hpp"
#include "parse.hpp"
#include "stdio.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using asio::ip::tcp;

// Bytes asked for in one read.
constexpr std::size_t read_size = 64 * 1024;

// How one direction of a framed session ended.
struct MessagePump {
  std::error_code read_error;   // eof for a normal end of the source
  std::error_code write_error;  // the sink failed
  std::string problem;          // a framing problem (too large, truncated), already worded
  std::uint64_t messages = 0;   // messages written to the sink
};

// What the last bytes of a source may be when it ends without completing a message.
enum class FinalPiece {
  is_message,  // stdin: a last line without LF is still a line
  is_truncated,  // the network: a message cut short is reported, not passed on
};

// Copies the messages of `from` (cut by `in`) to `to` (framed by `out`), a read's worth of
// messages per write, until `from` ends, either side fails, or a message breaks the rules.
// Holds at most one incomplete message (up to `max_message` plus its framing) and one read.
// `tap` (if any) sees the bytes on the wire: read from `from` when `wire` is received, else
// written to `to`. `stamp` (if any, -i) is set to the time whenever bytes move.
template <typename Source, typename Sink>
asio::awaitable<MessagePump> pump_messages(Source& from, Sink& to, const Framing& in, const Framing& out,
                                           std::size_t max_message, FinalPiece final_piece, RelayTap* tap,
                                           Direction wire, std::chrono::steady_clock::time_point* stamp) {
  MessagePump result;
  if (!from.is_open()) {  // a closed stdin is an empty one
    result.read_error = asio::error::eof;
    co_return result;
  }
  const std::size_t limit = max_message + in.overhead + 1 + read_size;
  std::vector<char> pending;  // pending[0, have): bytes of messages not yet complete
  std::size_t have = 0;
  std::size_t checked = 0;    // pending[0, checked) is known to be an incomplete message
  std::vector<char> framed;   // the messages of one read, framed for the sink
  auto append = [&](std::span<const char> payload) {
    std::size_t at = framed.size();
    framed.resize(at + payload.size() + out.overhead);
    framed.resize(at + out.encode(payload, framed.data() + at));
    ++result.messages;
  };
  for (;;) {
    if (pending.size() < std::min(have + read_size, limit))
      pending.resize(std::min(std::max(pending.size() * 2, have + read_size), limit));
    auto [read_error, n] = co_await from.async_read_some(asio::buffer(pending.data() + have, pending.size() - have),
                                                         with_error);
    if (tap && wire == Direction::received) tap->crossed(wire, std::span<const char>(pending.data() + have, n));
    if (stamp && n > 0) *stamp = std::chrono::steady_clock::now();
    have += n;
    std::size_t at = 0;
    framed.clear();
    for (;;) {
      Decoded message = in.decode(std::span<const char>(pending.data() + at, have - at), max_message,
                                  at == 0 ? checked : 0);
      if (message.status == DecodeStatus::too_large)
        result.problem = "message over --max-message (" + diag::count_of(max_message, "byte") + ")";
      if (message.status != DecodeStatus::complete) break;
      append(std::span<const char>(pending.data() + at + message.payload_begin, message.payload_size));
      at += message.consumed;
    }
    if (read_error == asio::error::eof && at < have && result.problem.empty()) {
      std::span<const char> rest(pending.data() + at, have - at);
      if (final_piece == FinalPiece::is_message && rest.back() == '\r') rest = rest.first(rest.size() - 1);
      if (final_piece == FinalPiece::is_message) append(rest);
      else result.problem = "truncated message at end of stream (" + diag::count_of(rest.size(), "byte") + ")";
      at = have;
    }
    if (!framed.empty()) {
      auto [write_error, written] = co_await asio::async_write(to, asio::buffer(framed), with_error);
      if (tap && wire == Direction::sent) tap->crossed(wire, std::span<const char>(framed.data(), written));
      if (stamp && written > 0) *stamp = std::chrono::steady_clock::now();
      if (write_error) {
        result.write_error = write_error;
        co_return result;
      }
    }
    std::copy(pending.begin() + static_cast<std::ptrdiff_t>(at), pending.begin() + static_cast<std::ptrdiff_t>(have),
              pending.begin());
    have -= at;
    checked = have;
    if (!result.problem.empty()) co_return result;
    if (read_error) {
      result.read_error = read_error;
      co_return result;
    }
  }
}

bool cancelled(const std::error_code& ec) { return ec == asio::error::operation_aborted; }

}  // namespace

asio::awaitable<int> framed_session(StreamSocket& socket, const Options& options, const std::string& peer,
                                    RelayTap* tap) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor in = open_stdio(executor, STDIN_FILENO);
  asio::posix::stream_descriptor out = open_stdio(executor, STDOUT_FILENO);
  const Framing& line = line_framing();
  const Framing& framing = *options.framing;
  MessagePump up;
  MessagePump down;
  bool sending_done = false;
  bool receiving_done = false;
  bool quit = false;
  asio::steady_timer quit_timer(executor);
  IdleWatch idle(executor, options.idle_timeout.count() ? std::optional(options.idle_timeout) : std::nullopt);
  bool idle_ended = false;
  std::error_code ignored;

  auto send = [&]() -> asio::awaitable<void> {
    up = co_await pump_messages(in, socket, line, framing, options.max_message, FinalPiece::is_message, tap,
                                Direction::sent, idle.stamp());
    sending_done = true;
    // A stdin line over the limit ends our sending as EOF would: the replies to the lines
    // before it still arrive (the error is reported at the end).
    bool clean = (up.read_error == asio::error::eof || !up.problem.empty()) && !up.write_error;
    if (!clean) {
      if (!receiving_done) socket.cancel(ignored);  // our side failed: the session is over
      co_return;
    }
    if (options.half_close) socket.shutdown(asio::socket_base::shutdown_send, ignored);
    if (!options.quit_after || receiving_done) co_return;
    quit_timer.expires_after(*options.quit_after);
    auto [ec] = co_await quit_timer.async_wait(with_error);
    if (!ec && !receiving_done) {
      quit = true;
      socket.cancel(ignored);
      out.cancel(ignored);
    }
  };
  auto receive = [&]() -> asio::awaitable<void> {
    down = co_await pump_messages(socket, out, framing, line, options.max_message, FinalPiece::is_truncated, tap,
                                  Direction::received, idle.stamp());
    receiving_done = true;
    quit_timer.cancel();
    if (!sending_done) {  // the peer is gone (or failed): no reply could come back
      in.cancel(ignored);
      socket.cancel(ignored);
    }
  };
  // -i: no byte either way for that long ends the session.
  auto watch_idle = [&]() -> asio::awaitable<void> {
    if (!co_await idle.expired()) co_return;
    idle_ended = true;
    quit_timer.cancel();
    in.cancel(ignored);
    socket.cancel(ignored);
    out.cancel(ignored);
  };
  auto both_ways = [&]() -> asio::awaitable<void> {
    co_await (send() && receive());
    idle.stop();
  };
  co_await (both_ways() && watch_idle());

  diag::info(1, "connection with " + peer + " closed (sent " + diag::count_of(up.messages, "message") + ", received " +
                    std::to_string(down.messages) + ")");
  if (idle_ended) {
    diag::error(idle_timeout_message(options.idle_timeout));
    co_return exit_failure;
  }
  if (quit) {
    diag::info(1, "quitting: -q time after stdin ended is up");
    co_return exit_ok;
  }
  if (!down.problem.empty()) {
    diag::error(peer + ": " + down.problem);
    co_return exit_failure;
  }
  if (!up.problem.empty()) {
    diag::error("stdin: line over --max-message (" + diag::count_of(options.max_message, "byte") + ")");
    co_return exit_failure;
  }
  if (down.write_error == asio::error::broken_pipe) co_return exit_ok;  // our reader left
  if (down.write_error) {
    diag::error("stdout", down.write_error);
    co_return exit_failure;
  }
  if (down.read_error && down.read_error != asio::error::eof && !cancelled(down.read_error)) {
    diag::error(peer, down.read_error);
    co_return exit_failure;
  }
  if (up.write_error && !cancelled(up.write_error) && down.read_error != asio::error::eof) {
    diag::error(peer, up.write_error);
    co_return exit_failure;
  }
  if (up.read_error && up.read_error != asio::error::eof && !cancelled(up.read_error)) {
    diag::error("stdin", up.read_error);
    co_return exit_failure;
  }
  co_return exit_ok;
}

}  // namespace sockcat
