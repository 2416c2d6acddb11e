#include "transport/connection.hpp"

#include <asio/error.hpp>
#include <asio/steady_timer.hpp>
#include <memory>

namespace sockcat {
namespace {

// Waits until `connection` is ready for `what`, or until `idle` (not zero) passes (then
// returns timed_out).
asio::awaitable<std::error_code> wait_at_most(Connection& connection, Readiness what, std::chrono::milliseconds idle) {
  // The deadline's handler may run after this wait is over (both completed in one round):
  // `waiting` tells it whether the connection may still be touched.
  struct State {
    bool waiting = true;
    bool expired = false;
  };
  auto state = std::make_shared<State>();
  asio::steady_timer deadline(connection.executor(), idle);
  deadline.async_wait([&connection, state](const std::error_code& ec) {
    if (ec || !state->waiting) return;
    state->expired = true;
    connection.cancel();
  });
  std::error_code ec = co_await connection.wait(what);
  state->waiting = false;
  deadline.cancel();
  if (state->expired) co_return std::make_error_code(std::errc::timed_out);
  co_return ec;
}

}  // namespace

asio::awaitable<std::error_code> Connection::start() { co_return std::error_code(); }

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// Neither makes a coroutine frame of its own, nor, without a time limit, one for the timer.
asio::awaitable<std::error_code> wait_readable(Connection& connection, std::chrono::milliseconds idle) {
  if (idle.count() == 0) return connection.wait(Readiness::readable);
  return wait_at_most(connection, Readiness::readable, idle);
}

asio::awaitable<std::error_code> wait_writable(Connection& connection, std::chrono::milliseconds idle) {
  if (idle.count() == 0) return connection.wait(Readiness::writable);
  return wait_at_most(connection, Readiness::writable, idle);
}

asio::awaitable<std::pair<std::error_code, std::size_t>> read_when_readable(Connection& connection,
                                                                            std::span<char> into,
                                                                            std::chrono::milliseconds idle) {
  for (;;) {
    if (std::error_code failure = co_await wait_readable(connection, idle)) co_return std::pair{failure, std::size_t{0}};
    std::error_code ec;
    std::size_t n = connection.read_now(into, ec);
    if (!would_block(ec)) co_return std::pair{ec, n};
  }
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(Connection& connection, std::span<char> into) {
  for (;;) {
    std::error_code ec;
    std::size_t n = connection.read_now(into, ec);
    if (!would_block(ec)) co_return std::tuple{ec, n};
    if (std::error_code failure = co_await connection.wait(Readiness::readable)) co_return std::tuple{failure, std::size_t{0}};
  }
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> write_all(Connection& connection,
                                                                    std::span<const char> from,
                                                                    std::chrono::milliseconds idle) {
  std::size_t written = 0;
  while (written < from.size()) {
    std::error_code ec;
    written += connection.write_now(from.subspan(written), ec);
    if (ec && !would_block(ec)) co_return std::tuple{ec, written};
    if (written < from.size()) {
      if (std::error_code failure = co_await wait_writable(connection, idle)) co_return std::tuple{failure, written};
    }
  }
  co_return std::tuple{std::error_code{}, written};
}

asio::awaitable<std::error_code> end_sending(Connection& connection, std::chrono::milliseconds idle) {
  for (;;) {
    std::error_code ec;
    connection.shutdown_send(ec);
    if (!would_block(ec)) co_return ec;
    if (std::error_code failure = co_await wait_writable(connection, idle)) co_return failure;
  }
}

}  // namespace sockcat
