#include "broker_server.hpp"

#include <array>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/co_spawn.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/this_coro.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "chat_lines.hpp"
#include "diag.hpp"
#include "exit_status.hpp"
#include "stdio.hpp"
#include "relay_tap.hpp"
#include "session_end.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

// What is relayed: one client's chunk (or labelled lines), shared by every queue it sits in.
using Message = std::shared_ptr<const std::string>;

// One client of the broker.
struct BrokerClient {
  BrokerClient(std::unique_ptr<Connection> accepted, unsigned number)
      : connection(std::move(accepted)), serial(number),
        wake(connection->executor(), asio::steady_timer::time_point::max()) {}
  std::unique_ptr<Connection> connection;  // to it; its peer() names it for diagnostics
  unsigned serial;                  // 1 for the first client of the server, 2 for the next...
  std::deque<Message> queue;        // messages waiting for it; the front may be partly sent
  std::size_t front_sent = 0;       // bytes of queue.front() already sent
  std::size_t queued = 0;           // bytes in `queue` not yet sent
  asio::steady_timer wake;          // cancelled when its writer has work or must stop
  bool takes_messages = true;       // false once it has ended or is ending
  bool reading_done = false;        // its end of file came: send what is queued, then close
  bool eof_kept = false;            // --send-only: its end of file came, it still gets stdin
  bool stop_reading = false;        // --send-only's stdin ended: its reader ends as at end of file
  std::string dropped_why;          // set when the broker dropped it
  std::error_code failure;          // why it ended, when it did not end at its own EOF
  std::list<asio::steady_timer*> room_waiters;  // senders waiting for its queue to shrink
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::unique_ptr<RelayTap> tap;    // null unless logging
};

using ClientPtr = std::shared_ptr<BrokerClient>;

// The state all sessions of one broker share.
struct Broker {
  Broker(const asio::any_io_executor& executor, BrokerMode how)
      : mode(how), client_arrived(executor), all_left(executor) {}
  std::list<ClientPtr> clients;
  unsigned next_serial = 1;
  BrokerMode mode;
  bool chat = mode.chat;
  asio::steady_timer client_arrived;  // cancelled whenever a client joins
  asio::steady_timer all_left;        // cancelled when the last client leaves
  Listener* listener = nullptr;       // closed when a --send-only broker's stdin ends
  bool stdin_ended = false;
};

// How the broker's own stdin is labelled in --chat: ncat names it so (it is descriptor 0), and
// clients are numbered from 1.
const std::string stdin_chat_name = "<user0>";

std::string chat_name(const BrokerClient& client) { return "<user" + std::to_string(client.serial) + ">"; }

// Wakes the senders waiting for room at `client` (it took bytes, or it ended).
void wake_senders(BrokerClient& client) {
  for (asio::steady_timer* waiter : client.room_waiters) waiter->cancel();
}

// Ends `client` at once: no more messages; its reader and writer stop.
void stop_client(BrokerClient& client) {
  client.takes_messages = false;
  client.connection->cancel();
  client.wake.cancel();
  wake_senders(client);
}

// Adds `message` to what goes to `to`, writing at once what its connection takes when nothing
// is queued for it (no limit: callers check for room first).
void enqueue(BrokerClient& to, const Message& message) {
  std::size_t written = 0;
  if (to.queue.empty()) {
    std::error_code ec;
    written = to.connection->write_now(*message, ec);
    if (ec && !would_block(ec)) {
      to.failure = ec;
      stop_client(to);
      return;
    }
    to.sent += written;
    if (to.tap) to.tap->crossed(Direction::sent, std::span<const char>(message->data(), written));
    if (written == message->size()) return;
    to.front_sent = written;
  }
  to.queue.push_back(message);
  to.queued += message->size() - written;
  to.wake.cancel();
}

// Removes a waiter's timer from a client's list when the wait ends, however it ends.
struct RoomWaiter {
  RoomWaiter(BrokerClient& client, asio::steady_timer& timer) : list(client.room_waiters), entry(&timer) {
    list.push_back(entry);
  }
  ~RoomWaiter() { list.remove(entry); }
  std::list<asio::steady_timer*>& list;
  asio::steady_timer* entry;
};

// Waits until `to` has room for `size` more bytes or ends. A client that takes no byte for
// broker_stall_limit meanwhile is dropped.
asio::awaitable<void> wait_for_room(BrokerClient& to, std::size_t size) {
  while (to.takes_messages && to.queued + size > broker_queue_limit) {
    std::uint64_t sent_before = to.sent;
    asio::steady_timer deadline(to.connection->executor(), broker_stall_limit);
    {
      RoomWaiter waiter(to, deadline);
      co_await deadline.async_wait(with_error);  // cancelled when `to` takes bytes or ends
    }
    if (to.takes_messages && to.sent == sent_before) {
      to.dropped_why = "it took nothing for " + std::to_string(broker_stall_limit.count()) + " s with " +
                       std::to_string(broker_queue_limit >> 10) + " KiB waiting (not reading)";
      stop_client(to);
    }
  }
}

