// -e/-c over datagrams (-u: UDP, or Unix with -U): every sender gets a program of its own, as
// ncat gives each UDP peer one. A datagram socket cannot be handed to one sender's child, so
// each child gets pipes that sockcat pumps: the datagrams from its sender are written to its
// stdin, and each read of its stdout (at most one datagram's worth) goes back to that sender
// as one datagram. The child's exit ends its sender's session.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <optional>

#include "access_list.hpp"
#include "exec_session.hpp"
#include "relay_tap.hpp"
#include "sender_taps.hpp"
#include "socket_types.hpp"

namespace sockcat {

// How a datagram command server treats its senders.
struct DatagramCommandLimits {
  bool keep_open = false;                     // -k: serve any number of senders; else the first one only
  unsigned max_conns = 0;                     // -m: programs running at once (0 = no limit)
  std::chrono::milliseconds idle_timeout{0};  // -i: end a session quiet both ways this long (0 = never)
  const AccessList* access = nullptr;         // --allow/--deny (nullptr = everyone)
  SenderTaps* taps = nullptr;                 // listen -o/-x/--stats: a labelled tap per sender (null: not logging)
  RelayTap* peer_tap = nullptr;               // connect -o/-x/--stats: the one peer's tap (null: not logging)
};

// Runs `command` for the senders of datagrams to `socket` until the socket is closed (with -k)
// or the one session has ended (without). A sender that the access lists refuse, that is over
// -m, or that is not the one being served (no -k) has its datagrams dropped before any child
// starts, noted under -v. When the pipe to a child is full, datagrams for it are dropped too
// (UDP promises no delivery; no queue grows). An idle session (-i) has its program's stdin
// closed; if the program stays quiet for another -i it gets SIGTERM. `peer`: a connected socket's
// peer (connect -u -e), whose program starts at once; it ends the run when it exits, and an ICMP
// refusal from that peer ends the program's stdin (exit 1). Returns the exit status: 1 when a
// program could not be started without -k, or the peer refused; else 0.
asio::awaitable<int> serve_datagram_commands(DatagramSocket& socket, const ChildCommand& command,
                                             DatagramCommandLimits limits,
                                             std::optional<DatagramSocket::endpoint_type> peer = std::nullopt);

}  // namespace sockcat
