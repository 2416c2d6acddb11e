// listen --broker and --chat: every client's data goes to every other client, and the
// server's own stdin goes to every client (as ncat's broker does); stdout is not used. One
// coroutine per client reads it, and one writes its queue; one more reads stdin.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>

#include "accept_loop.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// Bytes waiting for one broker client at most (beyond what its connection buffers). A sender
// whose data would pass it is not read from until the client takes some (backpressure), so
// memory stays bounded: clients x (this + one 64 KiB chunk).
inline constexpr std::size_t broker_queue_limit = 1 << 20;

// A client that a sender is waiting for and that takes no byte for this long is dropped, so
// one stalled reader holds up the others for this long at most.
inline constexpr std::chrono::seconds broker_stall_limit{2};

// How a broker uses its own stdio and what it relays.
struct BrokerMode {
  bool chat = false;           // --chat: labelled lines, terminal controls stripped
  bool read_stdin = true;      // false with --recv-only: stdin is never read
  bool relay_clients = true;   // false with --send-only: what clients send is read and dropped
};

// Serves the clients of `listener` until it is closed. What a client sends goes to every other
// client connected at the time, never back to itself, in the order it was sent; with `chat`,
// a line at a time as "<userN> line" (N the connection's serial number from 1) with terminal
// controls stripped, and "<announce>" lines tell who joins and leaves. stdin goes to every
// client (with `chat` as "<user0> line"); it is read only while a client is connected, and its
// end ends nothing (stdin unused, as with </dev/null, changes nothing). A slower client holds
// the senders (stdin too) back; a stalled one is dropped (see broker_stall_limit). At a
// client's end of file the server sends it what is already queued for it and closes it. A
// failure ends only that client.
// Without `relay_clients`, a client that half-closes keeps getting stdin, and at stdin's end
// the broker stops accepting, lets every client take what is queued for it, closes them and
// returns exit_ok; otherwise it returns only if `listener` is closed from outside.
asio::awaitable<int> serve_broker(Listener& listener, ServerLimits limits, BrokerMode mode);

}  // namespace sockcat
