// The framed server (listen --framing line|length with a replying transform): each client's
// stream is cut into messages, and each whole message is answered with one message. Written
// against Listener and Connection alone, so it serves any transport.
#pragma once

#include <asio/awaitable.hpp>

#include "accept_loop.hpp"
#include "framing.hpp"
#include "transform.hpp"

namespace sockcat {

// What the framed server does with every client.
struct FramedService {
  const Framing* framing = nullptr;  // how requests are cut and replies framed (line or length)
  ChunkFunction reply = nullptr;     // the transform, applied to each whole message payload
  std::size_t max_message = 0;       // a larger message (sent or announced) closes the client
};

// Serves every client of `listener` until it is closed. Each whole message is answered, in
// order, with one message of the same framing. A client is buffered at most one incomplete
// message (at most `max_message` plus its framing) and one read, and is not read from while
// its replies are unsent. A client that sends or announces a message over the limit is closed
// without a reply (one line under -v); one that ends in the middle of a message gets its other
// replies, and the server prints one line about the truncated message (whatever -v says).
// Any failure ends only that client.
asio::awaitable<void> serve_framed(Listener& listener, FramedService service, ServerLimits limits);

}  // namespace sockcat
