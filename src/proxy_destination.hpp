// Where a proxy server's tunnels may go, and reaching one. The destination's name is looked up
// without blocking the event loop; every address it has is checked against --proxy-allow and
// --proxy-deny, and its port against --proxy-ports; only the allowed addresses are tried, in
// the resolver's order, all within one time limit. The check is on the address actually
// connected to, so a name cannot smuggle in a forbidden address.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "access_list.hpp"
#include "options.hpp"
#include "proxy/http_connect.hpp"
#include "proxy/socks.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// Why a destination could not be reached; each has its SOCKS5 reply and its HTTP status.
enum class DestinationFailure {
  not_allowed,          // --proxy-ports, --proxy-allow/--proxy-deny, or the unspecified address: 2, 403
  not_resolved,         // the name has no address (of -4/-6's family; -n: a name at all): 4, 502
  connection_refused,   // ECONNREFUSED: 5, 502
  network_unreachable,  // ENETUNREACH: 3, 502
  host_unreachable,     // EHOSTUNREACH, EHOSTDOWN: 4, 502
  timed_out,            // the lookup or the connects outlasted their limit (or ETIMEDOUT): 4, 504
  failed,               // anything else: 1 (general failure), 502
};

// The failure a connect's (or a lookup's) error stands for; an error that means neither
// refused, unreachable nor timed out is `failed`.
DestinationFailure failure_of(const std::error_code& ec);

// The SOCKS5 REP code a failure is answered with.
Socks5Rep socks5_rep_of(DestinationFailure failure);

// The HTTP status a failure is answered with.
HttpRefusal http_refusal_of(DestinationFailure failure);

// The limits on destinations, made once at start-up.
class DestinationRules {
 public:
  // `addresses`: --proxy-allow/--proxy-deny (empty: every address); `ports`: --proxy-ports,
  // ascending (empty: every port).
  DestinationRules(AccessList addresses, std::vector<std::uint16_t> ports);

  // True when `port` may be reached.
  bool allows_port(std::uint16_t port) const;

  // True when `address` may be reached: never the unspecified address (0.0.0.0, ::, which a
  // connect takes to this machine itself, behind any list's back), otherwise as the lists say
  // (an IPv4-mapped IPv6 address is checked as its IPv4 address).
  bool allows(const asio::ip::address& address) const;

 private:
  AccessList addresses_;
  std::vector<std::uint16_t> ports_;
};

// How one attempt to reach a destination went.
struct Reached {
  std::unique_ptr<Connection> connection;  // the connection to the destination; null on failure
  asio::ip::address address;               // the address connected to (on failure: the last tried, if any)
  DestinationFailure failure = DestinationFailure::failed;  // meaningful when `connection` is null
  std::string reason;                      // on failure, why, in one line ("connect to 127.0.0.1:9: ...")
};

// How a destination is looked up.
struct LookupRules {
  Family family = Family::any;  // -4/-6: only addresses of this family are tried
  bool numeric_only = false;    // -n: a name is not looked up (not_resolved)
};

// Reaches `target` for a tunnel: checks its port, resolves its host (an IP literal needs no
// lookup), keeps the addresses `rules` allow and connects to each in turn until one accepts,
// the lookup and all connects within `limit`. Never throws for the destination's sake: the
// failure and its reason are in the result.
asio::awaitable<Reached> reach_destination(const ProxyTarget& target, const DestinationRules& rules,
                                           const LookupRules& lookup, std::chrono::milliseconds limit);

// The address and port our end of `connection` has, as a SOCKS5 reply's bound address: an
// IPv4-mapped address as IPv4, an IPv6 scope left out; 0.0.0.0 port 0 when it cannot be told.
ProxyTarget bound_address(const Connection& connection);

// "host:port", or "[v6]:port" for an IPv6 literal: a destination as messages name it.
std::string destination_name(const ProxyTarget& target);

}  // namespace sockcat
