// Binding a listener, TCP or UDP, in one place: the per-address sequence (open, reuse the
// address, dual-stack or IPv6-only, bind, and for a stream acceptor listen) over the addresses
// bind_listen_address() chooses, and the -v line that says where it listens.
#pragma once

#include <asio/ip/v6_only.hpp>
#include <asio/socket_base.hpp>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "diag.hpp"
#include "endpoint.hpp"
#include "options.hpp"

namespace sockcat {

// Opens and binds `socket` (an ip::tcp::acceptor, which then listens, or an ip::udp::socket)
// on `port` of the first address of listen_addresses(options) that takes it, as
// bind_listen_address() says; then says "listening on ADDRESS (PROTOCOL_NAME)" under -v.
// The wildcard "::" without -6 serves IPv4 too; an explicit -6 keeps it IPv6-only.
// Throws std::system_error naming the address and port on failure.
template <typename Socket>
void bind_listener(Socket& socket, const Options& options, std::uint16_t port, std::string_view protocol_name) {
  bind_listen_address(options, port, [&](const asio::ip::address& address) {
    typename Socket::endpoint_type endpoint(address, port);
    std::error_code ec;
    socket.close(ec);
    socket.open(endpoint.protocol(), ec);
    if (!ec) socket.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && address.is_v6()) socket.set_option(asio::ip::v6_only(options.family == Family::v6), ec);
    if (!ec) socket.bind(endpoint, ec);
    if constexpr (requires { socket.listen(asio::socket_base::max_listen_connections, ec); }) {
      if (!ec) socket.listen(asio::socket_base::max_listen_connections, ec);
    }
    return ec;
  });
  diag::info(1, "listening on " + format_endpoint(socket.local_endpoint()) + " (" + std::string(protocol_name) + ")");
}

}  // namespace sockcat
