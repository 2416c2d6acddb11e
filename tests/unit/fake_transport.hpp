// A transport for in-process tests that hides its kernel descriptor: every session run over it
// must take the path a transport without one takes (TLS, an in-memory stream), never splice,
// sendfile or a child that owns the socket. The bytes still travel through one end of a
// socket pair, so readiness, backpressure, half-close and cancellation behave as a real
// stream's, all on the test's one io_context.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "transport/connection.hpp"

namespace sockcat::fake {

// One end of a local socket pair, as an Asio socket (what a test's client side holds).
using LocalSocket = asio::local::stream_protocol::socket;

// A Connection over one end of a socket pair whose descriptor it never gives out:
// descriptor() and release() return -1. Makes the socket non-blocking.
class HiddenConnection final : public Connection {
 public:
  // Takes `end`, connected, reporting `remote` (named `peer`) as its peer.
  HiddenConnection(LocalSocket end, StreamEndpoint remote, std::string peer);

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  asio::awaitable<std::error_code> wait(Readiness what) override;
  std::size_t read_now(std::span<char> into, std::error_code& ec) override;
  std::size_t write_now(std::span<const char> from, std::error_code& ec) override;
  void shutdown_send(std::error_code& ec) override;
  void cancel() override;
  void close() override;
  bool is_open() const override { return socket_.is_open(); }
  StreamEndpoint local_endpoint(std::error_code& ec) const override;
  int descriptor() const override { return -1; }
  int release() override { return -1; }

  // For a test's own checks (bytes queued unread, FIONREAD): the descriptor sessions never see.
  int hidden_descriptor() const { return socket_.is_open() ? socket_.native_handle() : -1; }

 private:
  mutable LocalSocket socket_;  // mutable: Asio's native_handle() and local_endpoint() are not const
};

// A Listener fed by the test: dial() queues a connection and wakes the one waiting
// wait_for_client(); close() ends that wait with operation_aborted and drops the queue.
class FakeListener final : public Listener {
 public:
  explicit FakeListener(asio::any_io_executor executor);

  asio::awaitable<std::error_code> wait_for_client() override;
  std::unique_ptr<Connection> accept_now(std::error_code& ec) override;
  void close() override;
  bool is_open() const override { return open_; }

  // The executor the dialled sockets and the waits use.
  asio::any_io_executor executor() const { return executor_; }

  // Queues `client` for accept_now() and wakes the waiter, if any. Dropped when closed.
  void queue(std::unique_ptr<Connection> client);

  // Connections queued and not yet accepted.
  std::size_t waiting() const { return queue_.size(); }

 private:
  asio::any_io_executor executor_;
  asio::steady_timer wake_;  // never expires on its own: cancelling it wakes the waiter
  std::deque<std::unique_ptr<Connection>> queue_;
  bool open_ = true;
};

// An unnamed Unix socket address: what a socket pair's ends report as their peer.
StreamEndpoint unnamed_unix_endpoint();

// An IPv4 address and port as a StreamEndpoint, for a dialled connection's reported peer
// (the access list speaks only of IP addresses).
StreamEndpoint ipv4_endpoint(const std::string& address, unsigned short port);

// What a dial reports to the server as its peer; the default is a Unix socket pair's.
struct DialFrom {
  StreamEndpoint remote = unnamed_unix_endpoint();
  std::string peer = "fake-client";
};

// Makes a socket pair, queues one end in `listener` as a HiddenConnection and returns the
// other as a plain local socket (blocking, as Asio makes it).
LocalSocket dial(FakeListener& listener, DialFrom from = {});

// A dialled client, with the descriptor of its server end for the test's own checks (bytes
// queued unread): valid while the session holds that end open.
struct Dialled {
  LocalSocket client;
  int server_descriptor = -1;
};

// dial(), also telling the server end's hidden descriptor.
Dialled dial_watched(FakeListener& listener, DialFrom from = {});

// The same, the client's end a HiddenConnection too (so neither end offers a descriptor).
std::unique_ptr<HiddenConnection> dial_hidden(FakeListener& listener, DialFrom from = {});

// A connected pair outside any listener: first the HiddenConnection, then the plain peer.
std::pair<std::unique_ptr<HiddenConnection>, LocalSocket> hidden_pair(const asio::any_io_executor& executor,
                                                                      DialFrom from = {});

}  // namespace sockcat::fake
