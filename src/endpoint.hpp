// Names to addresses and addresses to text. Resolution happens once, at set-up, so these
// report failure by throwing std::system_error with the name in the message.
#pragma once

#include <algorithm>
#include <asio/generic/basic_endpoint.hpp>
#include <asio/ip/address.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <system_error>
#include <vector>

#include "options.hpp"

namespace sockcat {

// True when `host` is an IP address without a %scope: resolve_host needs no resolver for it.
bool is_address_literal(const std::string& host);

// The error resolve_host throws when `host` has no address of the family asked for.
std::system_error no_address_of_family(const std::string& host);

// Resolves `host` to its addresses in resolver order, keeping only `family`.
// `passive` asks for addresses fit to bind. Throws std::system_error naming the host.
std::vector<asio::ip::address> resolve_host(const std::string& host, Family family, bool passive);

// The addresses a listener tries to bind, in order: the -b address(es), or the wildcard
// (dual-stack "::" first, "0.0.0.0" as fallback when IPv6 is off; one family under -4/-6).
std::vector<asio::ip::address> listen_addresses(const Options& options);

// "127.0.0.1:80" or "[::1]:80"; an IPv4-mapped IPv6 address prints as plain IPv4.
std::string format_endpoint(const asio::ip::address& address, std::uint16_t port);

// True when `ec` says an address family is unavailable on this host (IPv6 switched off),
// the one bind failure after which a listener may try its next address.
bool family_unavailable(const std::error_code& ec);

// Calls `try_bind(address)` for each of listen_addresses(options) until one returns no error.
// A failure other than family_unavailable() (address in use, permission denied) is final, so
// a taken "::" never silently degrades to IPv4 only. Throws std::system_error naming the
// address and port on failure.
template <typename TryBind>
void bind_listen_address(const Options& options, std::uint16_t port, TryBind try_bind) {
  std::error_code ec;
  asio::ip::address address;
  for (const asio::ip::address& candidate : listen_addresses(options)) {
    address = candidate;
    ec = try_bind(candidate);
    if (!ec) return;
    if (!family_unavailable(ec)) break;
  }
  throw std::system_error(ec, "cannot listen on " + format_endpoint(address, port));
}


// format_endpoint() for any Asio endpoint type.
template <typename Endpoint>
std::string format_endpoint(const Endpoint& endpoint) {
  return format_endpoint(endpoint.address(), endpoint.port());
}

// The IPv4 or IPv6 socket address `address` (`length` bytes) as an IP endpoint of `Protocol`
// (asio::ip::tcp or asio::ip::udp): how a generic endpoint becomes an IP one.
template <typename Protocol>
typename Protocol::endpoint ip_endpoint_of(const sockaddr* address, std::size_t length) {
  typename Protocol::endpoint ip;
  std::size_t size = std::min(length, ip.capacity());
  std::memcpy(ip.data(), address, size);
  ip.resize(size);
  return ip;
}

// Names a socket address of any family: as format_endpoint() for IPv4 and IPv6, as
// format_unix_address() for a Unix socket ("/path", "@NAME", "unnamed socket").
std::string format_socket_address(const sockaddr* address, std::size_t length);

// format_endpoint() for the generic endpoints of socket_types.hpp.
template <typename Protocol>
std::string format_endpoint(const asio::generic::basic_endpoint<Protocol>& endpoint) {
  return format_socket_address(endpoint.data(), endpoint.size());
}

}  // namespace sockcat
