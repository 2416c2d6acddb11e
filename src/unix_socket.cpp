#include "unix_socket.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <variant>

#include "diag.hpp"
#include "endpoint.hpp"
#include "unix_endpoint.hpp"

namespace sockcat {
namespace {

// How long a client waits before trying again a listener whose queue of connections is full.
constexpr auto full_queue_retry = std::chrono::milliseconds(10);


// Opens `socket` on AF_UNIX and binds it to `address`, clearing a stale file first
// and recording the new one for removal at exit. Throws "cannot ACTION PATH: ...".
template <typename Socket>
void bind_unix(Socket& socket, const UnixAddress& address, const std::string& action = "listen on") {
  using Protocol = typename Socket::protocol_type;
  clear_stale_socket(address, action);
  const std::string name = format_unix_address(reinterpret_cast<const sockaddr*>(&address.address), address.length);
  std::error_code ec;
  socket.open(Protocol(AF_UNIX, 0), ec);
  if (!ec) socket.bind(typename Protocol::endpoint(&address.address, address.length), ec);
  if (ec) throw std::system_error(ec, "cannot " + action + " " + name);
  remember_socket_file(address);
}

}  // namespace

StreamAcceptor open_unix_acceptor(const asio::any_io_executor& executor, const Options& options) {
  const UnixAddress& address = options.unix_address;
  StreamAcceptor acceptor(executor);
  bind_unix(acceptor, address);
  std::error_code ec;
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + format_endpoint(acceptor.local_endpoint()));
  diag::info(1, "listening on " + format_endpoint(acceptor.local_endpoint()) + " (unix stream)");
  return acceptor;
}

DatagramSocket open_unix_datagram_listener(const asio::any_io_executor& executor, const Options& options) {
  const UnixAddress& address = options.unix_address;
  DatagramSocket socket(executor);
  bind_unix(socket, address);
  diag::info(1, "listening on " + format_endpoint(socket.local_endpoint()) + " (unix datagram)");
  return socket;
}

asio::awaitable<StreamSocket> connect_unix_stream(const Options& options) {
  auto executor = co_await asio::this_coro::executor;
  const UnixAddress& address = options.unix_address;
  const std::string name = "connect to " + format_unix_address(reinterpret_cast<const sockaddr*>(&address.address),
                                                               address.length);
  StreamSocket socket(executor);
  std::error_code ec;
  socket.open(asio::generic::stream_protocol(AF_UNIX, 0), ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) throw std::system_error(ec, name);
  // A Unix connect completes at once, or fails with EAGAIN while the listener's queue is full.
  // (Asio's async_connect would take the writable unconnected socket for a connected one.)
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  asio::steady_timer retry(executor);
  bool said_full = false;
  for (;;) {
    if (::connect(socket.native_handle(), reinterpret_cast<const sockaddr*>(&address.address), address.length) == 0)
      break;
    int error = errno;
    if (error == EINTR) continue;
    if (error != EAGAIN) throw std::system_error(std::error_code(error, std::system_category()), name);
    if (options.connect_timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline)
      throw std::system_error(std::make_error_code(std::errc::timed_out), name);
    if (!said_full) diag::info(1, "the listener's queue is full; retrying every 10 ms");
    said_full = true;
    retry.expires_after(full_queue_retry);
    co_await retry.async_wait(asio::use_awaitable);
  }
  diag::info(1, "connected to " + format_endpoint(socket.remote_endpoint()));
  co_return socket;
}

DatagramSocket connect_unix_datagram(const asio::any_io_executor& executor, const Options& options) {
  const UnixAddress& address = options.unix_address;
  const std::string name = "connect to " + format_unix_address(reinterpret_cast<const sockaddr*>(&address.address),
                                                               address.length);
  DatagramSocket socket(executor);
  std::error_code ec;
  if (options.unix_source) {
    // -s LOCAL: bound as a listener's PATH is (a stale file cleared, removed at exit).
    bind_unix(socket, *options.unix_source, "bind to");
  } else {
    socket.open(asio::generic::datagram_protocol(AF_UNIX, 0), ec);
    // An address of only the family asks Linux for a fresh abstract name (autobind).
    sa_family_t family = AF_UNIX;
    if (!ec) socket.bind(DatagramSocket::endpoint_type(&family, sizeof family), ec);
  }
  if (!ec) socket.connect(DatagramSocket::endpoint_type(&address.address, address.length), ec);
  if (ec) throw std::system_error(ec, name);
  return socket;
}

}  // namespace sockcat
