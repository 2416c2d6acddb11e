// What every many-client stream server (TCP or Unix) shares: accepting without spinning when descriptors run
// out, the -m limit on concurrent clients, and the -i limit on a client's silence.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <utility>
#include <string>
#include <tuple>

#include "access_list.hpp"
#include "transport/connection.hpp"

namespace sockcat {

class RelayTap;
class ServerTap;

// The limits a server enforces on its clients.
struct ServerLimits {
  unsigned max_conns = 0;                     // clients served at once; 0 = no limit
  std::chrono::milliseconds idle_timeout{0};  // close a client silent this long; 0 = never
  const AccessList* access = nullptr;         // --allow/--deny; nullptr = everyone (must outlive the server)
  ServerTap* tap = nullptr;                   // -o, -x, --stats: each client's tap comes from it; null = none
  bool refuse_all = false;                    // -m 0: every client is closed at once, unread
};

// The one admission check of every stream accept path: true when `limits.access` (if any)
// admits the peer at `remote` and -m 0 (`limits.refuse_all`) does not refuse everyone;
// otherwise notes the refusal under -v (as "connection from PEER refused ...") and the caller
// closes the connection at once, unread.
bool admitted(const ServerLimits& limits, const Connection& client);

// The accept of every one-client listener (relay, -e/-c and --send-file without -k): waits for
// the first client that admitted() lets in under `limits`, closing each refused one at once,
// unread (noted under -v), then closes `listener`, since no one else is served. A client gone
// before it was taken (ECONNABORTED) is skipped; any other accept failure throws std::system_error.
asio::awaitable<std::unique_ptr<Connection>> accept_admitted(Listener& listener, const ServerLimits& limits);

// Serves one accepted client until it is done. Its small writes leave at once (TCP_NODELAY).
using Session = std::function<asio::awaitable<void>(std::unique_ptr<Connection> client)>;

// Accepts clients on `listener` until it is closed, running `session` for each in its own
// coroutine, taking every pending connection per wake-up. A client that `limits.access`
// refuses is closed at once, unread, and does not count against `limits.max_conns`; a client
// over that limit is closed at once too (both noted under -v). Accept failures from exhausted resources (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) are retried every 100 ms, never in a busy loop, and reported once per
// episode: until the queue of pending connections has drained.
// `session` must outlive the call (callers keep it in a named local: g++ 12 destroys a
// temporary of a co_await expression twice when the suspended coroutine is destroyed).
asio::awaitable<void> accept_clients(Listener& listener, ServerLimits limits, const Session& session);

// The thread's 64 KiB read buffer, shared by every client of a many-client server: a session
// reads into it only once its socket is readable, and uses or copies the bytes before it next
// suspends, so a quiet client holds no buffer at all.
std::span<char> server_scratch();

// Sends `unsent`, the part of a chunk in server_scratch() that `client` did not take at once,
// from a buffer of its own (the scratch buffer is another client's as soon as we wait).
// Returns the error, if any, and the bytes sent; `tap` (null unless logging) sees them as sent.
asio::awaitable<std::tuple<std::error_code, std::size_t>> send_rest(Connection& client, std::span<const char> unsent,
                                                                    RelayTap* tap);

}  // namespace sockcat
