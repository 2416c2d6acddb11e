// exec_session.hpp over the descriptor-less fake transport, in process: a connection without
// a descriptor cannot be given to the child, so the child is fed through pipes that sockcat
// relays with the connection; bytes both ways, the client's EOF reaches the program and the
// program's exit ends the connection.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "exec_session.hpp"
#include "fake_transport.hpp"
#include "in_process.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// A client that sends `data`, half-closes, and reads until the connection ends.
struct Caller {
  Caller(LocalSocket s, std::string to_send) : socket(std::move(s)), data(std::move(to_send)) {}
  LocalSocket socket;
  std::string data;
  std::string received;
  std::optional<std::error_code> ended;

  void start(asio::io_context& ctx) {
    asio::co_spawn(ctx, write_pieces(socket, data, 64 * 1024, nullptr,
                                     [this] { socket.shutdown(asio::socket_base::shutdown_send); }),
                   rethrow);
    asio::co_spawn(ctx, read_to_end(socket, &received, &ended), rethrow);
  }
};

// The -v label of the connections here: a named string, since hand_to_command keeps a
// reference to it while it runs (a temporary would die before the spawned coroutine starts).
const std::string fake_label = "connection from fake";

}  // namespace

TEST_CASE("exec over the fake: the program is fed through pipes, both ways, to both EOFs") {
  ignore_sigpipe();
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  ChildCommand command({"tr", "a-z", "A-Z"});
  std::optional<bool> ran;
  spawn_into(ctx, hand_to_command(*connection, command, fake_label), &ran);
  Caller caller(std::move(peer), random_bytes(2 * 1024 * 1024, 41) + "the end\n");
  caller.start(ctx);
  REQUIRE(run_until(ctx, [&] { return ran.has_value() && caller.ended.has_value(); }));
  CHECK(*ran);
  CHECK(*caller.ended == asio::error::eof);
  CHECK(mismatch(caller.received, ascii_upper(caller.data)) == "");
}

TEST_CASE("exec over the fake: the program's exit ends the connection although the client has not finished") {
  ignore_sigpipe();
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  ChildCommand command({"head", "-c", "5"});
  std::optional<bool> ran;
  spawn_into(ctx, hand_to_command(*connection, command, fake_label), &ran);
  asio::write(peer, asio::buffer(std::string("hello, and more")));  // no EOF from the client
  std::string received;
  std::optional<std::error_code> ended;
  asio::co_spawn(ctx, read_to_end(peer, &received, &ended), rethrow);
  REQUIRE(run_until(ctx, [&] { return ran.has_value() && ended.has_value(); }));
  CHECK(*ran);
  CHECK(received == "hello");
}

TEST_CASE("exec -C over the fake: the program's LF goes out as CRLF through the pipes") {
  ignore_sigpipe();
  asio::io_context ctx;
  auto [connection, peer] = hidden_pair(ctx.get_executor());
  ChildCommand command({"printf", "a\\nb\\n"}, true);
  std::optional<bool> ran;
  spawn_into(ctx, hand_to_command(*connection, command, fake_label), &ran);
  Caller caller(std::move(peer), "");
  caller.start(ctx);
  REQUIRE(run_until(ctx, [&] { return ran.has_value() && caller.ended.has_value(); }));
  CHECK(*ran);
  CHECK(caller.received == "a\r\nb\r\n");
}

TEST_CASE("exec -k over the fake: every client gets its own program at once") {
  ignore_sigpipe();
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  ChildCommand command({"tr", "a-z", "A-Z"});
  bool server_done = false;
  spawn_flagged(ctx, serve_commands(listener, command, ServerLimits{}), &server_done);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < 3; ++i) {
    callers.push_back(std::make_unique<Caller>(dial(listener), "client number " + std::to_string(i) + "\n"));
    callers.back()->start(ctx);
  }
  REQUIRE(run_until(ctx, [&] {
    for (const auto& caller : callers)
      if (!caller->ended) return false;
    return true;
  }));
  for (const auto& caller : callers) {
    CHECK(caller->received == ascii_upper(caller->data));
    CHECK(*caller->ended == asio::error::eof);
  }
  listener.close();
  REQUIRE(run_until(ctx, [&] { return server_done; }));
}
