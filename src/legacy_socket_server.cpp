#include "legacy_socket_server.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <memory>
#include <system_error>

#include "diag.hpp"
#include "endpoint.hpp"
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

}  // namespace

asio::awaitable<void> accept_clients(StreamAcceptor& acceptor, ServerLimits limits, const SocketSession& session) {
  auto executor = acceptor.get_executor();
  asio::steady_timer backoff(executor);
  // An exhaustion episode lasts until the queue of pending connections has drained, so a
  // server held at its descriptor limit reports it once, not once per client that leaves.
  bool exhausted = false;
  auto open_sessions = std::make_shared<unsigned>(0);
  std::error_code ec;
  acceptor.non_blocking(true, ec);
  for (;;) {
    auto [wait_error] = co_await acceptor.async_wait(StreamAcceptor::wait_read, with_error);
    if (wait_error == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    // Take every connection that is waiting, then wait again.
    for (;;) {
      StreamAcceptor::endpoint_type remote;
      StreamSocket socket = acceptor.accept(remote, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        if (exhausted) diag::info(1, "accept: recovered");
        exhausted = false;
        break;
      }
      if (!acceptor.is_open()) co_return;
      if (ec && is_resource_exhaustion(ec)) {
        if (!exhausted) diag::error("accept: " + ec.message() + " (retrying every 100 ms)");
        exhausted = true;
        backoff.expires_after(accept_backoff);
        auto [timer_error] = co_await backoff.async_wait(with_error);
        if (timer_error || !acceptor.is_open()) co_return;
        continue;
      }
      if (ec) continue;  // e.g. ECONNABORTED: that client is gone already
      std::string peer = format_endpoint(remote);  // from accept(): valid even if it has reset since
      if (!admitted(limits, remote, peer)) {
        socket.close(ec);
        continue;
      }
      if (limits.max_conns != 0 && *open_sessions >= limits.max_conns) {
        diag::info(1, "connection from " + peer + " refused: " + diag::count_of(limits.max_conns, "client") +
                          " already (-m)");
        socket.close(ec);
        continue;
      }
      // Every session reads and writes without blocking, and a TCP client's replies leave at
      // once (no Nagle delay on small answers).
      socket.non_blocking(true, ec);
      if (remote.protocol().family() != AF_UNIX) socket.set_option(asio::ip::tcp::no_delay(true), ec);
      ++*open_sessions;
      asio::co_spawn(executor, session(std::move(socket), std::move(peer)),
                     [open_sessions](std::exception_ptr) { --*open_sessions; });
    }
  }
}

StreamAcceptor& acceptor_of(Listener& listener) {
  return dynamic_cast<SocketListener&>(listener).acceptor();
}

StreamSocket& socket_of(Connection& connection) {
  return dynamic_cast<SocketConnection&>(connection).socket();
}

bool admitted(const ServerLimits& limits, const StreamAcceptor::endpoint_type& remote, const std::string& peer) {
  if (limits.access && !limits.access->admits(remote.data())) {
    diag::info(1, "connection from " + peer + " refused: not allowed (--allow/--deny)");
    return false;
  }
  if (limits.refuse_all) {
    diag::info(1, "connection from " + peer + " refused: -m 0 serves no client");
    return false;
  }
  return true;
}

asio::awaitable<AdmittedClient> accept_admitted(StreamAcceptor& acceptor, const ServerLimits& limits) {
  for (;;) {
    StreamAcceptor::endpoint_type remote;  // from accept(): valid even if the client has reset since
    auto [ec, socket] = co_await acceptor.async_accept(remote, with_error);
    if (ec == asio::error::connection_aborted) continue;
    if (ec) throw std::system_error(ec, "accept");
    std::string peer = format_endpoint(remote);
    if (!admitted(limits, remote, peer)) {
      socket.close(ec);
      continue;
    }
    acceptor.close(ec);
    co_return AdmittedClient{std::move(socket), std::move(peer)};
  }
}

namespace {

// Waits until `socket` is ready for `what`, or until `idle` passes (then returns timed_out).
asio::awaitable<std::error_code> wait_ready(StreamSocket& socket, asio::socket_base::wait_type what,
                                            std::chrono::milliseconds idle) {
  if (idle.count() == 0) {
    auto [ec] = co_await socket.async_wait(what, with_error);
    co_return ec;
  }
  // The deadline's handler may run after this wait is over (both completed in one round):
  // `waiting` tells it whether the socket may still be touched.
  struct State {
    bool waiting = true;
    bool expired = false;
  };
  auto state = std::make_shared<State>();
  asio::steady_timer deadline(socket.get_executor(), idle);
  deadline.async_wait([&socket, state](const std::error_code& ec) {
    if (ec || !state->waiting) return;
    state->expired = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
  auto [ec] = co_await socket.async_wait(what, with_error);
  state->waiting = false;
  deadline.cancel();
  if (state->expired) co_return std::make_error_code(std::errc::timed_out);
  co_return ec;
}

}  // namespace

asio::awaitable<std::error_code> wait_readable(StreamSocket& socket, std::chrono::milliseconds idle) {
  return wait_ready(socket, asio::socket_base::wait_read, idle);  // no frame of its own
}

asio::awaitable<std::error_code> wait_writable(StreamSocket& socket, std::chrono::milliseconds idle) {
  return wait_ready(socket, asio::socket_base::wait_write, idle);
}

asio::awaitable<std::pair<std::error_code, std::size_t>> read_when_readable(StreamSocket& socket, std::span<char> into,
                                                                            std::chrono::milliseconds idle) {
  for (;;) {
    if (std::error_code failure = co_await wait_readable(socket, idle)) co_return std::pair{failure, std::size_t{0}};
    std::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(into.data(), into.size()), ec);
    if (!would_block(ec)) co_return std::pair{ec, n};
  }
}

}  // namespace sockcat
