// Opening Unix domain sockets (-U) for the stream and datagram backends: a listener that
// clears a stale file, binds and records its file for removal at exit; a client that
// connects to PATH or @NAME. Set-up only: failures throw std::system_error naming the path.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "options.hpp"
#include "socket_types.hpp"

namespace sockcat {

// Listens on options.unix_address (stream): a stale socket file is removed first, a live one
// is never taken over (address in use). Says "listening on PATH (unix stream)" under -v.
StreamAcceptor open_unix_acceptor(const asio::any_io_executor& executor, const Options& options);

// Binds a datagram socket to options.unix_address, as open_unix_acceptor does for streams.
// Says "listening on PATH (unix datagram)" under -v.
DatagramSocket open_unix_datagram_listener(const asio::any_io_executor& executor, const Options& options);

// Connects a stream socket to options.unix_address. A listener whose queue is full is retried
// every 10 ms, until options.connect_timeout (-w) if set. Throws std::system_error
// ("connect to PATH: ...") on failure.
asio::awaitable<StreamSocket> connect_unix_stream(const Options& options);

// A datagram socket connected to options.unix_address, bound first so that replies can reach
// it: to -s's PATH or @NAME (options.unix_source; a stale file there is cleared, a live
// socket is never taken over, and the file is removed at exit), else to an address the kernel
// picks in the abstract namespace (autobind). Throws std::system_error ("connect to PATH:
// ..." or "cannot bind to LOCAL: ...") on failure.
DatagramSocket connect_unix_datagram(const asio::any_io_executor& executor, const Options& options);

}  // namespace sockcat
