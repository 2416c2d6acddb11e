// relay.hpp over a connection without a descriptor (fake_transport.hpp): the relay must move
// every byte through its buffers (no splice), keep both EOFs and stop reading the connection
// when its sink backs up. stdin and stdout are socket-pair stand-ins, as in relay_test.cpp.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>

#include "fake_transport.hpp"
#include "in_process.hpp"
#include "relay.hpp"
#include "relay_rig.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// A relay bench whose connection hides its descriptor.
struct HiddenRig : RelayRig<HiddenConnection> {
  HiddenRig() : RelayRig([](const asio::any_io_executor& executor) { return hidden_pair(executor); }) {}

  // start() with half-close and the peer's EOF policy `on_peer_eof`.
  void start(PeerEofPolicy on_peer_eof) { RelayRig::start(true, on_peer_eof); }
};

}  // namespace

TEST_CASE("relay over a hidden connection: megabytes both ways arrive complete, with both EOFs") {
  const PeerEofPolicy policy = GENERATE(PeerEofPolicy::keep_sending, PeerEofPolicy::stop_sending);
  HiddenRig rig;
  const std::string up = random_bytes(3 * 1024 * 1024 + 11, 1);
  const std::string down = random_bytes(2 * 1024 * 1024 + 3, 2);
  std::string at_peer, at_sink;
  std::size_t fed = 0, sent_by_peer = 0;
  bool peer_read_eof = false;
  int peer_done = 0;
  auto peer_finished = [&] {
    if (++peer_done == 2) rig.peer.shutdown(asio::socket_base::shutdown_send);
  };
  rig.start(policy);
  asio::co_spawn(rig.ctx, write_pieces(rig.feed, up, 100'000, &fed, [&] { rig.feed.close(); }), rethrow);
  auto peer_reader = [&]() -> asio::awaitable<void> {
    co_await read_to_eof(rig.peer, &at_peer, &peer_read_eof);
    peer_finished();
  };
  asio::co_spawn(rig.ctx, peer_reader(), rethrow);
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, down, 77'777, &sent_by_peer, peer_finished), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();

  REQUIRE(rig.result.has_value());
  CHECK(peer_read_eof);  // our source's EOF became the peer's EOF
  CHECK(mismatch(at_peer, up) == "");
  CHECK(mismatch(at_sink, down) == "");
  CHECK(rig.result->sent.bytes == up.size());
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->sent.write_error);
  CHECK(rig.result->received.bytes == down.size());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->received.write_error);
}

TEST_CASE("relay over a hidden connection: our EOF half-closes, the peer's data still flows") {
  HiddenRig rig;
  rig.start(PeerEofPolicy::keep_sending);
  asio::write(rig.feed, asio::buffer(std::string("question")));
  rig.feed.close();
  settle(rig.ctx);
  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "question");
  read_now(rig.peer, ec);
  CHECK(ec == asio::error::eof);  // the half-close went through a connection without descriptor
  CHECK_FALSE(rig.result.has_value());

  asio::write(rig.peer, asio::buffer(std::string("answer")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(at_sink == "answer");
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay over a hidden connection: the peer's EOF reaches the sink while the source still flows") {
  HiddenRig rig;
  rig.start(PeerEofPolicy::keep_sending);
  asio::write(rig.peer, asio::buffer(std::string("request")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  std::string at_sink;
  bool sink_ended = false;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink, &sink_ended), rethrow);
  REQUIRE(run_until(rig.ctx, [&] { return sink_ended; }));
  CHECK(at_sink == "request");
  settle(rig.ctx);
  CHECK_FALSE(rig.result.has_value());  // still sending: the source is open

  asio::write(rig.feed, asio::buffer(std::string("response")));
  rig.feed.close();
  std::string at_peer;
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(at_peer == "response");
  CHECK(rig.result->peer_closed_first);
  // Without a descriptor the relay cannot ask the kernel whether the EOF was a reset: it stays an EOF.
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay over a hidden connection: under stop_sending the peer's EOF ends the relay") {
  HiddenRig rig;
  rig.start(PeerEofPolicy::stop_sending);
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
  CHECK(rig.feed.is_open());
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
  CHECK(rig.result->received.read_error == asio::error::eof);
}

TEST_CASE("relay over a hidden connection: a sink that is not read stops the relay reading the connection") {
  HiddenRig rig;
  const std::string flood = random_bytes(32 * 1024 * 1024, 5);
  std::size_t accepted_from_peer = 0;
  rig.feed.close();
  rig.start(PeerEofPolicy::keep_sending);
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, flood, 256 * 1024, &accepted_from_peer, [&] { rig.peer.close(); }),
                 rethrow);
  settle(rig.ctx);  // nothing reads the sink: everything stalls

  std::size_t unread_on_connection = unread_bytes(rig.connection->hidden_descriptor());
  std::size_t waiting_in_sink = rig.drain.available();
  REQUIRE(accepted_from_peer >= unread_on_connection);
  std::size_t taken_by_relay = accepted_from_peer - unread_on_connection;
  asio::socket_base::send_buffer_size sink_buffer;
  rig.sink.get_option(sink_buffer);
  INFO("peer wrote " << accepted_from_peer << ", unread on connection " << unread_on_connection << ", relay took "
                     << taken_by_relay << ", waiting in sink " << waiting_in_sink);
  CHECK(accepted_from_peer < flood.size());
  CHECK(taken_by_relay >= waiting_in_sink);
  CHECK(taken_by_relay - waiting_in_sink <= relay_buffer_size);  // one buffer in the relay at most
  CHECK(taken_by_relay <= static_cast<std::size_t>(sink_buffer.value()) * 8 + relay_buffer_size);
  REQUIRE_FALSE(rig.result.has_value());

  std::string at_sink;
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();
  REQUIRE(rig.result.has_value());
  CHECK(accepted_from_peer == flood.size());
  CHECK(mismatch(at_sink, flood) == "");
  CHECK(rig.result->received.read_error == asio::error::eof);
}
