#include "forward_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/this_coro.hpp>
#include <exception>
#include <optional>
#include <tuple>

#include "diag.hpp"
#include "parse.hpp"
#include "session_end.hpp"
#include "tls_context.hpp"
#include "unix_endpoint.hpp"
#include "transport/transport.hpp"
#include "idle_watch.hpp"
#include "pump.hpp"
#include "zero_copy.hpp"

namespace sockcat {
namespace {

// How one direction of a forwarded connection ended.
struct Leg {
  std::uint64_t bytes = 0;  // bytes written to the sink
  bool done = false;        // the direction has finished
};

// One forwarded connection, shared by its two direction coroutines (and the -i watch): the
// last direction to finish closes both sides and tells how it ended. Each direction is a
// coroutine of its own rather than half of a joined pair: a held connection then costs two
// small coroutine stacks and nothing else.
struct ForwardPair {
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> target;
  std::string peer;                // the client's name
  std::string target_name;         // the target's, for a failure that came from its side
  Leg up;                          // client -> target
  Leg down;                        // target -> client
  std::optional<IdleWatch> idle;   // -i only
  bool ended = false;              // end() ran: both sides are closed
  bool idled = false;              // -i's limit ended it
  std::string failure;             // what ended it early ("" = both directions ended cleanly)
};

// Ends `pair` at once (a failure, or -i): closes both sides, which ends every wait of both
// directions; the first reason given is kept.
void end(ForwardPair& pair, std::string failure) {
  if (pair.ended) return;
  pair.ended = true;
  pair.failure = std::move(failure);
  if (pair.idle) pair.idle->stop();
  pair.client->close();
  pair.target->close();
}

// Names a failure on `from`'s or `to`'s side: the client's own, or "target NAME: ...".
std::string failure_text(const ForwardPair& pair, const Connection& side, const std::error_code& ec) {
  if (&side == pair.client.get()) return ec.message();
  return "target " + pair.target_name + ": " + ec.message();
}

// Moves the rest of a bulk direction from `from` to `to` by splice through a private pipe, when
// both have kernel sockets: false (nothing moved) when either has none or no pipe can be had.
// Otherwise true once the direction is over: `read_error` is its source's end (eof) or
// failure; a sink's failure has ended the pair. The pipe lives only as long as the bulk does.
asio::awaitable<bool> splice_rest(ForwardPair& pair, Connection& from, Connection& to, Leg& leg,
                                  std::error_code& read_error) {
  if (from.descriptor() < 0 || to.descriptor() < 0) co_return false;
  ZeroCopy copier(from.descriptor(), to.descriptor(), Calls::non_blocking, true);
  if (copier.path() != CopyPath::splice_via_pipe) co_return false;
  PumpHooks hooks;
  if (pair.idle) hooks.last_traffic = pair.idle->stamp();
  PumpResult moved = co_await pump_zero_copy(from, to, copier, &pair.ended, hooks);
  leg.bytes += moved.bytes;
  if (moved.write_error) end(pair, failure_text(pair, to, moved.write_error));
  read_error = moved.write_error ? std::error_code() : moved.read_error;
  co_return true;
}

// Moves bytes from `from` to `to` until `from` ends (then ends `to`'s sending side) or either
// fails (then ends the pair).
asio::awaitable<void> forward_one_way(std::shared_ptr<ForwardPair> pair, Connection& from, Connection& to, Leg& leg) {
  std::error_code read_error;
  while (!pair->ended) {
    std::size_t n = 0;
    std::tie(read_error, n) = co_await read_when_readable(from, server_scratch());
    if (read_error || pair->ended) break;
    if (pair->idle) *pair->idle->stamp() = std::chrono::steady_clock::now();
    std::span<char> chunk = server_scratch().first(n);
    std::error_code write_error;
    std::size_t written = to.write_now(chunk, write_error);  // what fits goes without a coroutine of its own
    if (would_block(write_error)) write_error.clear();
    if (!write_error && written < n) {
      auto [rest_error, more] = co_await send_rest(to, chunk.subspan(written), nullptr);
      write_error = rest_error;
      written += more;
    }
    leg.bytes += written;
    if (write_error) {
      end(*pair, failure_text(*pair, to, write_error));
      break;
    }
    if (n == server_scratch().size()) {  // a full read: bulk, which goes by splice where it can
      const bool spliced = co_await splice_rest(*pair, from, to, leg, read_error);
      if (spliced) break;
    }
  }
  if (read_error == asio::error::eof && !pair->ended) {
    if (std::error_code write_error = co_await end_sending(to)) end(*pair, failure_text(*pair, to, write_error));
  } else if (read_error) {
    end(*pair, failure_text(*pair, from, read_error));
  }
  leg.done = true;
  if (!pair->up.done || !pair->down.done) co_return;
  end(*pair, pair->failure);  // both directions are over: close both sides
  if (diag::verbosity() < 1) co_return;
  report_client_end({.peer = pair->peer,
                     .failure = pair->idled ? std::make_error_code(std::errc::timed_out) : std::error_code(),
                     .problem = pair->idled ? std::string_view() : std::string_view(pair->failure),
                     .counts = byte_counts(pair->up.bytes, pair->down.bytes)});
}

// -i: ends `pair` once no byte has moved either way for its limit.
asio::awaitable<void> watch_idle(std::shared_ptr<ForwardPair> pair) {
  const bool expired = co_await pair->idle->expired();  // (not inside the condition: g++ 12 miscompiles that)
  if (!expired || pair->ended) co_return;
  pair->idled = true;
  end(*pair, {});
}

// Serves one client: connects to the target, then relays the two.
asio::awaitable<void> forward_client(std::unique_ptr<Connection> client, const Options& dial, const Transport& transport,
                                     std::chrono::milliseconds idle) {
  const std::string peer = client->peer();
  if (diag::verbosity() >= 1) diag::info(1, "connection from " + peer);
  std::unique_ptr<Connection> target;
  std::string refusal;
  try {
    target = co_await transport.dial(dial);
  } catch (const std::exception& failure) {
    refusal = failure.what();
  }
  if (!target) {
    client->close();
    report_client_end({.peer = peer, .problem = refusal});
    co_return;
  }
  co_await relay_pair(std::move(client), std::move(target), idle);
}

}  // namespace

asio::awaitable<void> relay_pair(std::unique_ptr<Connection> client, std::unique_ptr<Connection> target,
                                 std::chrono::milliseconds idle) {
  auto pair = std::make_shared<ForwardPair>();
  pair->peer = client->peer();
  pair->client = std::move(client);
  pair->target = std::move(target);
  pair->target->send_small_writes_at_once();
  pair->target_name = pair->target->peer();
  auto executor = co_await asio::this_coro::executor;
  if (idle.count() > 0) {
    pair->idle.emplace(executor, idle);
    asio::co_spawn(executor, watch_idle(pair), asio::detached);
  }
  asio::co_spawn(executor, forward_one_way(pair, *pair->target, *pair->client, pair->down), asio::detached);
  co_await forward_one_way(pair, *pair->client, *pair->target, pair->up);
}

Options forward_dial_options(const Options& listening) {
  const ForwardTarget& forward = *listening.forward;
  Options dial;
  dial.role = Role::connect;
  dial.udp = listening.udp;
  dial.family = listening.family;
  dial.numeric_only = listening.numeric_only;
  dial.verbosity = listening.verbosity;
  dial.connect_timeout = forward_connect_timeout;
  dial.host = forward.host;
  dial.port = forward.port;
  if (forward.unix_address) {
    dial.unix_socket = true;
    dial.unix_address = *forward.unix_address;
  }
  dial.tls = forward.tls;
  dial.proxy = listening.proxy;
  if (dial.tls.enabled) dial.tls.handshake_timeout = forward_connect_timeout;
  return dial;
}

void check_forward_target(const Options& listening) {
  if (!listening.forward->tls.enabled) return;
  const Options dial = forward_dial_options(listening);
  TlsContext context(dial);  // throws std::runtime_error: the line names the file and what is wrong
}

asio::awaitable<void> serve_forward(Listener& listener, const Options& dial, ServerLimits limits) {
  const Transport& transport = choose_transport(dial);
  diag::info(1, "forwarding each client to " + (dial.unix_socket ? format_unix_address(reinterpret_cast<const sockaddr*>(&dial.unix_address.address),
                                                                        dial.unix_address.length)
                                                    : dial.host + " port " +
                                                                                                dial.port.text) +
                    (dial.proxy ? " through proxy " + format_host_port(dial.proxy->host, dial.proxy->port.text) : ""));
  const std::chrono::milliseconds idle = limits.idle_timeout;
  Session session = [&dial, &transport, idle](std::unique_ptr<Connection> client) {
    return forward_client(std::move(client), dial, transport, idle);
  };
  co_await accept_clients(listener, limits, session);
}

}  // namespace sockcat
