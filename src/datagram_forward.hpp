// listen -u --forward: a UDP relay. Each sender gets a UDP socket of its own, connected to the
// target, so the target sees one peer per sender and its answers find their way back.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>

#include "access_list.hpp"
#include "options.hpp"
#include "socket_types.hpp"

namespace sockcat {

// How long a UDP forward session lasts without a datagram either way, unless -i says.
inline constexpr std::chrono::milliseconds default_forward_udp_idle{60000};

// Relays the datagrams arriving on `socket` (bound as `options` say) to the --forward target,
// until the socket is closed: a sender's first datagram opens its session (a socket connected
// to the target), each later one goes out on it unchanged, and every datagram the target sends
// back on it goes to that sender from `socket`. A session ends after -i (default
// default_forward_udp_idle) without a datagram either way, with one -v line. -m caps the
// sessions open at once (a new sender over it has its datagrams dropped, noted under -v);
// senders `access` refuses are dropped unread. A datagram that finds a socket buffer full is
// dropped, as UDP may drop it anyway. The target's name is resolved once, before the first
// datagram; an ICMP refusal from the target is noted under -v and changes nothing else.
asio::awaitable<int> serve_datagram_forward(DatagramSocket& socket, const Options& options, const AccessList& access);

}  // namespace sockcat
