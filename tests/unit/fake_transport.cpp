#include "fake_transport.hpp"

#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <chrono>
#include <sys/socket.h>
#include <sys/un.h>

#include "with_error.hpp"

namespace sockcat::fake {

HiddenConnection::HiddenConnection(LocalSocket end, StreamEndpoint remote, std::string peer)
    : Connection(remote, std::move(peer)), socket_(std::move(end)) {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
}

asio::awaitable<std::error_code> HiddenConnection::wait(Readiness what) {
  auto type = what == Readiness::readable   ? LocalSocket::wait_read
              : what == Readiness::writable ? LocalSocket::wait_write
                                            : LocalSocket::wait_error;
  auto [ec] = co_await socket_.async_wait(type, with_error);
  co_return ec;
}

std::size_t HiddenConnection::read_now(std::span<char> into, std::error_code& ec) {
  return socket_.read_some(asio::buffer(into.data(), into.size()), ec);
}

std::size_t HiddenConnection::write_now(std::span<const char> from, std::error_code& ec) {
  return socket_.write_some(asio::buffer(from.data(), from.size()), ec);
}

void HiddenConnection::shutdown_send(std::error_code& ec) {
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
}

void HiddenConnection::cancel() {
  std::error_code ignored;
  socket_.cancel(ignored);
}

void HiddenConnection::close() {
  std::error_code ignored;
  socket_.close(ignored);
}

StreamEndpoint HiddenConnection::local_endpoint(std::error_code& ec) const {
  auto local = socket_.local_endpoint(ec);
  if (ec) return {};
  return StreamEndpoint(local.data(), local.size());
}

FakeListener::FakeListener(asio::any_io_executor executor)
    : executor_(executor), wake_(executor, std::chrono::steady_clock::time_point::max()) {}

asio::awaitable<std::error_code> FakeListener::wait_for_client() {
  if (open_ && queue_.empty()) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await wake_.async_wait(with_error);  // ends when queue() or close() cancels it
  }
  if (!open_) co_return asio::error::operation_aborted;
  co_return std::error_code{};
}

std::unique_ptr<Connection> FakeListener::accept_now(std::error_code& ec) {
  ec = {};
  if (!open_) {
    ec = asio::error::bad_descriptor;
    return nullptr;
  }
  if (queue_.empty()) {
    ec = asio::error::would_block;
    return nullptr;
  }
  std::unique_ptr<Connection> client = std::move(queue_.front());
  queue_.pop_front();
  return client;
}

void FakeListener::close() {
  open_ = false;
  queue_.clear();
  wake_.cancel();
}

void FakeListener::queue(std::unique_ptr<Connection> client) {
  if (!open_) return;
  queue_.push_back(std::move(client));
  wake_.cancel();
}

StreamEndpoint unnamed_unix_endpoint() {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  return StreamEndpoint(&address, sizeof address.sun_family);
}

StreamEndpoint ipv4_endpoint(const std::string& address, unsigned short port) {
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4(address), port);
  return StreamEndpoint(endpoint.data(), endpoint.size());
}

std::pair<std::unique_ptr<HiddenConnection>, LocalSocket> hidden_pair(const asio::any_io_executor& executor,
                                                                      DialFrom from) {
  LocalSocket ours(executor), theirs(executor);
  asio::local::connect_pair(ours, theirs);
  auto connection = std::make_unique<HiddenConnection>(std::move(ours), from.remote, std::move(from.peer));
  return {std::move(connection), std::move(theirs)};
}

Dialled dial_watched(FakeListener& listener, DialFrom from) {
  auto [server_end, client_end] = hidden_pair(listener.executor(), std::move(from));
  int server_descriptor = server_end->hidden_descriptor();
  listener.queue(std::move(server_end));
  return Dialled{std::move(client_end), server_descriptor};
}

LocalSocket dial(FakeListener& listener, DialFrom from) {
  return std::move(dial_watched(listener, std::move(from)).client);
}

std::unique_ptr<HiddenConnection> dial_hidden(FakeListener& listener, DialFrom from) {
  LocalSocket client_end = dial(listener, from);
  return std::make_unique<HiddenConnection>(std::move(client_end), unnamed_unix_endpoint(), "fake-server");
}

}  // namespace sockcat::fake
