// relay.hpp: the generic two-way relay, driven over socket pairs on one io_context.
// Everything runs in the test thread. Test-side coroutines run alongside the relay; where a
// test checks an intermediate state it runs the io_context until no handler is ready
// (`settle`), which is an event-driven "nothing more can happen now", not a sleep.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <vector>

#include "in_process.hpp"
#include "relay.hpp"
#include "relay_rig.hpp"
#include "transport/socket_connection.hpp"

using namespace sockcat;
using sockcat::in_process::hang_limit;
using sockcat::in_process::as_connection;
using sockcat::in_process::LocalRig;
using sockcat::in_process::RelayRig;
using sockcat::in_process::ignore_sigpipe;
using sockcat::in_process::mismatch;
using sockcat::in_process::random_bytes;
using sockcat::in_process::read_now;
using sockcat::in_process::rethrow;
using sockcat::in_process::settle;
using sockcat::in_process::unread_bytes;
using sockcat::in_process::write_pieces;
using local_socket = asio::local::stream_protocol::socket;
using namespace std::chrono_literals;

namespace {

// Reads `socket` until EOF into `*out`; `then` runs after EOF.
template <typename Socket>
asio::awaitable<void> read_to_eof(Socket& socket, std::string* out, std::function<void()> then = {}) {
  std::string chunk(32 * 1024, '\0');
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), with_error);
    out->append(chunk.data(), n);
    if (ec == asio::error::eof) break;
    if (ec) throw std::system_error(ec, "test reader");
  }
  if (then) then();
}

}  // namespace

TEST_CASE("relay: megabytes both ways at once arrive complete and in order") {
  const PeerEofPolicy policy = GENERATE(PeerEofPolicy::keep_sending, PeerEofPolicy::stop_sending);
  INFO("policy " << (policy == PeerEofPolicy::keep_sending ? "keep_sending" : "stop_sending"));
  LocalRig rig;
  const std::string up = random_bytes(4 * 1024 * 1024 + 17, 1);     // source -> peer
  const std::string down = random_bytes(3 * 1024 * 1024 + 5, 2);    // peer -> sink
  std::string at_peer, at_sink;
  std::size_t fed = 0, sent_by_peer = 0;
  int peer_done = 0;
  // The peer finishes (half-closes) only when it has both read everything and written everything,
  // so neither direction is cut short.
  auto peer_finished = [&] {
    if (++peer_done == 2) rig.peer.shutdown(asio::socket_base::shutdown_send);
  };

  rig.start(true, policy);
  asio::co_spawn(rig.ctx, write_pieces(rig.feed, up, 100'000, &fed, [&] { rig.feed.close(); }), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer, peer_finished), rethrow);
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, down, 77'777, &sent_by_peer, peer_finished), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();

  REQUIRE(rig.result.has_value());
  CHECK(fed == up.size());
  CHECK(sent_by_peer == down.size());
  CHECK(mismatch(at_peer, up) == "");
  CHECK(mismatch(at_sink, down) == "");
  CHECK(rig.result->sent.bytes == up.size());
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->sent.write_error);
  CHECK(rig.result->received.bytes == down.size());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->received.write_error);
}

TEST_CASE("relay: source EOF half-closes the connection; the other way keeps flowing") {
  LocalRig rig;
  rig.start(true, PeerEofPolicy::keep_sending);
  asio::write(rig.feed, asio::buffer(std::string("hello")));
  rig.feed.close();
  settle(rig.ctx);

  // The peer gets the data, then EOF: our sending side was shut down.
  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "hello");
  CHECK_FALSE(ec);
  std::string after = read_now(rig.peer, ec);
  CHECK(after.empty());
  CHECK(ec == asio::error::eof);
  CHECK_FALSE(rig.result.has_value());  // the relay still waits for the peer

  // The peer keeps sending after our EOF; all of it reaches the sink.
  const std::string late = random_bytes(1024 * 1024, 3);
  std::string at_sink;
  bool peer_wrote_all = false;
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, late, 50'000, nullptr, [&] { peer_wrote_all = true; }), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  settle(rig.ctx);
  CHECK(peer_wrote_all);
  CHECK(mismatch(at_sink, late) == "");  // everything arrived...
  CHECK_FALSE(rig.result.has_value());  // ...and the relay is still open for more

  // Only the peer's close ends the relay.
  rig.peer.close();
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(mismatch(at_sink, late) == "");
  CHECK(rig.result->sent.bytes == 5);
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK(rig.result->received.bytes == late.size());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->received.write_error);
}

