#include "stream_server.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <cstring>
#include <list>
#include <memory>
#include <unistd.h>

#include "diag.hpp"
#include "exit_status.hpp"
#include "relay_tap.hpp"
#include "session_end.hpp"
#include "stdio.hpp"
#include "stream_ends.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

// Bytes of stdin read in one go.
constexpr std::size_t chunk_size = 64 * 1024;

// Serves one client of the replying server: read, transform, send back; at its EOF finish
// sending and close. `server_tap` (null unless logging) gives it a tap.
asio::awaitable<void> reply_to_client(std::unique_ptr<Connection> client, ChunkFunction reply,
                                      std::chrono::milliseconds idle, ServerTap* server_tap) {
  const std::string& peer = client->peer();
  diag::info(1, "connection from " + peer);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, peer);
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::error_code failure;
  for (;;) {
    auto [read_error, n] = co_await read_when_readable(*client, server_scratch(), idle);
    if (read_error == asio::error::eof) break;
    if (read_error) {
      failure = read_error;
      break;
    }
    received += n;
    std::span<char> chunk = server_scratch().first(n);
    if (tap) tap->crossed(Direction::received, chunk);
    reply(chunk);
    // What fits goes at once, without a coroutine of its own: the usual case of a small answer.
    std::error_code write_error;
    std::size_t written = client->write_now(chunk, write_error);
    if (tap) tap->crossed(Direction::sent, chunk.first(written));
    if (would_block(write_error)) write_error.clear();
    if (!write_error && written < n) {
      auto [rest_error, more] = co_await send_rest(*client, chunk.subspan(written), tap.get());
      write_error = rest_error;
      written += more;
    }
    sent += written;
    if (write_error) {
      failure = write_error;
      break;
    }
  }
  if (!failure) co_await end_sending(*client);
  client->close();
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

// One client of the shared-stdio server; owned jointly by its session and by a write of stdin
// to it in progress.
struct SharedClient {
  explicit SharedClient(std::unique_ptr<Connection> c) : connection(std::move(c)) {}
  std::unique_ptr<Connection> connection;
  std::uint64_t sent = 0;         // bytes of stdin written to it
  std::unique_ptr<RelayTap> tap;  // null unless logging
  bool gone = false;              // a write of stdin to it failed: its session ends at its next wake-up
};

// The state the shared-stdio server's coroutines share; owned jointly so that whichever
// coroutine outlives the server still finds it.
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
  Listener* listener = nullptr;  // closed to end the server when stdout fails
};

// Ends the shared-stdio server with `status` (stdout failed or went away).
void end_server(Hub& hub, int status) {
  hub.status = status;
  if (hub.listener) hub.listener->close();
}

// Writes one chunk a client sent (`data`, in the scratch buffer) to stdout when its turn
// comes. Returns false when stdout failed, which ends the server.
asio::awaitable<bool> copy_to_stdout(Hub& hub, SharedClient& client, std::span<const char> data) {
  auto chunk = std::make_unique<char[]>(data.size());  // held only while it waits for stdout
  std::memcpy(chunk.get(), data.data(), data.size());
  std::span<const char> bytes(chunk.get(), data.size());
  if (client.tap) client.tap->crossed(Direction::received, bytes);
  co_await hub.stdout_turn.take();
  auto [write_error, written] = co_await write_all(hub.out, bytes);
  hub.stdout_turn.give();
  if (!write_error) co_return true;
  end_server(hub, stdout_status(write_error));
  co_return false;
}

