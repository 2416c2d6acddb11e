// The unix row of the transport table (-U PATH or -U @NAME): stream sockets in the file
// system or Linux's abstract namespace.
#include "diag.hpp"
#include "exit_status.hpp"
#include "options.hpp"
#include "transport/socket_connection.hpp"
#include "transport/transport.hpp"
#include "unix_socket.hpp"

namespace sockcat {
namespace {

std::unique_ptr<Listener> listen_unix(const asio::any_io_executor& executor, const Options& options) {
  return std::make_unique<SocketListener>(open_unix_acceptor(executor, options));
}

asio::awaitable<std::unique_ptr<Connection>> dial_unix(const Options& options) {
  co_return connected_socket(co_await connect_unix_stream(options));
}

// -z -U: someone listens there when the connect succeeds (a failure has thrown).
asio::awaitable<int> check_unix(const Options& options) {
  co_await connect_unix_stream(options);
  co_return exit_ok;
}

}  // namespace

extern const Transport unix_transport{"unix", [](const Options& options) { return options.unix_socket; }, listen_unix,
                                      dial_unix, check_unix};

}  // namespace sockcat
