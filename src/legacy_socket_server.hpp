// TRANSITIONAL, removed once every server takes a Listener and a Connection: the accept loop
// and waits of the servers still written against sockets, as they were before the transport
// seam (accept_loop.hpp and transport/connection.hpp hold the new ones).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "accept_loop.hpp"
#include "socket_types.hpp"
#include "transport/socket_connection.hpp"

namespace sockcat {

// The one admission check of every stream accept path: true when `limits.access` (if any)
// admits the peer at `remote` and -m 0 (`limits.refuse_all`) does not refuse everyone;
// otherwise notes the refusal under -v (as "connection from PEER refused ...") and the caller
// closes the connection at once, unread.
bool admitted(const ServerLimits& limits, const StreamAcceptor::endpoint_type& remote, const std::string& peer);

// The acceptor inside a SocketListener (the tcp and unix transports' listeners).
StreamAcceptor& acceptor_of(Listener& listener);

// The socket inside a SocketConnection.
StreamSocket& socket_of(Connection& connection);

// A client taken by accept_admitted(), with its name for diagnostics.
struct AdmittedClient {
  StreamSocket socket;
  std::string peer;
};

// The accept of every one-client listener (relay, -e/-c and --send-file without -k): waits for
// the first client that admitted() lets in under `limits`, closing each refused one at once,
// unread (noted under -v), then closes `acceptor`, since no one else is served. A client gone
// before it was taken (ECONNABORTED) is skipped; any other accept failure throws std::system_error.
asio::awaitable<AdmittedClient> accept_admitted(StreamAcceptor& acceptor, const ServerLimits& limits);

// Serves one accepted client until it is done; `peer` names it for diagnostics. The socket
// comes non-blocking, with TCP_NODELAY when it is TCP.
using SocketSession = std::function<asio::awaitable<void>(StreamSocket socket, std::string peer)>;

// Accepts clients on `acceptor` until it is closed, running `session` for each in its own
// coroutine, taking every pending connection per wake-up. A client that `limits.access`
// refuses is closed at once, unread, and does not count against `limits.max_conns`; a client
// over that limit is closed at once too (both noted under -v). Accept failures from exhausted resources (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) are retried every 100 ms, never in a busy loop, and reported once per
// episode: until the queue of pending connections has drained.
// `session` must outlive the call (callers keep it in a named local: g++ 12 destroys a
// temporary of a co_await expression twice when the suspended coroutine is destroyed).
asio::awaitable<void> accept_clients(StreamAcceptor& acceptor, ServerLimits limits, const SocketSession& session);

// Waits until `socket` is readable, or until `idle` passes (then returns timed_out); `idle`
// of zero waits as long as it takes. Returns the wait's error otherwise.
asio::awaitable<std::error_code> wait_readable(StreamSocket& socket, std::chrono::milliseconds idle);

// The same for room to write in `socket`'s send buffer.
asio::awaitable<std::error_code> wait_writable(StreamSocket& socket, std::chrono::milliseconds idle);

// Waits until `socket` is readable (at most `idle`), then reads what it holds into `into`.
// Returns the bytes read, or the error: eof at the client's end, timed_out after `idle` of
// silence.
asio::awaitable<std::pair<std::error_code, std::size_t>> read_when_readable(StreamSocket& socket, std::span<char> into,
                                                                            std::chrono::milliseconds idle);

}  // namespace sockcat