// One client of the shared-stdio server: its data goes to stdout, a chunk at a time.
asio::awaitable<void> share_with_client(std::unique_ptr<Connection> accepted, std::shared_ptr<Hub> hub,
                                        std::chrono::milliseconds idle, ServerTap* server_tap) {
  auto client = std::make_shared<SharedClient>(std::move(accepted));
  Connection& connection = *client->connection;
  const std::string& peer = connection.peer();
  client->tap = client_tap(server_tap, peer);
  diag::info(1, "connection from " + peer);
  std::error_code ignored;
  if (hub->stdin_ended && hub->half_close) connection.shutdown_send(ignored);
  hub->clients.push_back(client);
  if (hub->clients.size() == 1) hub->client_arrived.cancel();

  std::uint64_t received = 0;
  std::error_code failure;
  while (!client->gone) {
    auto [read_error, n] = co_await read_when_readable(connection, server_scratch(), idle);
    if (read_error == asio::error::eof || client->gone) break;
    if (read_error) {
      failure = read_error;
      break;
    }
    received += n;
    if (!co_await copy_to_stdout(*hub, *client, server_scratch().first(n))) break;
  }
  hub->clients.remove(client);
  connection.cancel();  // a write of stdin to it in progress ends
  connection.close();
  report_client_end({.peer = peer, .failure = failure, .counts = byte_counts(received, client->sent)});
  client->tap.reset();  // its --stats line now, not when the last write to it is done
}

// Writes `chunk` to `client`; a client that cannot take it is gone, and its own session ends
// and cleans up.
asio::awaitable<void> send_stdin_chunk(std::shared_ptr<SharedClient> client, std::span<const char> chunk) {
  auto [ec, written] = co_await write_all(*client->connection, chunk);
  client->sent += written;
  if (client->tap) client->tap->crossed(Direction::sent, chunk.first(written));
  if (!ec) co_return;
  client->gone = true;
  client->connection->cancel();
}

// Writes `chunk` to every connected client at once; returns once each has taken it or failed.
asio::awaitable<void> send_to_all(const Hub& hub, std::span<const char> chunk) {
  auto executor = co_await asio::this_coro::executor;
  auto clients = hub.clients;  // a client may leave while it is written to
  std::size_t pending = clients.size();
  asio::steady_timer all_written(executor, asio::steady_timer::time_point::max());
  for (const auto& client : clients) {
    asio::co_spawn(executor, send_stdin_chunk(client, chunk), [&](std::exception_ptr) {
      if (--pending == 0) all_written.cancel();
    });
  }
  if (pending > 0) co_await all_written.async_wait(with_error);
}

// Waits until at least one client is connected.
asio::awaitable<void> await_client(Hub& hub) {
  while (hub.clients.empty()) {
    hub.client_arrived.expires_at(asio::steady_timer::time_point::max());
    co_await hub.client_arrived.async_wait(with_error);
  }
}

// Sends stdin to every connected client, a chunk at a time, until stdin ends.
asio::awaitable<void> broadcast_stdin(std::shared_ptr<Hub> hub) {
  asio::posix::stream_descriptor in = open_stdio(co_await asio::this_coro::executor, STDIN_FILENO);
  auto chunk = std::make_unique<std::array<char, chunk_size>>();
  while (in.is_open()) {
    co_await await_client(*hub);  // nobody to send to: leave stdin unread
    auto [read_error, n] = co_await read_some(in, *chunk);
    if (read_error) break;
    co_await await_client(*hub);  // everyone left while we read: keep the chunk for the next one
    co_await send_to_all(*hub, std::span<const char>(chunk->data(), n));  // the next chunk waits
  }
  hub->stdin_ended = true;
  if (!hub->half_close) co_return;
  for (const auto& client : hub->clients) {
    std::error_code ignored;
    client->connection->shutdown_send(ignored);
  }
}

}  // namespace

asio::awaitable<void> serve_replies(Listener& listener, ChunkFunction reply, ServerLimits limits) {
  const Session session = [reply, limits](std::unique_ptr<Connection> client) {
    return reply_to_client(std::move(client), reply, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(listener, limits, session);
}

asio::awaitable<int> serve_shared_stdio(Listener& listener, ServerLimits limits, bool half_close) {
  auto executor = co_await asio::this_coro::executor;
  auto hub = std::make_shared<Hub>(executor);
  hub->half_close = half_close;
  hub->listener = &listener;
  asio::co_spawn(executor, broadcast_stdin(hub), [](std::exception_ptr) {});
  const Session session = [hub, limits](std::unique_ptr<Connection> client) {
    return share_with_client(std::move(client), hub, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(listener, limits, session);
  hub->listener = nullptr;
  co_return hub->status;
}

}  // namespace sockcat
