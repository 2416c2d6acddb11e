// -C and -d on the sending direction of the relay: LF becomes CRLF, and each line goes out
// in a send of its own with a pause before the next. The relay uses it (and its buffered
// path) only when one of the two was asked for.
#pragma once

#include <array>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <system_error>
#include <utility>

#include "stream_ends.hpp"
#include "with_error.hpp"
#include "line_shaping.hpp"
#include "relay_tap.hpp"

namespace sockcat {

// Converts and paces what one relay sends. One write in flight at a time.
class SendShaper {
 public:
  // `crlf`: -C; `delay`: -d (zero: no pause). `largest_chunk`: the most one write() is given.
  SendShaper(const asio::any_io_executor& executor, bool crlf, std::chrono::milliseconds delay,
             std::size_t largest_chunk)
      : crlf_(crlf), delay_(delay), timer_(executor) {
    if (crlf_) converted_ = std::make_unique<char[]>(2 * largest_chunk);
  }

  // Sends `chunk` to `sink` converted (-C), a line at a time with -d's pause before every line
  // that follows a complete one; shows `tap` (if any) what went out. Returns the error that
  // ended it (operation_aborted after cancel()) and the bytes written (after conversion).
  template <typename Sink>
  asio::awaitable<std::pair<std::error_code, std::size_t>> write(Sink& sink, std::span<const char> chunk,
                                                                 RelayTap* tap) {
    std::span<const char> rest = chunk;
    if (crlf_) rest = {converted_.get(), crlf_converter_.convert(chunk, converted_.get())};
    std::size_t total = 0;
    while (!rest.empty()) {
      std::span<const char> piece = rest;
      if (delay_.count() > 0) {
        if (line_ended_) {
          if (cancelled_) co_return std::pair{std::error_code(asio::error::operation_aborted), total};
          timer_.expires_after(delay_);
          auto [wait_error] = co_await timer_.async_wait(with_error);
          if (wait_error || cancelled_) co_return std::pair{std::error_code(asio::error::operation_aborted), total};
        }
        piece = rest.first(first_line_length(rest));
        line_ended_ = piece.back() == '\n';
      }
      auto [write_error, written] = co_await write_all(sink, piece);
      if (tap) tap->crossed(Direction::sent, piece.first(written));
      total += written;
      if (write_error) co_return std::pair{write_error, total};
      rest = rest.subspan(piece.size());
    }
    co_return std::pair{std::error_code(), total};
  }

  // Ends a pause in progress (the session is over); later pauses end at once.
  void cancel() {
    cancelled_ = true;
    timer_.cancel();
  }

 private:
  bool crlf_;
  std::chrono::milliseconds delay_;
  asio::steady_timer timer_;
  CrlfConverter crlf_converter_;
  std::unique_ptr<char[]> converted_;  // -C: room for a chunk of nothing but LFs
  bool line_ended_ = false;            // -d: a complete line has gone out; pause before more
  bool cancelled_ = false;
};

}  // namespace sockcat
