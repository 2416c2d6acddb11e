// accept_loop.hpp over the fake listener: the one-client accept and the many-client loop
// admit, refuse (--allow/--deny, -m 0, -m N) and close refused clients unread, whatever
// transport yields the connections.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "accept_loop.hpp"
#include "fake_transport.hpp"
#include "in_process.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// An access list refusing the addresses of the comma-separated `deny` entries.
AccessList denying(const std::string& deny) {
  std::vector<AccessEntry> entries;
  REQUIRE_FALSE(parse_entry_list(deny, "--deny", entries));
  AccessList list;
  list.deny(resolve_entries(entries, nullptr));
  return list;
}

// What a dial reports for a TCP peer at `address`.
DialFrom from_ip(const std::string& address) { return {ipv4_endpoint(address, 40000), address + ":40000"}; }

// True when `client`'s server end was closed without a byte sent (read now: EOF at once).
bool closed_unread(LocalSocket& client) {
  std::error_code ec;
  std::string got = read_now(client, ec);
  return got.empty() && ec == asio::error::eof;
}

// Runs accept_admitted on `listener`, storing the client it returns or the error it throws.
struct OneAccept {
  std::unique_ptr<Connection> client;
  std::optional<std::error_code> failure;
  bool done = false;

  void start(asio::io_context& ctx, Listener& listener, const ServerLimits& limits) {
    asio::co_spawn(ctx, accept_admitted(listener, limits), [this](std::exception_ptr e, std::unique_ptr<Connection> c) {
      done = true;
      client = std::move(c);
      try {
        if (e) std::rethrow_exception(e);
      } catch (const std::system_error& error) {
        failure = error.code();
      }
    });
  }
};

}  // namespace

TEST_CASE("accept_admitted over the fake: a denied peer is closed unread, the next admitted one returned") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  AccessList access = denying("192.0.2.0/24");
  ServerLimits limits;
  limits.access = &access;
  LocalSocket denied = dial(listener, from_ip("192.0.2.7"));
  LocalSocket allowed = dial(listener, from_ip("198.51.100.1"));
  OneAccept accept;
  accept.start(ctx, listener, limits);
  REQUIRE(run_until(ctx, [&] { return accept.done; }));
  REQUIRE(accept.client);
  CHECK_FALSE(accept.failure);
  CHECK(accept.client->peer() == "198.51.100.1:40000");
  CHECK(closed_unread(denied));
  CHECK_FALSE(listener.is_open());  // one client only: nobody else is served

  std::error_code ec;
  accept.client->write_now(std::string_view("welcome"), ec);
  CHECK(read_now(allowed, ec) == "welcome");
}

TEST_CASE("accept_admitted over the fake: a Unix peer is admitted by a deny list (it speaks of IP only)") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  AccessList access = denying("0.0.0.0/0,::/0");
  ServerLimits limits;
  limits.access = &access;
  LocalSocket client = dial(listener);
  OneAccept accept;
  accept.start(ctx, listener, limits);
  REQUIRE(run_until(ctx, [&] { return accept.done; }));
  CHECK(accept.client);
}

TEST_CASE("accept_admitted over the fake: -m 0 refuses every client until the listener closes") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  ServerLimits limits;
  limits.refuse_all = true;
  OneAccept accept;
  accept.start(ctx, listener, limits);
  LocalSocket first = dial(listener);
  LocalSocket second = dial(listener);
  settle(ctx);
  CHECK_FALSE(accept.done);
  CHECK(listener.waiting() == 0);  // both taken...
  CHECK(closed_unread(first));     // ...and closed unread
  CHECK(closed_unread(second));
  listener.close();
  REQUIRE(run_until(ctx, [&] { return accept.done; }));
  CHECK_FALSE(accept.client);
  REQUIRE(accept.failure.has_value());
  CHECK(*accept.failure == asio::error::operation_aborted);
}

TEST_CASE("accept_clients over the fake: sessions run at once, refusals close unread, -m counts open sessions") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  AccessList access = denying("203.0.113.9");
  ServerLimits limits;
  limits.access = &access;
  limits.max_conns = 2;
  int sessions_ended = 0;
  // Each session greets its client, then waits for the client's EOF and closes.
  const Session session = [&](std::unique_ptr<Connection> client) -> asio::awaitable<void> {
    std::string greeting = "hello " + client->peer();
    co_await write_all(*client, greeting);
    std::string buffer(64, '\0');
    for (int reads = 0; reads < 1000; ++reads) {
      auto [ec, n] = co_await read_when_readable(*client, buffer);
      if (ec) break;
    }
    ++sessions_ended;
  };
  bool loop_ended = false;
  auto loop = [&]() -> asio::awaitable<void> {
    co_await accept_clients(listener, limits, session);
    loop_ended = true;
  };
  asio::co_spawn(ctx, loop(), rethrow);

  LocalSocket a = dial(listener, from_ip("198.51.100.1"));
  LocalSocket denied = dial(listener, from_ip("203.0.113.9"));
  LocalSocket b = dial(listener, from_ip("198.51.100.2"));
  LocalSocket over_limit = dial(listener, from_ip("198.51.100.3"));
  settle(ctx);
  std::error_code ec;
  CHECK(read_now(a, ec) == "hello 198.51.100.1:40000");
  CHECK(read_now(b, ec) == "hello 198.51.100.2:40000");
  CHECK(closed_unread(denied));      // does not count against -m...
  CHECK(closed_unread(over_limit));  // ...but a third admitted client is over it

  a.shutdown(asio::socket_base::shutdown_send);  // a's session ends, making room
  REQUIRE(run_until(ctx, [&] { return sessions_ended == 1; }));
  LocalSocket c = dial(listener, from_ip("198.51.100.4"));
  settle(ctx);
  CHECK(read_now(c, ec) == "hello 198.51.100.4:40000");

  listener.close();
  REQUIRE(run_until(ctx, [&] { return loop_ended; }));
  CHECK(sessions_ended == 1);  // closing the listener ends the loop, not the sessions
  b.close();
  c.close();
  REQUIRE(run_until(ctx, [&] { return sessions_ended == 3; }));
}
