// The framed client (connect --framing line|length over TCP): every stdin line goes out as one
// message, and every message that comes back is written to stdout as one line, so requests
// and replies stay paired however TCP cuts or joins segments.
#pragma once

#include <asio/awaitable.hpp>

#include "options.hpp"
#include "relay_tap.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// Runs the session on `connection` (named by its peer()) until the peer closes: stdin
// lines (LF or CRLF; a last line without LF counts) become messages in options.framing, and
// at stdin EOF our sending side is shut down (unless --no-shutdown). The peer's EOF ends the
// session even if stdin goes on (no reply could come back). A stdin line or a received message
// over options.max_message, or a message cut short by the peer's EOF, ends it with one error
// line and status 1. -q bounds the wait after stdin EOF. `tap` (if any: -o, -x, --stats)
// sees the framed bytes on the wire. Returns the exit status.
asio::awaitable<int> framed_session(Connection& connection, const Options& options, RelayTap* tap);

}  // namespace sockcat