// Gives `text` to every client taking messages except `from` (nullptr: to all), waiting
// while one has no room for it (backpressure: `from` is not read meanwhile).
asio::awaitable<void> deliver(Broker& broker, const BrokerClient* from, const std::string& text) {
  if (text.empty()) co_return;
  auto message = std::make_shared<const std::string>(text);
  std::vector<ClientPtr> targets(broker.clients.begin(), broker.clients.end());
  for (const ClientPtr& to : targets) {
    if (to.get() == from) continue;
    co_await wait_for_room(*to, message->size());
    if (to->takes_messages) enqueue(*to, message);
  }
}

// Ends what `client` takes in once its reading is over: what is queued still goes out, then its
// writer closes it; after a failure or a drop, at once.
void finish_reading(BrokerClient& client) {
  client.reading_done = true;
  client.takes_messages = false;  // what is queued still goes out; nothing new joins it
  wake_senders(client);
  if (client.failure || !client.dropped_why.empty()) stop_client(client);
  client.wake.cancel();
}

// Waits until `client` has sent something (at most `idle`), then reads it into
// server_scratch(): the bytes, or why its reading is over (eof also once the broker stopped
// reading it).
asio::awaitable<std::pair<std::error_code, std::size_t>> read_next(BrokerClient& client, std::chrono::milliseconds idle) {
  const std::pair<std::error_code, std::size_t> stopped{asio::error::eof, 0};
  while (!client.stop_reading) {
    std::error_code ec = co_await wait_readable(*client.connection, idle);
    if (client.stop_reading) break;
    if (ec) co_return std::pair{ec, std::size_t{0}};
    std::size_t n = client.connection->read_now(server_scratch(), ec);
    if (!would_block(ec)) co_return std::pair{ec, n};
  }
  co_return stopped;
}

// Relays what `client` sends to the others (with --send-only: reads and drops it) until its
// end of file or a failure.
asio::awaitable<void> receive_from(Broker& broker, BrokerClient& client, std::chrono::milliseconds idle) {
  ChatLines lines(chat_name(client) + " ");
  // A client dropped (or failed) while this reader waited for room elsewhere stops here.
  while (client.dropped_why.empty() && !client.failure) {
    auto [read_error, n] = co_await read_next(client, idle);
    if (read_error) {
      if (read_error != asio::error::eof && client.dropped_why.empty() && !client.failure) client.failure = read_error;
      break;
    }
    client.received += n;
    if (client.tap) client.tap->crossed(Direction::received, server_scratch().first(n));
    if (!broker.mode.relay_clients) {  // --send-only: only stdin is relayed, until it ends
      if (broker.stdin_ended) break;
      continue;
    }
    std::string text;
    if (broker.chat) lines.feed(std::span<const char>(server_scratch().data(), n), text);  // keeps line state
    else if (broker.clients.size() > 1) text.assign(server_scratch().data(), n);            // someone to hear it
    co_await deliver(broker, &client, text);
  }
  if (broker.chat && broker.mode.relay_clients) {
    std::string text;
    lines.finish(text);
    co_await deliver(broker, &client, text);
  }
  // --send-only: a client that half-closed still gets stdin until stdin ends.
  if (!broker.mode.relay_clients && !broker.stdin_ended && !client.failure && client.dropped_why.empty()) {
    client.eof_kept = true;
    diag::info(2, "connection from " + client.connection->peer() + " half-closed: it still gets stdin (--send-only)");
    co_return;
  }
  finish_reading(client);
}

// Writes what is queued for `client`, one message at a time, until it ends; after its end of
// file, until its queue is empty.
asio::awaitable<void> send_to(BrokerClient& client) {
  for (;;) {
    while (client.queue.empty() && client.takes_messages && !client.reading_done) {
      client.wake.expires_at(asio::steady_timer::time_point::max());
      co_await client.wake.async_wait(with_error);
    }
    if (client.queue.empty() || (!client.takes_messages && !client.reading_done)) co_return;
    if (!client.dropped_why.empty() || client.failure) co_return;
    Message front = client.queue.front();
    std::span<const char> rest = std::span<const char>(*front).subspan(client.front_sent);
    std::error_code write_error;
    std::size_t written = client.connection->write_now(rest, write_error);
    if (would_block(write_error)) {
      write_error = co_await client.connection->wait(Readiness::writable);
      // Also a cancel meant for its reader (-i): the top of the loop tells whether to go on.
      if (!write_error || write_error == asio::error::operation_aborted) continue;
    }
    client.sent += written;
    if (client.tap) client.tap->crossed(Direction::sent, rest.first(written));
    client.queued -= written;
    client.front_sent += written;
    if (write_error) {
      if (client.dropped_why.empty() && !client.failure) client.failure = write_error;
      stop_client(client);
      co_return;
    }
    if (client.front_sent == front->size()) {
      client.queue.pop_front();
      client.front_sent = 0;
    }
    wake_senders(client);
  }
}

