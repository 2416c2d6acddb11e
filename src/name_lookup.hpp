// Host names to addresses without blocking the event loop's thread: a server's other clients
// are served, and their own lookups run, while one client's name is being looked up.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "options.hpp"

namespace sockcat {

// resolve_host(host, family, false), without blocking the thread: an IP literal as it is; a
// name looked up on a thread of its own (so lookups run side by side), which the calling
// coroutine waits for within `limit` (0: within the resolver's own limits). Throws
// std::system_error as resolve_host does, and timed_out ("no answer in time looking 'HOST'
// up") past `limit`; a lookup given up on ends on its thread, unread.
asio::awaitable<std::vector<asio::ip::address>> resolve_host_async(const std::string& host, Family family,
                                                                    std::chrono::milliseconds limit);

}  // namespace sockcat
