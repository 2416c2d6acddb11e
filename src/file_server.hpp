// listen --send-file: each client gets the whole of one file (by sendfile(2) when its
// connection is a kernel socket), then the server shuts down its sending side and closes.
// stdin and stdout are not used.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "accept_loop.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// After the file, how long the server waits for the client to close (discarding anything it
// sends meanwhile, so that closing never resets the connection) before it closes anyway.
inline constexpr std::chrono::seconds send_file_linger{5};

// Checks that `path` is a regular file this process can open for reading. Throws
// std::system_error naming the path otherwise (main turns it into one line and exit 1).
void check_file_to_send(const std::string& path);

// Serves the clients of `listener` with the file at `path`, opened anew for each client (so
// each gets the contents of the moment it arrives), sent to its end of file. With
// `keep_open`, serves clients concurrently until the listener is closed and returns 0; a client
// that leaves early, or a file that can no longer be opened, ends only that client (-v line;
// the latter also an error line). Without, serves the first client that the access lists
// admit (see accept_admitted) and returns 0 when it got the
// whole file, else prints one line and returns 1. `limits.idle_timeout` closes a client that
// takes no byte of the file for that long.
asio::awaitable<int> serve_file(Listener& listener, const std::string& path, bool keep_open, ServerLimits limits);

}  // namespace sockcat
