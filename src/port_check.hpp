// The port check (connect -z): which of a list of ports answer, over TCP (a completed
// handshake, closed at once) or UDP (-z -u: one "\0" datagram, then ICMP decides).
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "options.hpp"

namespace sockcat {

// How long a UDP probe waits for ICMP "port unreachable" when -w does not say.
inline constexpr std::chrono::milliseconds default_udp_probe_wait{1000};

// What a probe learnt about one port.
enum class PortState {
  open,           // TCP: the handshake completed; UDP: the port answered with a datagram
  open_filtered,  // UDP: no answer and no ICMP within the wait (open, or dropped on the way)
  closed,         // refused: TCP RST, or ICMP port unreachable
  failed,         // TCP: no answer within -w, unreachable, or another error
};

// The -v line of one probed port, without "sockcat: ": "HOST port 8080 [tcp/http-alt]: open".
// The bracket is /etc/services' name for the port (left out when it has none); `reason`
// replaces the state's word for a failed probe ("timed out", "No route to host").
std::string describe_probe(const std::string& host, std::uint16_t port, bool udp, PortState state,
                           const std::string& reason);

// Checks each port of options.port (a port list) on options.host, 64 probes at a time, from -s and
// --source-port if given. TCP: a port is open when a connect completes within -w (the
// system's own bound without it). UDP (options.udp): each port gets one "\0" datagram on a
// connected socket; it is closed when ICMP port unreachable comes back within -w (default
// default_udp_probe_wait), open|filtered otherwise. -v prints every port's line
// (describe_probe); without -v nothing is printed: the exit status answers, 0 when any port
// is open (or open|filtered), 1 when none is. Throws std::system_error when a name does not
// resolve or the source cannot be bound (one line, whatever the verbosity).
asio::awaitable<int> check_ports(const Options& options);

}  // namespace sockcat
