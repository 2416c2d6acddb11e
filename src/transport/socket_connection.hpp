// Connection and Listener over a kernel stream socket of any family: what the tcp and unix
// transports yield. The bytes go through the socket unchanged, so its descriptor is offered
// to splice, sendfile, TCP_INFO and a child program.
#pragma once

#include <string>

#include "socket_types.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// A connected stream socket (TCP or Unix) as a Connection. Makes the socket non-blocking.
class SocketConnection final : public Connection {
 public:
  // Takes `socket`, connected to `remote` (named `peer`).
  SocketConnection(StreamSocket socket, const StreamEndpoint& remote, std::string peer);

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  asio::awaitable<std::error_code> wait(Readiness what) override;
  std::size_t read_now(std::span<char> into, std::error_code& ec) override;
  std::size_t write_now(std::span<const char> from, std::error_code& ec) override;
  void shutdown_send(std::error_code& ec) override;
  void cancel() override;
  void close() override;
  bool is_open() const override { return lent_ != -1 || socket_.is_open(); }
  StreamEndpoint local_endpoint(std::error_code& ec) const override;
  int descriptor() const override;
  int release() override;
  int lend_descriptor() override;
  void send_small_writes_at_once() override;
  ~SocketConnection() override;

 private:
  // Puts a lent socket back into socket_ (non-blocking, on the event loop); nothing if not lent.
  void take_back() const;

  mutable StreamSocket socket_;  // mutable: Asio's native_handle() and local_endpoint() are not const
  mutable int lent_ = -1;        // the socket while lent to copy threads (socket_ then empty)
};

// A listening stream socket (TCP or Unix) as a Listener.
class SocketListener final : public Listener {
 public:
  // Takes `acceptor`, bound and listening.
  explicit SocketListener(StreamAcceptor acceptor);

  asio::awaitable<std::error_code> wait_for_client() override;
  std::unique_ptr<Connection> accept_now(std::error_code& ec) override;
  void close() override;
  bool is_open() const override { return acceptor_.is_open(); }

 private:
  StreamAcceptor acceptor_;
};

// A socket the caller has connected to its peer, as a Connection named by that peer's
// address (the tcp and unix transports' dial). Throws std::system_error if the peer is gone.
std::unique_ptr<Connection> connected_socket(StreamSocket socket);

}  // namespace sockcat
