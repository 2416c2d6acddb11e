#include "framed_client.hpp"

#include <algorithm>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/this_coro.hpp>
#include <span>
#include <unistd.h>
#include <vector>

#include "diag.hpp"
#include "exit_status.hpp"
#include "framing.hpp"
#include "parse.hpp"
#include "session_end.hpp"
#include "stdio.hpp"
#include "stream_ends.hpp"
#include "two_way.hpp"

namespace sockcat {
namespace {

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

// Cuts the bytes of a source into messages (by `in`) and frames them for a sink (by `out`), a
// read's worth at a time. Holds at most one incomplete message (up to `max_message` plus its
// framing) and one read.
class MessageCutter {
 public:
  MessageCutter(const Framing& in, const Framing& out, std::size_t max_message, FinalPiece final_piece)
      : in_(in), out_(out), max_message_(max_message), final_piece_(final_piece),
        limit_(max_message + in.overhead + 1 + read_size) {}

  // Where the next read goes: room after the bytes held (grown as needed, within the limit).
  std::span<char> read_space() {
    if (pending_.size() < std::min(have_ + read_size, limit_))
      pending_.resize(std::min(std::max(pending_.size() * 2, have_ + read_size), limit_));
    return std::span<char>(pending_.data() + have_, pending_.size() - have_);
  }

  // Takes the `n` bytes just read into read_space(): frames every message now complete (at the
  // source's `end`, also the last piece: see FinalPiece) into framed(), counting them in
  // `result.messages`, words a framing problem in `result.problem`, and keeps the incomplete rest.
  void cut(std::size_t n, bool end, MessagePump& result) {
    have_ += n;
    framed_.clear();
    std::size_t at = frame_complete_messages(result);
    if (end && at < have_ && result.problem.empty()) {
      std::span<const char> rest(pending_.data() + at, have_ - at);
      if (final_piece_ == FinalPiece::is_message && rest.back() == '\r') rest = rest.first(rest.size() - 1);
      if (final_piece_ == FinalPiece::is_message) append(rest, result);
      else result.problem = "truncated message at end of stream (" + diag::count_of(rest.size(), "byte") + ")";
      at = have_;
    }
    std::copy(pending_.begin() + static_cast<std::ptrdiff_t>(at),
              pending_.begin() + static_cast<std::ptrdiff_t>(have_), pending_.begin());
    have_ -= at;
    checked_ = have_;
  }

  // The messages of the last cut(), framed for the sink.
  std::span<const char> framed() const { return framed_; }

 private:
  // Frames the complete messages at the start of the bytes held; returns how many bytes they took.
  std::size_t frame_complete_messages(MessagePump& result) {
    std::size_t at = 0;
    for (;;) {
      Decoded message = in_.decode(std::span<const char>(pending_.data() + at, have_ - at), max_message_,
                                   at == 0 ? checked_ : 0);
      if (message.status == DecodeStatus::too_large)
        result.problem = "message over --max-message (" + diag::count_of(max_message_, "byte") + ")";
      if (message.status != DecodeStatus::complete) return at;
      append(std::span<const char>(pending_.data() + at + message.payload_begin, message.payload_size), result);
      at += message.consumed;
    }
  }

  // Adds `payload`, framed, to framed() and counts it.
  void append(std::span<const char> payload, MessagePump& result) {
    std::size_t at = framed_.size();
    framed_.resize(at + payload.size() + out_.overhead);
    framed_.resize(at + out_.encode(payload, framed_.data() + at));
    ++result.messages;
  }

