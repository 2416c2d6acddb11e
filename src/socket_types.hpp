// The socket types the sessions are written against: Asio's generic protocols, so that one
// session serves TCP and Unix stream sockets (and UDP and Unix datagram sockets) alike. They
// are the same reactor sockets as asio::ip::tcp's; only the endpoint is a plain sockaddr.
#pragma once

#include <asio/basic_socket_acceptor.hpp>
#include <asio/generic/datagram_protocol.hpp>
#include <asio/generic/stream_protocol.hpp>

namespace sockcat {

// A connected stream socket of any family (TCP, Unix).
using StreamSocket = asio::generic::stream_protocol::socket;

// A listening stream socket of any family; accepts StreamSockets.
using StreamAcceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

// A stream socket address of any family (a plain sockaddr).
using StreamEndpoint = asio::generic::stream_protocol::endpoint;

// A datagram socket of any family (UDP, Unix).
using DatagramSocket = asio::generic::datagram_protocol::socket;

}  // namespace sockcat
