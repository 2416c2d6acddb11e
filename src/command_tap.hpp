// -e/-c under -o, -x or --stats: the bytes must pass through sockcat to be seen, so the
// program gets one end of a socket pair instead of the connection, and sockcat relays between
// the connection and the other end, showing the tap everything that crosses.
#pragma once

#include <asio/awaitable.hpp>
#include <string>

#include "exec_session.hpp"
#include "relay_tap.hpp"

namespace sockcat {

// Runs `command` as run_command() does, but relays its stdin and stdout to `connection` through
// `tap` ('<' what the client sent, '>' what the program wrote). Each side's end of file reaches
// the other as a half-close; the relay ends once the program has exited and its output has
// ended (or has nobody left to reach). Leaves `connection` closed. Returns false, after one
// error line, when the program could not be started.
asio::awaitable<bool> run_command_through_tap(StreamSocket& connection, const ConnectionEnds& ends,
                                              const ChildCommand& command, const std::string& label, RelayTap& tap);

}  // namespace sockcat