// One client of the broker, from its arrival to its end.
asio::awaitable<void> broker_session(std::unique_ptr<Connection> accepted, std::shared_ptr<Broker> broker,
                                     std::chrono::milliseconds idle, ServerTap* server_tap) {
  using namespace asio::experimental::awaitable_operators;
  auto client = std::make_shared<BrokerClient>(std::move(accepted), broker->next_serial++);
  const std::string& peer = client->connection->peer();
  client->tap = client_tap(server_tap, peer);
  diag::info(1, "connection from " + peer + (broker->chat ? " as " + chat_name(*client) : std::string()));
  if (broker->chat) {
    std::size_t others = broker->clients.size();
    enqueue(*client, std::make_shared<const std::string>("<announce> you are " + chat_name(*client) + ", with " +
                                                       std::to_string(others) + (others == 1 ? " other" : " others") +
                                                       "\n"));
  }
  broker->clients.push_back(client);
  broker->client_arrived.cancel();
  if (broker->chat) {
    const std::string joined = "<announce> " + chat_name(*client) + " has joined\n";
    co_await deliver(*broker, client.get(), joined);
  }

  auto receive = [&]() -> asio::awaitable<void> { co_await receive_from(*broker, *client, idle); };
  auto send = [&]() -> asio::awaitable<void> { co_await send_to(*client); };
  co_await (receive() && send());

  client->takes_messages = false;
  broker->clients.remove(client);
  if (broker->clients.empty()) broker->all_left.cancel();
  if (broker->chat) {
    const std::string left = "<announce> " + chat_name(*client) + " has left\n";
    co_await deliver(*broker, nullptr, left);
  }
  if (client->dropped_why.empty() && !client->failure) co_await end_sending(*client->connection);
  client->connection->close();
  report_client_end(ClientEnd{.peer = peer,
                              .failure = client->failure,
                              .dropped_why = client->dropped_why,
                              .counts = byte_counts(client->received, client->sent)});
  client->tap.reset();  // its --stats line
}

// Waits until a client is connected and stdin may be read: a terminal is left alone while
// sockcat is not in its foreground (a background job would be stopped by SIGTTIN).
asio::awaitable<void> await_stdin_turn(Broker& broker) {
  while (broker.clients.empty() || stdin_is_background_terminal()) {
    broker.client_arrived.expires_at(asio::steady_timer::time_point::max());
    co_await broker.client_arrived.async_wait(with_error);
  }
}

// stdin has ended under --send-only: nothing more will be sent, so the broker stops accepting
// and every client gets what is queued for it and is closed.
void close_every_client(Broker& broker) {
  if (broker.listener) broker.listener->close();
  for (const ClientPtr& client : broker.clients) {
    if (client->eof_kept) {
      finish_reading(*client);
    } else {
      client->stop_reading = true;
      client->connection->cancel();  // wakes its reader (its writer waits again)
    }
  }
}

// Relays the broker's own stdin to every client until stdin ends, a chunk at a time (with
// chat, lines labelled stdin_chat_name). Reads nothing while no client is connected, nor while
// a client has no room for the last chunk (see deliver): memory stays bounded.
asio::awaitable<void> relay_stdin(std::shared_ptr<Broker> broker) {
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor in = open_stdio(executor, STDIN_FILENO);
  auto chunk = std::make_unique<std::array<char, 64 * 1024>>();
  ChatLines lines(stdin_chat_name + " ");
  while (in.is_open()) {
    co_await await_stdin_turn(*broker);
    auto [read_error, n] = co_await in.async_read_some(asio::buffer(*chunk), with_error);
    std::string text;
    if (broker->chat) lines.feed(std::span<const char>(chunk->data(), n), text);
    else text.assign(chunk->data(), n);
    co_await deliver(*broker, nullptr, text);
    if (!read_error) continue;
    if (read_error != asio::error::eof) diag::error("stdin", read_error);
    break;
  }
  if (broker->chat) {
    std::string text;
    lines.finish(text);
    co_await deliver(*broker, nullptr, text);
  }
  broker->stdin_ended = true;
  if (broker->mode.relay_clients) {
    diag::info(2, "stdin ended; the broker goes on");
  } else {
    diag::info(1, "stdin ended: --send-only closes every client and ends");
    close_every_client(*broker);
  }
}

}  // namespace

asio::awaitable<int> serve_broker(Listener& listener, ServerLimits limits, BrokerMode mode) {
  auto executor = co_await asio::this_coro::executor;
  auto broker = std::make_shared<Broker>(executor, mode);
  broker->listener = &listener;
  if (mode.read_stdin) asio::co_spawn(executor, relay_stdin(broker), [](std::exception_ptr) {});
  const Session session = [broker, limits](std::unique_ptr<Connection> client) {
    return broker_session(std::move(client), broker, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(listener, limits, session);
  broker->listener = nullptr;
  // Only a --send-only broker whose stdin has ended gets here: let every client finish.
  while (!broker->clients.empty()) {
    broker->all_left.expires_at(asio::steady_timer::time_point::max());
    co_await broker->all_left.async_wait(with_error);
  }
  co_return exit_ok;
}

}  // namespace sockcat
