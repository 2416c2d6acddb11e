#include "stream_server.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <list>
#include <memory>
#include <unistd.h>

#include "diag.hpp"
#include "exit_status.hpp"
#include "relay_tap.hpp"
#include "stdio.hpp"
#include "session_end.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {


// Bytes read from a client in one go.
constexpr std::size_t chunk_size = 64 * 1024;

// Serves one client of the replying server: read, transform, send back; at its EOF finish
// sending and close. `server_tap` (null unless logging) gives it a tap.
asio::awaitable<void> reply_to_client(StreamSocket socket, std::string peer, ChunkFunction reply,
                                      std::chrono::milliseconds idle, ServerTap* server_tap) {
  std::error_code ec;
  diag::info(1, "connection from " + peer);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, peer);
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::error_code failure;
  for (;;) {
    auto [read_error, n] = co_await read_when_readable(socket, server_scratch(), idle);
    if (read_error == asio::error::eof) break;
    if (read_error) {
      failure = read_error;
      break;
    }
    received += n;
    if (tap) tap->crossed(Direction::received, server_scratch().first(n));
    reply(std::span<char>(server_scratch().data(), n));
    std::size_t written = asio::write(socket, asio::buffer(server_scratch().data(), n), ec);
    sent += written;
    if (tap) tap->crossed(Direction::sent, server_scratch().first(written));
    if (ec && !would_block(ec)) {
      failure = ec;
      break;
    }
    if (written < n) {
      // The client is not keeping up: park the rest in a buffer of our own and stop reading
      // from it until that buffer is gone.
      std::size_t left = n - written;
      auto pending = std::make_unique<char[]>(left);
      std::memcpy(pending.get(), server_scratch().data() + written, left);
      auto [write_error, more] = co_await asio::async_write(socket, asio::buffer(pending.get(), left), with_error);
      sent += more;
      if (tap) tap->crossed(Direction::sent, std::span<const char>(pending.get(), more));
      if (write_error) {
        failure = write_error;
        break;
      }
    }
  }
  if (!failure) socket.shutdown(asio::socket_base::shutdown_send, ec);
  socket.close(ec);
  report_client_end({.peer = peer, .failure = failure, .counts = byte_counts(received, sent)});
}

// A first-come, first-served turn at one resource (stdout), for coroutines on one thread.
class Turn {
 public:
  explicit Turn(const asio::any_io_executor& executor) : executor_(executor) {}

  // Waits until it is the caller's turn.
  asio::awaitable<void> take() {
    if (!busy_) {
      busy_ = true;
      co_return;
    }
    asio::steady_timer wake(executor_, asio::steady_timer::time_point::max());
    waiting_.push_back(&wake);
    co_await wake.async_wait(with_error);  // cancelled by give() when the turn is ours
  }

  // Hands the turn to the next waiter, if any.
  void give() {
    if (waiting_.empty()) {
      busy_ = false;
      return;
    }
    asio::steady_timer* next = waiting_.front();
    waiting_.pop_front();
    next->cancel();
  }

 private:
  asio::any_io_executor executor_;
  bool busy_ = false;
  std::list<asio::steady_timer*> waiting_;
};

// The state the shared-stdio server's coroutines share; owned jointly so that whichever
// coroutine outlives the server still finds it.
// One client of the shared-stdio server.
struct SharedClient {
  explicit SharedClient(StreamSocket s) : socket(std::move(s)) {}
  StreamSocket socket;
  std::uint64_t sent = 0;  // bytes of stdin written to it
  std::unique_ptr<RelayTap> tap;  // null unless logging
};

struct Hub {
  explicit Hub(const asio::any_io_executor& executor)
      : out(open_stdio(executor, STDOUT_FILENO)), stdout_turn(executor), client_arrived(executor) {}
  asio::posix::stream_descriptor out;
  Turn stdout_turn;
  std::list<std::shared_ptr<SharedClient>> clients;
  asio::steady_timer client_arrived;  // cancelled when a client joins an empty hub
  bool stdin_ended = false;
  bool half_close = true;
  int status = exit_ok;
  StreamAcceptor* acceptor = nullptr;  // closed to end the server when stdout fails
};

// Ends the shared-stdio server with `status` (stdout failed or went away).
void end_server(Hub& hub, int status) {
  hub.status = status;
  std::error_code ignored;
  if (hub.acceptor) hub.acceptor->close(ignored);
}