TEST_CASE("relay: a closed source counts as an empty one") {
  LocalRig rig;
  rig.source.close();
  rig.start(true, PeerEofPolicy::keep_sending);
  settle(rig.ctx);
  std::error_code ec;
  CHECK(read_now(rig.peer, ec).empty());
  CHECK(ec == asio::error::eof);
  CHECK_FALSE(rig.result.has_value());

  asio::write(rig.peer, asio::buffer(std::string("still here")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(at_sink == "still here");
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK(rig.result->sent.bytes == 0);
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay: without half_close, source EOF leaves the connection open for sending") {
  LocalRig rig;
  rig.start(false, PeerEofPolicy::keep_sending);
  asio::write(rig.feed, asio::buffer(std::string("abc")));
  rig.feed.close();
  settle(rig.ctx);

  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "abc");
  // No EOF: the read would block, because our sending side was not shut down.
  std::string nothing = read_now(rig.peer, ec);
  CHECK(nothing.empty());
  CHECK(ec == asio::error::would_block);
  CHECK_FALSE(rig.result.has_value());

  // The peer's data still flows; the peer half-closes and the relay ends.
  asio::write(rig.peer, asio::buffer(std::string("xyz")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(at_sink == "xyz");
  CHECK(rig.result->sent.bytes == 3);
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK(rig.result->received.read_error == asio::error::eof);

  // The connection's sending side is still usable after the relay: nothing shut it down.
  // (With half_close the same write fails with broken_pipe.)
  std::size_t n = rig.connection->write_now(std::string_view("late"), ec);
  CHECK_FALSE(ec);
  CHECK(n == 4);
  CHECK(read_now(rig.peer, ec) == "late");
}

TEST_CASE("relay: with half_close the connection's sending side is really shut down") {
  // The counterpart of the previous test's last check, so that check is known to discriminate.
  LocalRig rig;
  rig.start(true, PeerEofPolicy::keep_sending);
  rig.feed.close();
  settle(rig.ctx);
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  std::error_code ec;
  rig.connection->write_now(std::string_view("late"), ec);
  CHECK(ec == asio::error::broken_pipe);
}

TEST_CASE("relay: under stop_sending the peer closing first ends the relay with everything delivered") {
  LocalRig rig;
  rig.start(true, PeerEofPolicy::stop_sending);
  // Some data goes out first, so the sending side is known to be alive; the source stays open.
  asio::write(rig.feed, asio::buffer(std::string("ping")));
  settle(rig.ctx);
  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "ping");

  const std::string last_words = random_bytes(2 * 1024 * 1024, 4);
  std::string at_sink;
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, last_words, 60'000, nullptr, [&] { rig.peer.close(); }), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();

  REQUIRE(rig.result.has_value());
  CHECK(rig.feed.is_open());  // the source never reached EOF...
  CHECK(rig.result->sent.bytes == 4);
  CHECK(rig.result->sent.read_error != asio::error::eof);  // ...yet the sending side stopped
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->received.write_error);
  CHECK(rig.result->received.bytes == last_words.size());
  CHECK(mismatch(at_sink, last_words) == "");
}

TEST_CASE("relay: under keep_sending a peer's half-close still gets the rest of the source") {
  LocalRig rig;
  rig.start(true, PeerEofPolicy::keep_sending);
  // The peer says all it has to say and half-closes before we have sent anything.
  asio::write(rig.peer, asio::buffer(std::string("request")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  settle(rig.ctx);
  CHECK(at_sink == "request");
  CHECK_FALSE(rig.result.has_value());  // still sending: the source is open

  // Much more than one relay buffer follows the peer's EOF, and all of it arrives.
  const std::string response = random_bytes(3 * 1024 * 1024 + 1, 6);
  std::string at_peer;
  asio::co_spawn(rig.ctx, write_pieces(rig.feed, response, 100'000, nullptr, [&] { rig.feed.close(); }), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(mismatch(at_peer, response) == "");
  CHECK(rig.result->sent.bytes == response.size());
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->sent.write_error);
  CHECK(rig.result->received.bytes == 7);
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay: under keep_sending a peer that has fully closed ends the relay") {
  LocalRig rig;
  rig.start(true, PeerEofPolicy::keep_sending);
  // A full close (not a half-close) raises an error condition on the connection: over a local
  // pair at once, over TCP with the reset that answers our next send. Either ends the relay
  // although the source is still open.
  rig.peer.close();
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(rig.feed.is_open());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK(rig.result->received.bytes == 0);
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
}

TEST_CASE("relay: a failing sink ends the relay with a write error") {
  const PeerEofPolicy policy = GENERATE(PeerEofPolicy::keep_sending, PeerEofPolicy::stop_sending);
  LocalRig rig;
  rig.drain.close();  // writes to the sink now fail with EPIPE
  rig.start(true, policy);
  asio::write(rig.peer, asio::buffer(std::string("nobody reads this")));
  rig.run_to_end();

  REQUIRE(rig.result.has_value());
  CHECK(rig.result->received.write_error == asio::error::broken_pipe);
  CHECK_FALSE(rig.result->received.read_error);
  CHECK(rig.result->received.bytes == 0);
  // The source is still open, but the relay stopped reading it.
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
}

TEST_CASE("relay: a reset connection ends the relay with a read error other than EOF") {
  const PeerEofPolicy policy = GENERATE(PeerEofPolicy::keep_sending, PeerEofPolicy::stop_sending);
  ignore_sigpipe();
  asio::io_context ctx;
  asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::ip::tcp::socket connection(ctx), peer(ctx);
  peer.connect(acceptor.local_endpoint());
  acceptor.accept(connection);
  local_socket source(ctx), feed(ctx), sink(ctx), drain(ctx);
  asio::local::connect_pair(source, feed);
  asio::local::connect_pair(sink, drain);

  std::optional<RelayResult> result;
  std::unique_ptr<SocketConnection> wrapped = as_connection(std::move(connection));
  asio::co_spawn(ctx, relay(*wrapped, source, sink, RelayOptions{true, policy, {}}), [&](std::exception_ptr e, RelayResult r) {
    rethrow(e);
    result = r;
  });
  settle(ctx);
  REQUIRE_FALSE(result.has_value());

  peer.set_option(asio::socket_base::linger(true, 0));
  peer.close();  // abortive close: RST
  ctx.restart();
  ctx.run_for(hang_limit);

  REQUIRE(result.has_value());
  INFO("read_error: " << result->received.read_error.message());
  CHECK(result->received.read_error);
  CHECK(result->received.read_error != asio::error::eof);
  CHECK(result->received.read_error == asio::error::connection_reset);
  CHECK(result->sent.read_error == asio::error::operation_aborted);
}

TEST_CASE("relay: a sink that is not read stops the relay reading the connection") {
  LocalRig rig;
  const std::string flood = random_bytes(32 * 1024 * 1024, 5);
  std::size_t accepted_from_peer = 0;
  rig.feed.close();  // only the connection -> sink direction matters here
  rig.start(true, PeerEofPolicy::keep_sending);
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, flood, 256 * 1024, &accepted_from_peer, [&] { rig.peer.close(); }),
                 rethrow);
  settle(rig.ctx);  // nothing reads the sink: everything stalls

  std::size_t unread_on_connection = unread_bytes(rig.connection->descriptor());
  std::size_t waiting_in_sink = rig.drain.available();
  REQUIRE(accepted_from_peer >= unread_on_connection);
  std::size_t taken_by_relay = accepted_from_peer - unread_on_connection;
  asio::socket_base::send_buffer_size sink_buffer;
  rig.sink.get_option(sink_buffer);
  INFO("peer wrote " << accepted_from_peer << ", unread on connection " << unread_on_connection
                     << ", relay took " << taken_by_relay << ", waiting in sink " << waiting_in_sink
                     << ", sink send buffer " << sink_buffer.value());
  CHECK(accepted_from_peer < flood.size());
  // The relay holds at most one buffer beyond what the sink has accepted...
  CHECK(taken_by_relay >= waiting_in_sink);
  CHECK(taken_by_relay - waiting_in_sink <= relay_buffer_size);
  // ...and the sink accepts no more than its socket buffers. Kernels differ in how much a
  // unix socket really queues for a given SO_SNDBUF (gVisor holds about twice what it reports),
  // so the bound is generous; an unbounded relay would take all 32 MiB.
  CHECK(taken_by_relay <= static_cast<std::size_t>(sink_buffer.value()) * 8 + relay_buffer_size);

  REQUIRE_FALSE(rig.result.has_value());  // the relay cannot have seen the peer's EOF yet

  // Once the sink is read, everything arrives.
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(accepted_from_peer == flood.size());
  CHECK(mismatch(at_sink, flood) == "");
  CHECK(rig.result->received.bytes == flood.size());
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay: the sink is closed at the peer's EOF while the source still flows") {
  const PeerEofPolicy policy = GENERATE(PeerEofPolicy::keep_sending, PeerEofPolicy::until_source_idle);
  LocalRig rig;
  rig.start(true, policy);
  asio::write(rig.peer, asio::buffer(std::string("request")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  bool sink_ended = false;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink, [&] { sink_ended = true; }), rethrow);
  settle(rig.ctx);
  CHECK(at_sink == "request");
  CHECK(sink_ended);                     // the reader downstream sees the end now...
  CHECK_FALSE(rig.result.has_value());  // ...while the relay still sends
  asio::write(rig.feed, asio::buffer(std::string("answer")));
  rig.feed.close();
  std::string at_peer;
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(at_peer == "answer");
  CHECK_FALSE(rig.result->source_idle);
}

// Writes `pieces` to `socket` one at a time, `pause` apart, then closes it.
static asio::awaitable<void> write_with_pauses(local_socket& socket, std::vector<std::string> pieces,
                                               std::chrono::milliseconds pause) {
  asio::steady_timer timer(socket.get_executor());
  for (const std::string& piece : pieces) {
    timer.expires_after(pause);
    co_await timer.async_wait(asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(piece), asio::use_awaitable);
  }
  socket.close();
}

TEST_CASE("relay: under until_source_idle a source silent after the peer's EOF ends the relay") {
  LocalRig rig;
  RelayOptions options{true, PeerEofPolicy::until_source_idle, {}};
  options.source_idle_limit = 100ms;
  rig.start(options);
  asio::write(rig.feed, asio::buffer(std::string("sent before")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  auto started = std::chrono::steady_clock::now();
  rig.run_to_end();  // nothing reads the peer: the relay's end is the end of all work
  REQUIRE(rig.result.has_value());
  CHECK(std::chrono::steady_clock::now() - started >= 100ms);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(rig.result->source_idle);
  CHECK(rig.feed.is_open());  // the source never ended
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
  CHECK(rig.result->sent.bytes == 11);
  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "sent before");
}

TEST_CASE("relay: under until_source_idle a source with pauses shorter than the limit is sent whole") {
  LocalRig rig;
  RelayOptions options{true, PeerEofPolicy::until_source_idle, {}};
  options.source_idle_limit = 300ms;
  rig.start(options);
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::vector<std::string> pieces;
  std::string whole;
  for (int i = 0; i < 8; ++i) {
    pieces.push_back(random_bytes(100'000 + i, 40 + i));
    whole += pieces.back();
  }
  std::string at_peer;
  asio::co_spawn(rig.ctx, write_with_pauses(rig.feed, pieces, 60ms), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK_FALSE(rig.result->source_idle);
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK(mismatch(at_peer, whole) == "");
}

TEST_CASE("relay: -i's watchdog ends a relay in which nothing moved for that long, after delivering what did") {
  LocalRig rig;
  RelayOptions options;
  options.idle_timeout = 200ms;
  asio::co_spawn(rig.ctx, relay(*rig.connection, rig.source, rig.sink, options),
                 [&](std::exception_ptr e, RelayResult r) {
                   rethrow(e);
                   rig.result = r;
                   std::error_code ignored;
                   rig.sink.close(ignored);
                 });
  asio::write(rig.peer, asio::buffer(std::string("abc")));
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  auto started = std::chrono::steady_clock::now();
  rig.run_to_end();
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(rig.result.has_value());
  CHECK(rig.result->idle);
  CHECK(at_sink == "abc");
  CHECK(rig.result->received.bytes == 3);
  CHECK(elapsed >= 200ms);
  CHECK(elapsed < 5s);
}

TEST_CASE("relay: without idle_timeout an idle relay runs on") {
  LocalRig rig;
  rig.start(true, PeerEofPolicy::keep_sending);
  rig.ctx.run_for(400ms);  // twice the watchdog's time in the test above
  CHECK_FALSE(rig.result.has_value());
  rig.feed.close();
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK_FALSE(rig.result->idle);
}
