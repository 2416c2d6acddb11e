#include "two_way.hpp"

#include "with_error.hpp"

namespace sockcat {

TwoWay::TwoWay(const asio::any_io_executor& executor, std::optional<std::chrono::milliseconds> idle_limit,
               TwoWayStops stops)
    : stops_(std::move(stops)), idle_(executor, idle_limit), linger_timer_(executor) {}

void TwoWay::receiving_finished() {
  receiving_over_ = true;
  linger_timer_.cancel();
}

void TwoWay::end() {
  ended_ = true;
  linger_timer_.cancel();
  idle_.stop();
  stops_.stop_sending();
  stops_.stop_receiving();
}

asio::awaitable<bool> TwoWay::linger(std::chrono::milliseconds limit,
                                     const std::chrono::steady_clock::time_point* quiet_since) {
  const auto start = std::chrono::steady_clock::now();
  while (!receiving_over_ && !ended_) {
    const auto deadline = (quiet_since ? *quiet_since : start) + limit;
    linger_timer_.expires_at(deadline);
    auto [ec] = co_await linger_timer_.async_wait(with_error);
    if (ec || receiving_over_ || ended_) break;
    if (std::chrono::steady_clock::now() >= (quiet_since ? *quiet_since : start) + limit) {
      stops_.stop_receiving();
      co_return true;
    }
  }
  co_return false;
}

asio::awaitable<void> TwoWay::watch_idle() {
  const bool expired = co_await idle_.expired();
  if (expired) {
    idle_ended_ = true;
    if (stops_.on_idle) stops_.on_idle();
    end();
  }
}

}  // namespace sockcat