// One client of the shared-stdio server: its data goes to stdout, a chunk at a time.
asio::awaitable<void> share_with_client(StreamSocket accepted, std::string peer, std::shared_ptr<Hub> hub,
                                        std::chrono::milliseconds idle, ServerTap* server_tap) {
  auto client = std::make_shared<SharedClient>(std::move(accepted));
  client->tap = client_tap(server_tap, peer);
  StreamSocket* socket = &client->socket;
  std::error_code ec;
  diag::info(1, "connection from " + peer);
  if (hub->stdin_ended && hub->half_close) socket->shutdown(asio::socket_base::shutdown_send, ec);
  hub->clients.push_back(client);
  if (hub->clients.size() == 1) hub->client_arrived.cancel();

  std::uint64_t received = 0;
  std::error_code failure;
  for (;;) {
    auto [read_error, n] = co_await read_when_readable(*socket, server_scratch(), idle);
    if (read_error == asio::error::eof) break;
    if (read_error) {
      failure = read_error;
      break;
    }
    auto chunk = std::make_unique<char[]>(n);  // held only while it waits for stdout
    std::memcpy(chunk.get(), server_scratch().data(), n);
    received += n;
    if (client->tap) client->tap->crossed(Direction::received, std::span<const char>(chunk.get(), n));
    co_await hub->stdout_turn.take();
    auto [write_error, written] = co_await asio::async_write(hub->out, asio::buffer(chunk.get(), n), with_error);
    hub->stdout_turn.give();
    if (write_error) {
      if (write_error != asio::error::broken_pipe) diag::error("stdout", write_error);
      end_server(*hub, write_error == asio::error::broken_pipe ? exit_ok : exit_failure);
      break;
    }
  }
  hub->clients.remove(client);
  socket->close(ec);
  report_client_end({.peer = peer, .failure = failure, .counts = byte_counts(received, client->sent)});
  client->tap.reset();  // its --stats line now, not when the last write to it is done
}

// Sends stdin to every connected client, a chunk at a time, until stdin ends.
asio::awaitable<void> broadcast_stdin(std::shared_ptr<Hub> hub) {
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor in = open_stdio(executor, STDIN_FILENO);
  auto chunk = std::make_unique<std::array<char, chunk_size>>();
  // Waits until at least one client is connected.
  auto await_client = [&]() -> asio::awaitable<void> {
    while (hub->clients.empty()) {
      hub->client_arrived.expires_at(asio::steady_timer::time_point::max());
      co_await hub->client_arrived.async_wait(with_error);
    }
  };
  while (in.is_open()) {
    co_await await_client();  // nobody to send to: leave stdin unread
    auto [read_error, n] = co_await in.async_read_some(asio::buffer(*chunk), with_error);
    if (read_error) break;
    co_await await_client();  // everyone left while we read: keep the chunk for the next one
    // Write to every client at once; the next chunk waits until each has taken this one.
    auto clients = hub->clients;
    std::size_t pending = clients.size();
    asio::steady_timer all_written(executor, asio::steady_timer::time_point::max());
    for (const auto& client : clients) {
      asio::async_write(client->socket, asio::buffer(chunk->data(), n),
                        [&, client](std::error_code ec, std::size_t written) {
                          client->sent += written;
                          if (client->tap) client->tap->crossed(Direction::sent, std::span<const char>(chunk->data(), written));
                          if (ec) {  // that client is gone: its own session notices and cleans up
                            std::error_code ignored;
                            client->socket.shutdown(asio::socket_base::shutdown_both, ignored);
                          }
                          if (--pending == 0) all_written.cancel();
                        });
    }
    co_await all_written.async_wait(with_error);
  }
  hub->stdin_ended = true;
  if (!hub->half_close) co_return;
  for (const auto& client : hub->clients) {
    std::error_code ignored;
    client->socket.shutdown(asio::socket_base::shutdown_send, ignored);
  }
}

}  // namespace

asio::awaitable<void> serve_replies(StreamAcceptor& acceptor, ChunkFunction reply, ServerLimits limits) {
  const SocketSession session = [reply, limits](StreamSocket socket, std::string peer) {
    return reply_to_client(std::move(socket), std::move(peer), reply, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(acceptor, limits, session);
}

asio::awaitable<int> serve_shared_stdio(StreamAcceptor& acceptor, ServerLimits limits, bool half_close) {
  auto executor = co_await asio::this_coro::executor;
  auto hub = std::make_shared<Hub>(executor);
  hub->half_close = half_close;
  hub->acceptor = &acceptor;
  asio::co_spawn(executor, broadcast_stdin(hub), [](std::exception_ptr) {});
  const SocketSession session = [hub, limits](StreamSocket socket, std::string peer) {
    return share_with_client(std::move(socket), std::move(peer), hub, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(acceptor, limits, session);
  hub->acceptor = nullptr;
  co_return hub->status;
}

}  // namespace sockcat
