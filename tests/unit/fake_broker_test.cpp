// broker_server.hpp over the descriptor-less fake transport, in process: --broker relays each
// client to the others, --chat labels and announces, the broker's stdin reaches every client
// (fds 0 and 1 turned into pipes while the broker opens them), and a stalled client is dropped
// while the others get everything.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>

#include "broker_server.hpp"
#include "fake_transport.hpp"
#include "in_process.hpp"
#include "stdio_redirect.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// A broker on a fake listener; `result` is set when serve_broker returns.
struct BrokerRig {
  asio::io_context ctx;
  FakeListener listener{ctx.get_executor()};
  std::optional<int> result;

  explicit BrokerRig(BrokerMode mode) {
    ignore_sigpipe();
    spawn_into(ctx, serve_broker(listener, ServerLimits{}, mode), &result);
  }
};

// A broker client that reads everything it is sent until its connection ends.
struct Member {
  LocalSocket socket;
  std::string received;
  std::optional<std::error_code> ended;

  explicit Member(BrokerRig& rig) : socket(dial(rig.listener)) {
    asio::co_spawn(rig.ctx, read_to_end(socket, &received, &ended), rethrow);
    settle(rig.ctx);  // joined before the next one dials: the order of serial numbers is known
  }
};

BrokerMode without_stdin(bool chat) { return BrokerMode{chat, false, true}; }

}  // namespace

TEST_CASE("broker over the fake: what a client sends reaches every other client, not itself; EOF ends only it") {
  BrokerRig rig(without_stdin(false));
  Member a(rig), b(rig), c(rig);
  asio::write(a.socket, asio::buffer(std::string("from a\n")));
  REQUIRE(run_until(rig.ctx, [&] { return b.received.size() == 7 && c.received.size() == 7; }));
  asio::write(b.socket, asio::buffer(std::string("from b\n")));
  REQUIRE(run_until(rig.ctx, [&] { return a.received.size() == 7 && c.received.size() == 14; }));
  settle(rig.ctx);
  CHECK(a.received == "from b\n");
  CHECK(b.received == "from a\n");
  CHECK(c.received == "from a\nfrom b\n");

  a.socket.shutdown(asio::socket_base::shutdown_send);  // a's EOF: a is finished and closed
  REQUIRE(run_until(rig.ctx, [&] { return a.ended.has_value(); }));
  CHECK(*a.ended == asio::error::eof);
  asio::write(c.socket, asio::buffer(std::string("after a\n")));
  REQUIRE(run_until(rig.ctx, [&] { return b.received.size() == 15; }));
  CHECK(b.received == "from a\nafter a\n");
  CHECK_FALSE(rig.result.has_value());

  rig.listener.close();
  b.socket.close();
  c.socket.close();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
}

TEST_CASE("chat over the fake: lines are labelled with the sender, joins announced") {
  BrokerRig rig(without_stdin(true));
  Member a(rig), b(rig);
  REQUIRE(run_until(rig.ctx, [&] { return b.received.find('\n') != std::string::npos; }));
  asio::write(a.socket, asio::buffer(std::string("hi there\n")));
  REQUIRE(run_until(rig.ctx, [&] { return b.received.find("<user1> hi there\n") != std::string::npos; }));
  CHECK(a.received == "<announce> you are <user1>, with 0 others\n<announce> <user2> has joined\n");
  CHECK(b.received == "<announce> you are <user2>, with 1 other\n<user1> hi there\n");
  rig.listener.close();
  a.socket.close();
  b.socket.close();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
}

TEST_CASE("broker over the fake: its stdin reaches every client, and stdin's end ends nothing") {
  ignore_sigpipe();
  StdioRedirect stdio;
  BrokerRig rig(BrokerMode{});
  settle(rig.ctx);  // the broker has taken its copy of fd 0
  stdio.restore();
  asio::posix::stream_descriptor feed(rig.ctx, stdio.stdin_writer);
  ::close(stdio.stdout_reader);  // the broker never writes stdout
  Member a(rig), b(rig);
  asio::write(feed, asio::buffer(std::string("news\n")));
  feed.close();
  REQUIRE(run_until(rig.ctx, [&] { return a.received.size() == 5 && b.received.size() == 5; }));
  CHECK(a.received == "news\n");
  CHECK(b.received == "news\n");
  asio::write(a.socket, asio::buffer(std::string("still on\n")));
  REQUIRE(run_until(rig.ctx, [&] { return b.received.size() == 14; }));
  CHECK(b.received == "news\nstill on\n");
  CHECK_FALSE(a.ended.has_value());
  rig.listener.close();
  a.socket.close();
  b.socket.close();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
}

TEST_CASE("broker over the fake: a client that takes nothing is dropped, the others get everything") {
  BrokerRig rig(without_stdin(false));
  Member reader(rig);
  LocalSocket stalled = dial(rig.listener);  // never reads
  settle(rig.ctx);
  LocalSocket sender = dial(rig.listener);
  const std::string flood = random_bytes(8 * 1024 * 1024, 21);
  bool all_sent = false;
  spawn_flagged(rig.ctx, write_pieces(sender, flood, 128 * 1024, nullptr), &all_sent);
  // The stalled client holds the sender back until broker_stall_limit passes, then is dropped.
  REQUIRE(run_until(rig.ctx, [&] { return all_sent && reader.received.size() == flood.size(); },
                    broker_stall_limit * 3 + hang_limit));
  CHECK(mismatch(reader.received, flood) == "");
  std::string left_for_stalled;
  std::optional<std::error_code> stalled_end;
  asio::co_spawn(rig.ctx, read_to_end(stalled, &left_for_stalled, &stalled_end), rethrow);
  REQUIRE(run_until(rig.ctx, [&] { return stalled_end.has_value(); }));
  CHECK(left_for_stalled.size() < flood.size());  // it was dropped part way
  rig.listener.close();
  reader.socket.close();
  sender.close();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
}
