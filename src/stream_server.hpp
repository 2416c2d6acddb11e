// The replying TCP server: every client of a listener answered through a transform,
// concurrently, on the listener's thread, until the acceptor is closed.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "transform.hpp"

namespace sockcat {

// Accepts clients on `acceptor` forever, serving each in its own coroutine with `reply`.
// A client costs no buffer while it is quiet; one whose replies back up (it does not read)
// holds at most one chunk and is not read from until that chunk is sent. Accept failures from
// resource exhaustion (EMFILE, ENFILE, ENOBUFS, ENOMEM) are reported once and retried after a
// short back-off, never in a busy loop. Returns only when the acceptor is closed.
asio::awaitable<void> serve_clients(asio::ip::tcp::acceptor& acceptor, ChunkFunction reply);

}  // namespace sockcat
