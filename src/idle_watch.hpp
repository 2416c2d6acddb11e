// -i: a session ends once no byte has moved either way for its limit. The data path only
// stamps the time when bytes move (a store through a pointer that is null without -i); one
// timer per session compares. Shared by the relay, the framed client and the piped program
// relay, so that "idle" means the same in every mode.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

#include "with_error.hpp"

namespace sockcat {

// One session's idle watch. Without a limit it holds no timer work: stamp() is null and
// expired() returns false at once.
class IdleWatch {
 public:
  IdleWatch(const asio::any_io_executor& executor, std::optional<std::chrono::milliseconds> limit)
      : limit_(limit), timer_(executor) {}

  // Where the pumps record when bytes last moved; null without a limit (nothing to record).
  std::chrono::steady_clock::time_point* stamp() { return limit_ ? &last_traffic_ : nullptr; }

  // Finishes true once the limit has passed with no traffic; false when there is no limit or
  // stop() was called first. The timer wakes at the deadline of the latest traffic and checks
  // again, so traffic costs the data path nothing but the stamp.
  asio::awaitable<bool> expired() {
    if (!limit_) co_return false;
    while (!stopped_) {
      timer_.expires_at(last_traffic_ + *limit_);
      co_await timer_.async_wait(with_error);
      if (!stopped_ && std::chrono::steady_clock::now() >= last_traffic_ + *limit_) co_return true;
    }
    co_return false;
  }

  // The session is over: expired() returns false.
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  std::optional<std::chrono::milliseconds> limit_;
  std::chrono::steady_clock::time_point last_traffic_ = std::chrono::steady_clock::now();
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace sockcat
