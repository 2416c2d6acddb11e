#include "transport/socket_connection.hpp"

#include <asio/ip/tcp.hpp>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoint.hpp"
#include "with_error.hpp"

namespace sockcat {

SocketConnection::SocketConnection(StreamSocket socket, const StreamEndpoint& remote, std::string peer)
    : Connection(remote, std::move(peer)), socket_(std::move(socket)) {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
}

SocketConnection::~SocketConnection() {
  if (lent_ != -1) ::close(lent_);
}

int SocketConnection::lend_descriptor() {
  if (lent_ != -1) return lent_;
  if (!socket_.is_open()) return -1;
  std::error_code ec;
  int fd = socket_.release(ec);  // off the event loop; the descriptor stays open
  if (ec) return -1;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags != -1) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  lent_ = fd;
  return fd;
}

void SocketConnection::take_back() const {
  if (lent_ == -1) return;
  std::error_code ignored;
  socket_.assign(remote().protocol(), lent_, ignored);
  lent_ = -1;
  socket_.non_blocking(true, ignored);
}

int SocketConnection::descriptor() const {
  if (lent_ != -1) return lent_;
  return socket_.is_open() ? socket_.native_handle() : -1;
}

StreamEndpoint SocketConnection::local_endpoint(std::error_code& ec) const {
  take_back();
  return socket_.local_endpoint(ec);
}

asio::awaitable<std::error_code> SocketConnection::wait(Readiness what) {
  take_back();
  auto type = what == Readiness::readable   ? StreamSocket::wait_read
              : what == Readiness::writable ? StreamSocket::wait_write
                                            : StreamSocket::wait_error;
  auto [ec] = co_await socket_.async_wait(type, with_error);
  co_return ec;
}

std::size_t SocketConnection::read_now(std::span<char> into, std::error_code& ec) {
  take_back();
  return socket_.read_some(asio::buffer(into.data(), into.size()), ec);
}

std::size_t SocketConnection::write_now(std::span<const char> from, std::error_code& ec) {
  take_back();
  return socket_.write_some(asio::buffer(from.data(), from.size()), ec);
}

void SocketConnection::shutdown_send(std::error_code& ec) {
  if (lent_ != -1) {
    ec = ::shutdown(lent_, SHUT_WR) == 0 ? std::error_code() : std::error_code(errno, asio::error::get_system_category());
    return;
  }
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
}

void SocketConnection::cancel() {
  std::error_code ignored;
  socket_.cancel(ignored);
}

void SocketConnection::close() {
  if (lent_ != -1) {
    ::close(lent_);
    lent_ = -1;
  }
  std::error_code ignored;
  socket_.close(ignored);
}

int SocketConnection::release() {
  take_back();
  std::error_code ec;
  socket_.non_blocking(false, ec);
  int fd = socket_.release(ec);
  return ec ? -1 : fd;
}

void SocketConnection::send_small_writes_at_once() {
  take_back();
  std::error_code ignored;
  if (remote().protocol().family() != AF_UNIX) socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

SocketListener::SocketListener(StreamAcceptor acceptor) : acceptor_(std::move(acceptor)) {
  std::error_code ignored;
  acceptor_.non_blocking(true, ignored);
}

asio::awaitable<std::error_code> SocketListener::wait_for_client() {
  auto [ec] = co_await acceptor_.async_wait(StreamAcceptor::wait_read, with_error);
  co_return ec;
}

std::unique_ptr<Connection> SocketListener::accept_now(std::error_code& ec) {
  StreamEndpoint remote;  // from accept(): valid even if the client has reset since
  StreamSocket socket = acceptor_.accept(remote, ec);
  if (ec) return nullptr;
  return std::make_unique<SocketConnection>(std::move(socket), remote, format_endpoint(remote));
}

void SocketListener::close() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

std::unique_ptr<Connection> connected_socket(StreamSocket socket) {
  StreamEndpoint remote = socket.remote_endpoint();
  return std::make_unique<SocketConnection>(std::move(socket), remote, format_endpoint(remote));
}

}  // namespace sockcat
