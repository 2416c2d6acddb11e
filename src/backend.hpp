// The table of backends (how bytes travel: TCP stream, UDP datagrams) and the run loop that
// drives the chosen one on a single thread until it finishes or a signal arrives.
#pragma once

#include <asio/awaitable.hpp>
#include <span>
#include <string_view>

#include "options.hpp"

namespace sockcat {

// One row of the backend table. Each entry point returns the process exit status; set-up
// failures may throw std::system_error, whose what() becomes the one error line.
struct Backend {
  std::string_view name;
  asio::awaitable<int> (*listen)(const Options& options);
  asio::awaitable<int> (*connect)(const Options& options);
};

// All backends, in table order.
std::span<const Backend> backends();

// The backend `options` asks for (-u picks the datagram one).
const Backend& choose_backend(const Options& options);

// Runs the chosen backend's listen or connect on one io_context. SIGINT and SIGTERM end it with
// exit 130 or 143. Removes the Unix socket files it created. Returns the exit status; never throws.
int run(const Options& options);

// The entry points of each backend (stream_backend.cpp; datagram_client.cpp, datagram_server.cpp).
asio::awaitable<int> stream_listen(const Options& options);
asio::awaitable<int> stream_connect(const Options& options);
asio::awaitable<int> datagram_listen(const Options& options);
asio::awaitable<int> datagram_connect(const Options& options);

}  // namespace sockcat
