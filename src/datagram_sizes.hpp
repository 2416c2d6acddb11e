// The sizes both datagram ends (datagram_client.cpp, datagram_server.cpp) agree on.
#pragma once

#include <cstddef>

namespace sockcat {

// Receive buffer: larger than any UDP payload, so no datagram is ever truncated.
inline constexpr std::size_t datagram_receive_size = 64 * 1024;

// Largest payload we send: the IPv4 UDP maximum, so one stdin read is always one datagram.
inline constexpr std::size_t datagram_send_size = 65507;

// Bytes asked of stdin in one read that becomes one datagram: half a datagram with -C
// (`crlf`), so that a read of nothing but LFs still fits one datagram once converted.
constexpr std::size_t stdin_read_size(bool crlf) { return crlf ? datagram_send_size / 2 : datagram_send_size; }

}  // namespace sockcat
