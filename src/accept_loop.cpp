#include "accept_loop.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "diag.hpp"
#include "relay_tap.hpp"
#include "system_error.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

// How long the accept loop pauses after running out of descriptors or memory.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

// True for accept errors caused by exhausted resources, which retrying at once cannot fix.
bool is_resource_exhaustion(const std::error_code& ec) {
  int error = errno_of(ec);
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Whether -m has room for one more client besides the `open` ones (noting a refusal of `client`).
bool below_limit(const ServerLimits& limits, unsigned open, const Connection& client) {
  if (limits.max_conns == 0 || open < limits.max_conns) return true;
  diag::info(1, "connection from " + client.peer() + " refused: " + diag::count_of(limits.max_conns, "client") +
                    " already (-m)");
  return false;
}

}  // namespace

asio::awaitable<void> accept_clients(Listener& listener, ServerLimits limits, const Session& session) {
  // A named executor: g++ 12 destroys the temporaries of a full-expression that contains a
  // co_await twice, so a co_await inside the co_spawn call below freed open_sessions early.
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer backoff(executor);
  // An exhaustion episode lasts until the queue of pending connections has drained, so a
  // server held at its descriptor limit reports it once, not once per client that leaves.
  bool exhausted = false;
  auto open_sessions = std::make_shared<unsigned>(0);
  for (;;) {
    std::error_code wait_error = co_await listener.wait_for_client();
    if (wait_error == asio::error::operation_aborted || !listener.is_open()) co_return;
    // Take every connection that is waiting, then wait again.
    for (;;) {
      std::error_code ec;
      std::unique_ptr<Connection> client = listener.accept_now(ec);
      if (would_block(ec)) {
        if (exhausted) diag::info(1, "accept: recovered");
        exhausted = false;
        break;
      }
      if (!listener.is_open()) co_return;
      if (ec && is_resource_exhaustion(ec)) {
        if (!exhausted) diag::error("accept: " + ec.message() + " (retrying every 100 ms)");
        exhausted = true;
        backoff.expires_after(accept_backoff);
        auto [timer_error] = co_await backoff.async_wait(with_error);
        if (timer_error || !listener.is_open()) co_return;
        continue;
      }
      if (ec) continue;  // e.g. ECONNABORTED: that client is gone already
      if (!admitted(limits, *client) || !below_limit(limits, *open_sessions, *client)) continue;  // closed unread
      client->send_small_writes_at_once();
      ++*open_sessions;
      asio::co_spawn(executor, session(std::move(client)),
                     [open_sessions](std::exception_ptr) { --*open_sessions; });
    }
  }
}

bool admitted(const ServerLimits& limits, const Connection& client) {
  if (limits.access && !limits.access->admits(client.remote().data())) {
    diag::info(1, "connection from " + client.peer() + " refused: not allowed (--allow/--deny)");
    return false;
  }
  if (limits.refuse_all) {
    diag::info(1, "connection from " + client.peer() + " refused: -m 0 serves no client");
    return false;
  }
  return true;
}

asio::awaitable<std::unique_ptr<Connection>> accept_admitted(Listener& listener, const ServerLimits& limits) {
  for (;;) {
    std::error_code ec = co_await listener.wait_for_client();
    if (ec) throw std::system_error(ec, "accept");
    std::unique_ptr<Connection> client = listener.accept_now(ec);
    if (would_block(ec) || ec == asio::error::connection_aborted) continue;
    if (ec) throw std::system_error(ec, "accept");
    if (!admitted(limits, *client)) continue;  // closed unread as it goes
    // A client whose set-up fails (a TLS handshake that stalls past its limit, or garbage) is
    // not the one: it is closed alone, and the next one is taken.
    if (std::error_code failure = co_await client->start()) {
      diag::info(1, "connection from " + client->peer() + " failed: " + failure.message());
      continue;
    }
    listener.close();
    co_return client;
  }
}

std::span<char> server_scratch() {
  thread_local std::array<char, 64 * 1024> scratch;
  return scratch;
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> send_rest(Connection& client, std::span<const char> unsent,
                                                                    RelayTap* tap) {
  auto pending = std::make_unique<char[]>(unsent.size());
  std::memcpy(pending.get(), unsent.data(), unsent.size());
  auto [write_error, more] = co_await write_all(client, std::span<const char>(pending.get(), unsent.size()));
  if (tap) tap->crossed(Direction::sent, std::span<const char>(pending.get(), more));
  co_return std::tuple{write_error, more};
}

}  // namespace sockcat
