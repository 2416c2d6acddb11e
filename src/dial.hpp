// Reaching a peer from where the options say: the local address and port to send from (-s,
// --source-port), binding to them, and a TCP connect bounded by -w. Shared by the relay's
// connect and the port check, TCP and UDP, so a bad source is reported one way everywhere.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "options.hpp"

namespace sockcat {

// The addresses -s names, resolved (fit to bind; of -4/-6's family): empty without -s.
// Throws std::system_error naming the address when it does not resolve.
std::vector<asio::ip::address> source_addresses(const Options& options);

// The local address and port to send from toward `target`, if -s or --source-port asks
// (`sources` are -s's resolved addresses; the port is 0 without --source-port). Throws
// std::system_error when -s has no address of target's family.
std::optional<std::pair<asio::ip::address, std::uint16_t>> source_for(const Options& options,
                                                                      const asio::ip::address& target,
                                                                      const std::vector<asio::ip::address>& sources);

// How the source the user gave is named in a bind failure: "10.9.9.9", "10.9.9.9 port 5000"
// or "port 5000".
std::string describe_source(const Options& options);

// Binds the open `socket` to `local`; `reuse` sets SO_REUSEADDR first (TCP: a source port in
// TIME_WAIT stays usable). Throws std::system_error "bind to SOURCE: reason" on failure, so
// a bad -s or a taken --source-port is never blamed on the destination.
template <typename Socket>
void bind_source(Socket& socket, const typename Socket::endpoint_type& local, bool reuse, const Options& options) {
  std::error_code ec;
  if (reuse) socket.set_option(typename Socket::reuse_address(true), ec);
  socket.bind(local, ec);
  if (ec) throw std::system_error(ec, "bind to " + describe_source(options));
}

// Opens `socket`, binds it to source_for(options, target, sources) if any (see bind_source:
// throws on a failed bind) and connects it to `target`, bounded by -w (then timed_out).
// Returns the connect's failure, if any.
asio::awaitable<std::error_code> connect_tcp(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& target,
                                             const std::vector<asio::ip::address>& sources, const Options& options);

}  // namespace sockcat
