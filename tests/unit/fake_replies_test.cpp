// stream_server.hpp over the descriptor-less fake transport, in process: the replying server
// (transforms upper and echo) with several clients at once and one that does not read, and
// the shared-stdio server (listen -k) with fds 0 and 1 turned into pipes while it opens them.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "exit_status.hpp"
#include "fake_transport.hpp"
#include "in_process.hpp"
#include "stdio_redirect.hpp"
#include "stream_server.hpp"
#include "transform.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// One client of a test: what it sends (then half-closes) and what it read up to its EOF.
struct Client {
  explicit Client(LocalSocket s, std::string to_send = {}) : socket(std::move(s)), sent(std::move(to_send)) {}
  LocalSocket socket;
  std::string sent;
  std::string received;
  bool ended = false;  // read EOF
};

// Starts `client` writing its bytes (then half-closing) and reading to EOF.
void talk(asio::io_context& ctx, Client& client) {
  asio::co_spawn(ctx, write_pieces(client.socket, client.sent, 50'000, nullptr,
                                   [&client] { client.socket.shutdown(asio::socket_base::shutdown_send); }),
                 rethrow);
  asio::co_spawn(ctx, read_to_eof(client.socket, &client.received, &client.ended), rethrow);
}

}  // namespace

TEST_CASE("replying server over the fake: several clients at once each get their own bytes back, then EOF") {
  const std::string name = GENERATE(as<std::string>{}, "upper", "echo");
  INFO("transform " << name);
  ignore_sigpipe();
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  bool server_done = false;
  spawn_flagged(ctx, serve_replies(listener, find_transform(name)->reply, ServerLimits{}), &server_done);

  std::vector<Client> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(dial(listener), random_bytes(1024 * 1024 + 7 * i, 10 + i));
  clients.emplace_back(dial(listener), "a short one: Hello, World!");
  for (Client& client : clients) talk(ctx, client);
  REQUIRE(run_until(ctx, [&] {
    for (const Client& client : clients)
      if (!client.ended) return false;
    return true;
  }));
  for (const Client& client : clients) {
    std::string want = name == "upper" ? ascii_upper(client.sent) : client.sent;
    CHECK(mismatch(client.received, want) == "");
  }
  CHECK_FALSE(server_done);
  listener.close();
  REQUIRE(run_until(ctx, [&] { return server_done; }));
}

TEST_CASE("replying server over the fake: a client that does not read is no longer read, others are served") {
  ignore_sigpipe();
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  bool server_done = false;
  spawn_flagged(ctx, serve_replies(listener, find_transform("echo")->reply, ServerLimits{}), &server_done);

  Dialled stalled = dial_watched(listener);
  const std::string flood = random_bytes(32 * 1024 * 1024, 3);
  std::size_t accepted_from_stalled = 0;
  asio::co_spawn(ctx, write_pieces(stalled.client, flood, 256 * 1024, &accepted_from_stalled), rethrow);
  settle(ctx);  // the stalled client reads nothing back: everything stops

  std::size_t unread_at_server = unread_bytes(stalled.server_descriptor);
  std::size_t replies_waiting = stalled.client.available();
  REQUIRE(accepted_from_stalled >= unread_at_server);
  std::size_t taken_by_server = accepted_from_stalled - unread_at_server;
  INFO("client wrote " << accepted_from_stalled << ", unread at server " << unread_at_server << ", server took "
                       << taken_by_server << ", replies waiting " << replies_waiting);
  CHECK(accepted_from_stalled < flood.size());
  CHECK(taken_by_server >= replies_waiting);
  CHECK(taken_by_server - replies_waiting <= 64 * 1024);  // one chunk held at most

  // Another client is served meanwhile.
  Client other(dial(listener), "still served");
  talk(ctx, other);
  REQUIRE(run_until(ctx, [&] { return other.ended; }));
  CHECK(other.received == "still served");

  // Once the stalled client reads, it gets all its bytes back.
  std::string echoed;
  bool echoed_all = false;
  asio::co_spawn(ctx, read_to_eof(stalled.client, &echoed, &echoed_all), rethrow);
  REQUIRE(run_until(ctx, [&] { return accepted_from_stalled == flood.size(); }));
  stalled.client.shutdown(asio::socket_base::shutdown_send);
  REQUIRE(run_until(ctx, [&] { return echoed_all; }));
  CHECK(mismatch(echoed, flood) == "");
  listener.close();
  REQUIRE(run_until(ctx, [&] { return server_done; }));
}

