// fake_transport.hpp: the descriptor-less test transport keeps the Connection and Listener
// contracts (waits end on cancel and close, would_block, half-close), so the session tests
// over it test the sessions, not the fake.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>

#include "fake_transport.hpp"
#include "in_process.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// Waits on `connection` for `what`, storing the outcome.
asio::awaitable<void> wait_into(Connection& connection, Readiness what, std::optional<std::error_code>* out) {
  *out = co_await connection.wait(what);
}

}  // namespace

TEST_CASE("fake transport: a hidden connection offers no descriptor, to use or to give away") {
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  CHECK(connection->descriptor() == -1);
  CHECK(connection->release() == -1);
  CHECK(connection->is_open());  // release() without a descriptor leaves it as it was
  CHECK(connection->hidden_descriptor() >= 0);
  CHECK(connection->remote().protocol().family() == AF_UNIX);
}

TEST_CASE("fake transport: read_now and write_now never wait") {
  ignore_sigpipe();
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  std::string buffer(100, '\0');
  std::error_code ec;
  CHECK(connection->read_now(buffer, ec) == 0);
  CHECK(would_block(ec));

  // Fill the pair until a write takes nothing.
  const std::string block(64 * 1024, 'x');
  std::size_t written = 0;
  for (int i = 0; i < 10'000; ++i) {
    written += connection->write_now(block, ec);
    if (ec) break;
  }
  CHECK(would_block(ec));
  CHECK(written > 0);

  asio::write(peer, asio::buffer(std::string("hello")));
  std::size_t n = connection->read_now(buffer, ec);
  CHECK_FALSE(ec);
  CHECK(buffer.substr(0, n) == "hello");
}

TEST_CASE("fake transport: shutdown_send is a half-close the peer reads as EOF") {
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  std::error_code ec;
  connection->write_now(std::string_view("last"), ec);
  connection->shutdown_send(ec);
  CHECK_FALSE(ec);
  CHECK(read_now(peer, ec) == "last");
  read_now(peer, ec);
  CHECK(ec == asio::error::eof);
  // The other direction still works.
  asio::write(peer, asio::buffer(std::string("reply")));
  std::string buffer(100, '\0');
  std::size_t n = connection->read_now(buffer, ec);
  CHECK(buffer.substr(0, n) == "reply");
}

TEST_CASE("fake transport: cancel ends a wait with operation_aborted and the connection stays usable") {
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  std::optional<std::error_code> outcome;
  asio::co_spawn(ctx, wait_into(*connection, Readiness::readable, &outcome), rethrow);
  settle(ctx);
  CHECK_FALSE(outcome.has_value());  // nothing to read: still waiting
  connection->cancel();
  REQUIRE(run_until(ctx, [&] { return outcome.has_value(); }));
  CHECK(*outcome == asio::error::operation_aborted);

  outcome.reset();
  asio::co_spawn(ctx, wait_into(*connection, Readiness::readable, &outcome), rethrow);
  asio::write(peer, asio::buffer(std::string("x")));
  REQUIRE(run_until(ctx, [&] { return outcome.has_value(); }));
  CHECK_FALSE(*outcome);
}

TEST_CASE("fake transport: closing a connection ends its wait; the peer reads EOF") {
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  std::optional<std::error_code> outcome;
  asio::co_spawn(ctx, wait_into(*connection, Readiness::readable, &outcome), rethrow);
  settle(ctx);
  connection->close();
  connection->close();  // a second close does nothing
  REQUIRE(run_until(ctx, [&] { return outcome.has_value(); }));
  CHECK(*outcome == asio::error::operation_aborted);
  CHECK_FALSE(connection->is_open());
  std::error_code ec;
  read_now(peer, ec);
  CHECK(ec == asio::error::eof);
}

TEST_CASE("fake transport: a dial wakes the listener's waiter and is accepted once") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<std::error_code> woken;
  auto waiter = [&]() -> asio::awaitable<void> { woken = co_await listener.wait_for_client(); };
  asio::co_spawn(ctx, waiter(), rethrow);
  settle(ctx);
  CHECK_FALSE(woken.has_value());
  std::error_code ec;
  CHECK(listener.accept_now(ec) == nullptr);
  CHECK(would_block(ec));

  LocalSocket client = dial(listener, {ipv4_endpoint("192.0.2.1", 4000), "192.0.2.1:4000"});
  REQUIRE(run_until(ctx, [&] { return woken.has_value(); }));
  CHECK_FALSE(*woken);
  std::unique_ptr<Connection> accepted = listener.accept_now(ec);
  REQUIRE(accepted);
  CHECK(accepted->peer() == "192.0.2.1:4000");
  CHECK(accepted->descriptor() == -1);
  CHECK(listener.accept_now(ec) == nullptr);
  CHECK(would_block(ec));

  // The accepted end and the dialled one are the two ends of one stream.
  asio::write(client, asio::buffer(std::string("ping")));
  std::string buffer(10, '\0');
  std::size_t n = accepted->read_now(buffer, ec);
  CHECK(buffer.substr(0, n) == "ping");
}

TEST_CASE("fake transport: closing the listener ends its wait and drops the queued clients") {
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<std::error_code> woken;
  auto waiter = [&]() -> asio::awaitable<void> { woken = co_await listener.wait_for_client(); };
  asio::co_spawn(ctx, waiter(), rethrow);
  settle(ctx);
  listener.close();
  REQUIRE(run_until(ctx, [&] { return woken.has_value(); }));
  CHECK(*woken == asio::error::operation_aborted);
  CHECK_FALSE(listener.is_open());

  LocalSocket late = dial(listener);  // never queued: its server end is closed at once
  std::error_code ec;
  read_now(late, ec);
  CHECK(ec == asio::error::eof);
  CHECK(listener.waiting() == 0);
}
