// The stream servers that take many clients at once on one thread: the replying server (every
// client answered through a transform) and the shared-stdio server (listen -k, transform none).
// Both are written against Listener and Connection alone, so they serve any transport.
#pragma once

#include <asio/awaitable.hpp>

#include "accept_loop.hpp"
#include "transform.hpp"

namespace sockcat {

// Serves every client of `listener` with `reply` until the listener is closed. A client costs
// no buffer while it is quiet; one whose replies back up (it does not read) holds at most one
// chunk and is not read from until that chunk is sent. At a client's EOF the server finishes
// sending and closes it; any failure ends only that client.
asio::awaitable<void> serve_replies(Listener& listener, ChunkFunction reply, ServerLimits limits);

// listen -k with transform none: every client's data goes to stdout (one chunk at a time, never
// interleaved within a chunk), and stdin goes to every connected client. stdin is read only
// while a client is connected, and the next chunk only once every client has taken the last
// one (a client that does not read holds stdin back for all). At stdin EOF every client's
// sending side is shut down, and later clients get EOF at once. Runs until a signal, or until
// stdout fails: returns the exit status then.
asio::awaitable<int> serve_shared_stdio(Listener& listener, ServerLimits limits, bool half_close);

}  // namespace sockcat
