#include "stream_server.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

#include "diag.hpp"
#include "endpoint.hpp"
#include "system_error.hpp"

namespace sockcat {
namespace {

constexpr auto with_error = asio::experimental::as_tuple(asio::use_awaitable);

// Bytes read from a client in one go.
constexpr std::size_t chunk_size = 64 * 1024;

// Shared by every session of this io thread: a session reads into it only once its
// socket is readable and transforms and sends at once, so no session holds it while suspended.
thread_local std::array<char, chunk_size> scratch;

// How long the accept loop pauses after running out of descriptors or memory.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

// True for accept errors caused by exhausted resources, which retrying at once cannot fix.
bool is_resource_exhaustion(const std::error_code& ec) {
  int error = errno_of(ec);
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Serves one client: read what it sends, transform, send it back; at its EOF finish sending
// and close. Any error ends only this client.
asio::awaitable<void> serve_client(asio::ip::tcp::socket socket, ChunkFunction reply) {
  std::error_code ec;
  socket.non_blocking(true, ec);
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  const auto remote = socket.remote_endpoint(ec);
  const std::string peer = ec ? std::string("(unknown peer)") : format_endpoint(remote);
  diag::info(1, "connection from " + peer);

  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::error_code failure;
  for (;;) {
    auto [wait_error] = co_await socket.async_wait(asio::socket_base::wait_read, with_error);
    if (wait_error) {
      failure = wait_error;
      break;
    }
    std::size_t n = socket.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::eof) break;
    if (ec) {
      failure = ec;
      break;
    }
    received += n;
    reply(std::span<char>(scratch.data(), n));
    std::size_t written = asio::write(socket, asio::buffer(scratch.data(), n), ec);
    sent += written;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      failure = ec;
      break;
    }
    if (written < n) {
      // The client is not keeping up: park the rest in a buffer of our own and stop reading
      // from it until that buffer is gone.
      std::size_t left = n - written;
      auto pending = std::make_unique<char[]>(left);
      std::memcpy(pending.get(), scratch.data() + written, left);
      auto [write_error, more] = co_await asio::async_write(socket, asio::buffer(pending.get(), left), with_error);
      sent += more;
      if (write_error) {
        failure = write_error;
        break;
      }
    }
  }
  if (!failure) socket.shutdown(asio::socket_base::shutdown_send, ec);
  socket.close(ec);
  std::string counts = " (received " + std::to_string(received) + " bytes, sent " + std::to_string(sent) + ")";
  if (failure && failure != asio::error::operation_aborted)
    diag::info(1, "connection from " + peer + " failed: " + failure.message() + counts);
  else
    diag::info(1, "connection from " + peer + " closed" + counts);
}

}  // namespace

asio::awaitable<void> serve_clients(asio::ip::tcp::acceptor& acceptor, ChunkFunction reply) {
  auto executor = acceptor.get_executor();
  asio::steady_timer backoff(executor);
  bool exhausted = false;  // reported the current run of exhaustion errors already
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(with_error);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      if (!is_resource_exhaustion(ec)) continue;  // e.g. ECONNABORTED: that client is gone
      if (!exhausted) diag::error("accept: " + ec.message() + " (retrying every 100 ms)");
      exhausted = true;
      backoff.expires_after(accept_backoff);
      co_await backoff.async_wait(with_error);
      continue;
    }
    if (exhausted) diag::info(1, "accept: recovered");
    exhausted = false;
    asio::co_spawn(executor, serve_client(std::move(socket), reply), asio::detached);
  }
}

}  // namespace sockcat
