// Which way bytes cross the wire, for everything that watches a relay.
#pragma once

namespace sockcat {

// sent: from our stdin to the peer; received: from the peer to our stdout.
enum class Direction { sent = 0, received = 1 };

}  // namespace sockcat
