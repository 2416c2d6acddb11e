#include "proxy_destination.hpp"

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <variant>

#include "dial.hpp"
#include "endpoint.hpp"
#include "name_lookup.hpp"
#include "parse.hpp"
#include "system_error.hpp"
#include "transport/socket_connection.hpp"

namespace sockcat {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One row per failure: how each protocol answers it.
struct FailureReply {
  DestinationFailure failure;
  Socks5Rep rep;
  HttpRefusal status;
};

constexpr FailureReply failure_replies[] = {
    {DestinationFailure::not_allowed, Socks5Rep::not_allowed, HttpRefusal::forbidden},
    {DestinationFailure::not_resolved, Socks5Rep::host_unreachable, HttpRefusal::bad_gateway},
    {DestinationFailure::connection_refused, Socks5Rep::connection_refused, HttpRefusal::bad_gateway},
    {DestinationFailure::network_unreachable, Socks5Rep::network_unreachable, HttpRefusal::bad_gateway},
    {DestinationFailure::host_unreachable, Socks5Rep::host_unreachable, HttpRefusal::bad_gateway},
    {DestinationFailure::timed_out, Socks5Rep::host_unreachable, HttpRefusal::gateway_timeout},
    {DestinationFailure::failed, Socks5Rep::general_failure, HttpRefusal::bad_gateway},
};

const FailureReply& reply_row(DestinationFailure failure) {
  for (const FailureReply& row : failure_replies)
    if (row.failure == failure) return row;
  return failure_replies[std::size(failure_replies) - 1];
}

// The 16-byte form of `address` (IPv4 made IPv4-mapped), as the access lists compare.
std::array<unsigned char, 16> bytes_of(const asio::ip::address& address) {
  if (address.is_v6()) return address.to_v6().to_bytes();
  return asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

// True for 0.0.0.0, :: and ::ffff:0.0.0.0.
bool is_unspecified(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_unspecified();
  return address.is_unspecified();
}

// What a failed reach reports.
Reached failure(DestinationFailure why, std::string reason, asio::ip::address address = {}) {
  Reached reached;
  reached.failure = why;
  reached.reason = std::move(reason);
  reached.address = address;
  return reached;
}

// The addresses `target.host` stands for, in `lookup`'s family: an IP literal as it is, a name
// looked up (unless -n); or the failure.
asio::awaitable<std::variant<std::vector<asio::ip::address>, Reached>> addresses_of(const ProxyTarget& target,
                                                                                      const LookupRules& lookup,
                                                                                      Clock::time_point deadline) {
  std::error_code literal_error;
  asio::ip::address literal = asio::ip::make_address(target.host, literal_error);
  std::vector<asio::ip::address> addresses;
  if (!literal_error) {
    addresses.push_back(literal);
  } else if (lookup.numeric_only) {
    co_return failure(DestinationFailure::not_resolved, quote(target.host) + " is a name, and -n forbids lookups");
  } else {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const std::chrono::milliseconds limit = std::max(left, std::chrono::milliseconds(1));
    std::optional<Reached> refused;
    try {
      addresses = co_await resolve_host_async(target.host, lookup.family, limit);
    } catch (const std::system_error& error) {
      const bool too_late = error.code() == std::errc::timed_out;
      refused = failure(too_late ? DestinationFailure::timed_out : DestinationFailure::not_resolved, error.what());
    }
    if (refused) co_return std::move(*refused);
  }
  std::erase_if(addresses, [&](const asio::ip::address& address) {
    return (lookup.family == Family::v4 && !address.is_v4()) || (lookup.family == Family::v6 && !address.is_v6());
  });
  if (addresses.empty())
    co_return failure(DestinationFailure::not_resolved, "no address of the -4/-6 family for " + quote(target.host));
  co_return std::move(addresses);
}

// Connects to each of `addresses` at `port` in turn, within `deadline` for all of them: the
// first connection made, or the last failure.
asio::awaitable<Reached> connect_first(const std::vector<asio::ip::address>& addresses, std::uint16_t port,
                                       Clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  Options dial;  // connect_tcp's -w: the time left; no -s, no --source-port
  dial.role = Role::connect;
  const std::vector<asio::ip::address> no_sources;  // named: no temporary in the co_await below
  Reached last = failure(DestinationFailure::timed_out, "no time left to connect");
  for (const asio::ip::address& address : addresses) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    dial.connect_timeout = left;
    tcp::socket socket(executor);
    const tcp::endpoint endpoint(address, port);
    std::error_code ec = co_await connect_tcp(socket, endpoint, no_sources, dial);
    if (!ec) {
      try {
        Reached reached;
        reached.connection = connected_socket(StreamSocket(std::move(socket)));
        reached.address = address;
        co_return std::move(reached);
      } catch (const std::system_error& gone) {  // the destination went away at once
        ec = gone.code();
      }
    }
    last = failure(failure_of(ec), "connect to " + format_endpoint(endpoint) + ": " + ec.message(), address);
  }
  co_return std::move(last);
}

}  // namespace