  const Framing& in_;
  const Framing& out_;
  const std::size_t max_message_;
  const FinalPiece final_piece_;
  const std::size_t limit_;   // the most pending_ grows to
  std::vector<char> pending_;  // pending_[0, have_): bytes of messages not yet complete
  std::size_t have_ = 0;
  std::size_t checked_ = 0;    // pending_[0, checked_) is known to be an incomplete message
  std::vector<char> framed_;   // the messages of one read, framed for the sink
};

// Writes all of `framed` to `to`; `tap` (if any) sees what was written when `wire` is sent, and
// `stamp` (if any) is set to the time if bytes moved. Returns the write's error.
template <typename Sink>
asio::awaitable<std::error_code> write_messages(Sink& to, std::span<const char> framed, RelayTap* tap, Direction wire,
                                                std::chrono::steady_clock::time_point* stamp) {
  auto [write_error, written] = co_await write_all(to, framed);
  if (tap && wire == Direction::sent) tap->crossed(wire, framed.first(written));
  if (stamp && written > 0) *stamp = std::chrono::steady_clock::now();
  co_return write_error;
}

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
  MessageCutter cutter(in, out, max_message, final_piece);
  for (;;) {
    std::span<char> space = cutter.read_space();
    auto [read_error, n] = co_await read_some(from, space);
    if (tap && wire == Direction::received) tap->crossed(wire, std::span<const char>(space.data(), n));
    if (stamp && n > 0) *stamp = std::chrono::steady_clock::now();
    cutter.cut(n, read_error == asio::error::eof, result);
    if (!cutter.framed().empty()) {
      std::error_code write_error = co_await write_messages(to, cutter.framed(), tap, wire, stamp);
      if (write_error) {
        result.write_error = write_error;
        co_return result;
      }
    }
    if (!result.problem.empty()) co_return result;
    if (read_error) {
      result.read_error = read_error;
      co_return result;
    }
  }
}

bool cancelled(const std::error_code& ec) { return ec == asio::error::operation_aborted; }

// How the two directions of a framed session ended.
struct FramedEnd {
  MessagePump up;    // stdin -> peer
  MessagePump down;  // peer -> stdout
  bool quit = false;  // -q's time after stdin's end was up
  bool idle = false;  // -i's limit passed
};

// The exit status of a framed session that ended as `end` says, after its one error line (if any).
int framed_status(const FramedEnd& end, const Options& options, const std::string& peer) {
  const MessagePump& up = end.up;
  const MessagePump& down = end.down;
  if (end.idle) {
    diag::error(idle_timeout_message(options.idle_timeout));
    return exit_failure;
  }
  if (end.quit) {
    diag::info(1, "quitting: -q time after stdin ended is up");
    return exit_ok;
  }
  if (!down.problem.empty()) {
    diag::error(peer + ": " + down.problem);
    return exit_failure;
  }
  if (!up.problem.empty()) {
    diag::error("stdin: line over --max-message (" + diag::count_of(options.max_message, "byte") + ")");
    return exit_failure;
  }
  if (down.write_error) return stdout_status(down.write_error);
  if (down.read_error && down.read_error != asio::error::eof && !cancelled(down.read_error)) {
    diag::error(peer, down.read_error);
    return exit_failure;
  }
  if (up.write_error && !cancelled(up.write_error) && down.read_error != asio::error::eof) {
    diag::error(peer, up.write_error);
    return exit_failure;
  }
  if (up.read_error && up.read_error != asio::error::eof && !cancelled(up.read_error)) {
    diag::error("stdin", up.read_error);
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace

asio::awaitable<int> framed_session(Connection& connection, const Options& options, RelayTap* tap) {
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor in = open_stdio(executor, STDIN_FILENO);
  asio::posix::stream_descriptor out = open_stdio(executor, STDOUT_FILENO);
  const Framing& line = line_framing();
  const Framing& framing = *options.framing;
  FramedEnd end;
  std::error_code ignored;
  TwoWay two_way(executor, options.idle_timeout.count() ? std::optional(options.idle_timeout) : std::nullopt,
                 {[&] {
                    in.cancel(ignored);
                    connection.cancel();
                  },
                  [&] {
                    connection.cancel();
                    out.cancel(ignored);
                  }});

  auto send = [&]() -> asio::awaitable<void> {
    end.up = co_await pump_messages(in, connection, line, framing, options.max_message, FinalPiece::is_message, tap,
                                    Direction::sent, two_way.stamp());
    two_way.sending_finished();
    // A stdin line over the limit ends our sending as EOF would: the replies to the lines
    // before it still arrive (the error is reported at the end).
    bool clean = (end.up.read_error == asio::error::eof || !end.up.problem.empty()) && !end.up.write_error;
    if (!clean) {
      if (!two_way.receiving_over()) connection.cancel();  // our side failed: the session is over
      co_return;
    }
    if (options.half_close) co_await end_sending(connection);
    if (options.quit_after) end.quit = co_await two_way.linger(*options.quit_after);
  };
  auto receive = [&]() -> asio::awaitable<void> {
    end.down = co_await pump_messages(connection, out, framing, line, options.max_message, FinalPiece::is_truncated,
                                      tap, Direction::received, two_way.stamp());
    two_way.receiving_finished();
    if (!two_way.sending_over()) two_way.stop_sending();  // the peer is gone (or failed): no reply could come back
  };
  co_await two_way.run(send, receive);
  end.idle = two_way.idle();

  diag::info(1, "connection with " + connection.peer() + " closed (sent " + diag::count_of(end.up.messages, "message") +
                    ", received " + std::to_string(end.down.messages) + ")");
  co_return framed_status(end, options, connection.peer());
}

}  // namespace sockcat
