// The transport table: how a stream listener is opened and a stream connection dialled, one
// row per transport. The server modes, the relay and the sessions see only the Connection and
// Listener a row yields (connection.hpp), so a new transport is one file and one row here.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <memory>
#include <span>
#include <string_view>

#include "options.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// One row of the transport table. Set-up failures throw std::system_error, whose what() is
// the one error line ("cannot listen on ...", "connect to ...: reason").
struct Transport {
  std::string_view name;
  // Whether `options` ask for this transport (the first row that says yes is used).
  bool (*wanted)(const Options& options);
  // Opens the listener `options` describe (-b, -p, -4/-6, -U PATH); says where under -v.
  std::unique_ptr<Listener> (*listen)(const asio::any_io_executor& executor, const Options& options);
  // Connects to the peer `options` name (-w bounds it; -s, --source-port choose our end).
  asio::awaitable<std::unique_ptr<Connection>> (*dial)(const Options& options);
  // connect -z: checks that someone accepts there, without a byte of data; the exit status.
  asio::awaitable<int> (*check)(const Options& options);
};

// All transports, in table order.
std::span<const Transport* const> transports();

// The transport `options` ask for.
const Transport& choose_transport(const Options& options);

// The rows, each defined in its own file (tcp_transport.cpp, unix_transport.cpp,
// tls_transport.cpp, proxy_transport.cpp) and constant-initialised, so the table may be read
// at any time.
extern const Transport tcp_transport;
extern const Transport proxy_transport;
extern const Transport unix_transport;
extern const Transport tls_transport;

}  // namespace sockcat
