// listen --forward: a relay between two sockets. Every client is served at once; each gets a
// connection of its own to the target, and bytes go both ways until both sides have ended.
#pragma once

#include <asio/awaitable.hpp>

#include "accept_loop.hpp"
#include "options.hpp"

namespace sockcat {

// The options a connection to `listening`'s --forward target is dialled with: a connect to
// its HOST:PORT or unix:PATH, with its TLS, within forward_connect_timeout.
Options forward_dial_options(const Options& listening);

// Checks before listening that connections to the target can be made as `listening` says
// (the TLS files are read): throws std::runtime_error with the one error line otherwise.
void check_forward_target(const Options& listening);

// Relays `client` and `target` both ways until both directions have ended (each source's EOF
// passed on as a half-close) or either side failed (then both are closed), and then says how
// it ended under -v ("connection from PEER closed (received N bytes, sent M)", received being
// what the client sent). `idle` (non-zero: -i) ends it once no byte moved for that long. A
// quiet pair holds no buffer. Returns when the client's direction is over; the target's may
// finish later on its own.
asio::awaitable<void> relay_pair(std::unique_ptr<Connection> client, std::unique_ptr<Connection> target,
                                 std::chrono::milliseconds idle);

// Relays every client of `listener` to the target `dial` names (made by forward_dial_options)
// until the listener is closed. Each client is connected to the target when it arrives; one
// whose target refuses or cannot be reached is closed with one -v line, and the server goes
// on. Each direction ends at its source's EOF, which is passed on as a half-close, so a reply
// that comes after a client's EOF still reaches it; a failure on either side closes both.
// A quiet client holds no buffer: bytes are read into the thread's scratch buffer and copied
// only when the other side cannot take them at once (then that direction reads nothing more
// until they are gone).
asio::awaitable<void> serve_forward(Listener& listener, const Options& dial, ServerLimits limits);

}  // namespace sockcat
