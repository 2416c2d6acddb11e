// The relay's test bench: a connection of the type under test (its other end `peer`, a plain
// local socket the test drives), a source fed through `feed` and a sink read through `drain`,
// all on one io_context in the test thread.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <memory>
#include <optional>
#include <tuple>

#include "in_process.hpp"
#include "relay.hpp"
#include "transport/socket_connection.hpp"

namespace sockcat::in_process {

template <typename ConnectionType>
struct RelayRig {
  using LocalSocket = asio::local::stream_protocol::socket;

  asio::io_context ctx;
  LocalSocket peer{ctx};
  std::unique_ptr<ConnectionType> connection;
  LocalSocket source{ctx}, feed{ctx};
  LocalSocket sink{ctx}, drain{ctx};
  std::optional<RelayResult> result;

  // `connect(executor)` returns the connection and its peer, connected to each other.
  template <typename Connect>
  explicit RelayRig(Connect connect) {
    ignore_sigpipe();
    std::tie(connection, peer) = connect(ctx.get_executor());
    asio::local::connect_pair(source, feed);
    asio::local::connect_pair(sink, drain);
  }

  // Starts the relay; when it ends, its result is stored and the sink closed so that the
  // test's reader of `drain` sees EOF after the last relayed byte (as stdout's reader would).
  void start(RelayOptions options) {
    asio::co_spawn(ctx, relay(*connection, source, sink, options), [this](std::exception_ptr e, RelayResult r) {
      rethrow(e);
      result = r;
      std::error_code ignored;
      sink.close(ignored);
    });
  }

  // start() with half-close and the peer's EOF policy given, nothing else.
  void start(bool half_close, PeerEofPolicy on_peer_eof) { start(RelayOptions{half_close, on_peer_eof, {}}); }

  // Runs until all work is done (or the hang limit passes, which the caller's checks catch).
  void run_to_end() {
    ctx.restart();
    ctx.run_for(hang_limit);
  }
};

// `socket`, connected, as the relay's Connection.
template <typename Socket>
std::unique_ptr<SocketConnection> as_connection(Socket&& socket) {
  return std::make_unique<SocketConnection>(StreamSocket(std::move(socket)), StreamEndpoint(), "peer");
}

// A relay bench whose connection is a SocketConnection over a socket pair.
struct LocalRig : RelayRig<SocketConnection> {
  using local_socket = asio::local::stream_protocol::socket;
  LocalRig()
      : RelayRig([](const asio::any_io_executor& executor) {
          local_socket ours(executor), theirs(executor);
          asio::local::connect_pair(ours, theirs);
          return std::pair{as_connection(std::move(ours)), std::move(theirs)};
        }) {}
};

}  // namespace sockcat::in_process