DestinationFailure failure_of(const std::error_code& ec) {
  switch (errno_of(ec)) {
    case ECONNREFUSED: return DestinationFailure::connection_refused;
    case ENETUNREACH: return DestinationFailure::network_unreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN: return DestinationFailure::host_unreachable;
    case ETIMEDOUT: return DestinationFailure::timed_out;
    default: return DestinationFailure::failed;
  }
}

Socks5Rep socks5_rep_of(DestinationFailure failure) { return reply_row(failure).rep; }

HttpRefusal http_refusal_of(DestinationFailure failure) { return reply_row(failure).status; }

DestinationRules::DestinationRules(AccessList addresses, std::vector<std::uint16_t> ports)
    : addresses_(std::move(addresses)), ports_(std::move(ports)) {}

bool DestinationRules::allows_port(std::uint16_t port) const {
  return ports_.empty() || std::binary_search(ports_.begin(), ports_.end(), port);
}

bool DestinationRules::allows(const asio::ip::address& address) const {
  return !is_unspecified(address) && addresses_.admits(bytes_of(address));
}

asio::awaitable<Reached> reach_destination(const ProxyTarget& target, const DestinationRules& rules,
                                           const LookupRules& lookup, std::chrono::milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  if (!rules.allows_port(target.port))
    co_return failure(DestinationFailure::not_allowed, "port " + std::to_string(target.port) + " is not in --proxy-ports");
  auto found = co_await addresses_of(target, lookup, deadline);
  if (Reached* failed = std::get_if<Reached>(&found)) co_return std::move(*failed);
  std::vector<asio::ip::address> addresses = std::get<std::vector<asio::ip::address>>(std::move(found));
  std::vector<asio::ip::address> allowed;
  for (const asio::ip::address& address : addresses)
    if (rules.allows(address)) allowed.push_back(address);
  if (allowed.empty())
    co_return failure(DestinationFailure::not_allowed, addresses.front().to_string() +
                                                           (addresses.size() > 1 ? " (and every other address)" : "") +
                                                           " is not an allowed destination",
                      addresses.front());
  co_return co_await connect_first(allowed, target.port, deadline);
}

ProxyTarget bound_address(const Connection& connection) {
  std::error_code ec;
  StreamEndpoint local = connection.local_endpoint(ec);
  if (ec || (local.data()->sa_family != AF_INET && local.data()->sa_family != AF_INET6)) return {"0.0.0.0", 0};
  tcp::endpoint ip = ip_endpoint_of<tcp>(local.data(), local.size());
  asio::ip::address address = ip.address();
  if (address.is_v6()) {
    asio::ip::address_v6 v6 = address.to_v6();
    v6.scope_id(0);
    address = v6;
    if (v6.is_v4_mapped()) address = asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
  }
  return {address.to_string(), ip.port()};
}

std::string destination_name(const ProxyTarget& target) {
  const bool v6 = target.host.find(':') != std::string::npos;
  return (v6 ? "[" + printable(target.host) + "]" : printable(target.host)) + ":" + std::to_string(target.port);
}

}  // namespace sockcat