TEST_CASE("shared stdio over the fake: clients' bytes reach stdout, stdin reaches every client, stdin's EOF theirs") {
  ignore_sigpipe();
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<int> status;
  StdioRedirect stdio;
  spawn_into(ctx, serve_shared_stdio(listener, ServerLimits{}, true), &status);
  settle(ctx);  // the server has taken its copies of fds 0 and 1...
  stdio.restore();  // ...so the test's own output goes back where it went
  asio::posix::stream_descriptor feed(ctx, stdio.stdin_writer);
  asio::posix::stream_descriptor out(ctx, stdio.stdout_reader);

  Client first(dial(listener)), second(dial(listener));
  asio::co_spawn(ctx, read_to_eof(first.socket, &first.received, &first.ended), rethrow);
  asio::co_spawn(ctx, read_to_eof(second.socket, &second.received, &second.ended), rethrow);
  settle(ctx);
  asio::write(first.socket, asio::buffer(std::string("one\n")));
  std::string at_stdout;
  std::string chunk(1024, '\0');
  auto read_stdout = [&]() -> asio::awaitable<void> {
    while (at_stdout.size() < 8) {
      auto [ec, n] = co_await out.async_read_some(asio::buffer(chunk), with_error);
      if (ec) co_return;
      at_stdout.append(chunk.data(), n);
    }
  };
  bool stdout_read = false;
  spawn_flagged(ctx, read_stdout(), &stdout_read);
  REQUIRE(run_until(ctx, [&] { return at_stdout.size() >= 4; }));
  asio::write(second.socket, asio::buffer(std::string("two\n")));
  REQUIRE(run_until(ctx, [&] { return stdout_read; }));
  CHECK(at_stdout == "one\ntwo\n");

  const std::string broadcast = random_bytes(300'000, 8);
  // Then stdin's EOF: every client's sending side is shut down.
  asio::co_spawn(ctx, write_pieces(feed, broadcast, 64 * 1024, nullptr, [&] { feed.close(); }), rethrow);
  REQUIRE(run_until(ctx, [&] { return first.ended && second.ended; }));
  CHECK(mismatch(first.received, broadcast) == "");
  CHECK(mismatch(second.received, broadcast) == "");

  CHECK_FALSE(status.has_value());
  listener.close();
  first.socket.close();
  second.socket.close();
  REQUIRE(run_until(ctx, [&] { return status.has_value(); }));
  CHECK(*status == exit_ok);
}

TEST_CASE("shared stdio over the fake: stdout that is not read stops the reading of clients; a client's EOF ends it") {
  ignore_sigpipe();
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<int> status;
  StdioRedirect stdio;
  spawn_into(ctx, serve_shared_stdio(listener, ServerLimits{}, true), &status);
  settle(ctx);
  stdio.restore();
  asio::posix::stream_descriptor feed(ctx, stdio.stdin_writer);  // stdin stays open, unwritten
  asio::posix::stream_descriptor out(ctx, stdio.stdout_reader);

  Dialled client = dial_watched(listener);
  const std::string flood = random_bytes(16 * 1024 * 1024, 9);
  std::size_t accepted = 0;
  bool all_written = false;
  spawn_flagged(ctx, write_pieces(client.client, flood, 256 * 1024, &accepted), &all_written);
  settle(ctx);  // nothing reads stdout: everything stops

  std::size_t taken_by_server = accepted - unread_bytes(client.server_descriptor);
  std::size_t in_stdout_pipe = unread_bytes(stdio.stdout_reader);
  INFO("client wrote " << accepted << ", server took " << taken_by_server << ", in the stdout pipe " << in_stdout_pipe);
  CHECK(accepted < flood.size());
  CHECK(taken_by_server >= in_stdout_pipe);
  CHECK(taken_by_server - in_stdout_pipe <= 64 * 1024);  // one chunk held at most

  std::string at_stdout;
  std::string chunk(64 * 1024, '\0');
  auto read_stdout = [&]() -> asio::awaitable<void> {
    while (at_stdout.size() < flood.size()) {
      auto [ec, n] = co_await out.async_read_some(asio::buffer(chunk), with_error);
      if (ec) co_return;
      at_stdout.append(chunk.data(), n);
    }
  };
  bool stdout_read = false;
  spawn_flagged(ctx, read_stdout(), &stdout_read);
  REQUIRE(run_until(ctx, [&] { return stdout_read && all_written; }));
  CHECK(mismatch(at_stdout, flood) == "");

  client.client.shutdown(asio::socket_base::shutdown_send);  // its EOF: the server closes it
  std::string left;
  std::optional<std::error_code> client_end;
  asio::co_spawn(ctx, read_to_end(client.client, &left, &client_end), rethrow);
  REQUIRE(run_until(ctx, [&] { return client_end.has_value(); }));
  CHECK(*client_end == asio::error::eof);
  CHECK(left.empty());

  listener.close();
  feed.close();
  REQUIRE(run_until(ctx, [&] { return status.has_value(); }));
  CHECK(*status == exit_ok);
}
