// The tcp row of the transport table: a listener bound as bind_listen_address() says, and a
// client that tries each address of the host in turn.
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>

#include "diag.hpp"
#include "dial.hpp"
#include "endpoint.hpp"
#include "listen_socket.hpp"
#include "name_lookup.hpp"
#include "port_check.hpp"
#include "transport/socket_connection.hpp"
#include "transport/transport.hpp"

namespace sockcat {
namespace {

using asio::ip::tcp;

// Opens a TCP listener (see bind_listener). Throws on failure.
std::unique_ptr<Listener> listen_tcp(const asio::any_io_executor& executor, const Options& options) {
  std::uint16_t port = options.port.number;
  tcp::acceptor acceptor(executor);
  bind_listener(acceptor, options, port, "tcp");
  return std::make_unique<SocketListener>(StreamAcceptor(std::move(acceptor)));
}

// Looks options.host up (off the thread, within -w), then connects to each of its addresses in
// turn until one accepts. Throws "connect to HOST port PORT: reason" with the last failure;
// the earlier ones are -v lines.
asio::awaitable<std::unique_ptr<Connection>> dial_tcp(const Options& options) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<asio::ip::address> targets = co_await resolve_host_async(options.host, options.family, options.connect_timeout);
  std::vector<asio::ip::address> sources = source_addresses(options);
  std::uint16_t port = options.port.number;
  tcp::socket socket(executor);
  std::error_code failure;
  for (const asio::ip::address& address : targets) {
    tcp::endpoint target(address, port);
    failure = co_await connect_tcp(socket, target, sources, options);
    if (!failure) break;
    if (targets.size() > 1) diag::info(1, "connect to " + format_endpoint(target) + " failed: " + failure.message());
    std::error_code ignored;
    socket.close(ignored);
  }
  if (failure) throw std::system_error(failure, "connect to " + options.host + " port " + options.port.text);
  std::unique_ptr<Connection> connection = connected_socket(StreamSocket(std::move(socket)));
  std::error_code ec;
  if (diag::verbosity() >= 1)  // (getsockname and the formatting cost a forwarder's every client)
    diag::info(1, "connected to " + connection->peer() + " from " + format_endpoint(connection->local_endpoint(ec)));
  co_return connection;
}

}  // namespace

extern const Transport tcp_transport{"tcp", [](const Options&) { return true; }, listen_tcp, dial_tcp, check_ports};

}  // namespace sockcat
