// relay.hpp with copy threads (copy_thread.hpp): each direction moves on a thread of its own
// with blocking calls while the io_context keeps the policies. Local socket pairs stand for
// stdin, stdout and the connection, as in relay_test.cpp; what the threads do is waited for by
// running the io_context until the relay's result is there (the join is the relay's last step).
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "in_process.hpp"
#include "fake_transport.hpp"
#include "relay.hpp"
#include "send_shaper.hpp"
#include "relay_rig.hpp"
#include "transport/socket_connection.hpp"

using namespace sockcat;
using sockcat::in_process::mismatch;
using sockcat::in_process::random_bytes;
using sockcat::in_process::read_now;
using sockcat::in_process::read_to_eof;
using sockcat::in_process::LocalRig;
using sockcat::in_process::rethrow;
using sockcat::in_process::run_until;
using sockcat::in_process::write_pieces;
using local_socket = asio::local::stream_protocol::socket;
using namespace std::chrono_literals;

namespace {

// Relay options with copy threads allowed and the given peer-EOF policy.
RelayOptions threaded(PeerEofPolicy policy) {
  RelayOptions options{true, policy, {}};
  options.copy_threads = true;
  return options;
}

// The threads this process runs now.
int thread_count() {
  int count = 0;
  if (DIR* tasks = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(tasks))
      if (entry->d_name[0] != '.') ++count;
    ::closedir(tasks);
  }
  return count;
}

}  // namespace

TEST_CASE("relay threads: copy_threads_fit takes a plain relay and refuses what must watch the bytes or the time") {
  LocalRig rig;
  RelayOptions options = threaded(PeerEofPolicy::keep_sending);
  CHECK(copy_threads_fit(*rig.connection, rig.source, rig.sink, options));
  CHECK_FALSE(copy_threads_fit(*rig.connection, rig.source, rig.sink, RelayOptions{}));  // not allowed
  RelayOptions with_idle = options;
  with_idle.idle_timeout = 1s;
  CHECK_FALSE(copy_threads_fit(*rig.connection, rig.source, rig.sink, with_idle));
  SendShaper crlf(rig.ctx.get_executor(), true, 0ms, relay_buffer_size);
  RelayOptions with_shaper = options;
  with_shaper.shaper = &crlf;
  CHECK_FALSE(copy_threads_fit(*rig.connection, rig.source, rig.sink, with_shaper));
  auto [hidden, its_peer] = fake::hidden_pair(rig.ctx.get_executor());
  CHECK_FALSE(copy_threads_fit(*hidden, rig.source, rig.sink, options));  // no descriptor to block in
}

TEST_CASE("relay threads: megabytes both ways arrive complete, on two threads, and the socket comes back") {
  LocalRig rig;
  const std::string up = random_bytes(4 * 1024 * 1024 + 17, 11);
  const std::string down = random_bytes(3 * 1024 * 1024 + 5, 12);
  std::string at_peer, at_sink;
  std::size_t fed = 0, sent_by_peer = 0;
  rig.start(threaded(PeerEofPolicy::keep_sending));
  asio::co_spawn(rig.ctx, write_pieces(rig.feed, up, 100'000, &fed, [&] { rig.feed.close(); }), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.peer, &at_peer), rethrow);
  REQUIRE(run_until(rig.ctx, [&] { return at_peer.size() >= 1024 * 1024; }));
  const int threads_during = thread_count();
  // The peer half-closes once it has sent everything; the rest of the source still goes to it.
  auto half_close = [&] { rig.peer.shutdown(asio::socket_base::shutdown_send); };
  asio::co_spawn(rig.ctx, write_pieces(rig.peer, down, 77'777, &sent_by_peer, half_close), rethrow);
  asio::co_spawn(rig.ctx, read_to_eof(rig.drain, &at_sink), rethrow);
  rig.run_to_end();

  REQUIRE(rig.result.has_value());
  CHECK(threads_during == thread_count() + 2);  // both ran meanwhile and are joined now
                                                // (counted after: a sanitizer may add its own)
  CHECK(mismatch(at_peer, up) == "");
  CHECK(mismatch(at_sink, down) == "");
  CHECK(rig.result->sent.bytes == up.size());
  CHECK(rig.result->sent.read_error == asio::error::eof);
  CHECK(rig.result->received.bytes == down.size());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK_FALSE(rig.result->sent.write_error);
  CHECK_FALSE(rig.result->received.write_error);
  CHECK(rig.connection->is_open());
  CHECK(rig.connection->descriptor() != -1);
}

TEST_CASE("relay threads: -q's time after the source's EOF interrupts a thread blocked reading the connection") {
  LocalRig rig;
  RelayOptions options = threaded(PeerEofPolicy::keep_sending);
  options.quit_after = 50ms;
  rig.start(options);
  rig.feed.close();  // the source ends at once; the peer never sends and never closes
  auto started = std::chrono::steady_clock::now();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
  CHECK(std::chrono::steady_clock::now() - started >= 50ms);
  CHECK(rig.result->quit);
  CHECK(rig.result->received.read_error == asio::error::operation_aborted);
  CHECK(rig.result->sent.read_error == asio::error::eof);
  std::error_code ec;
  read_now(rig.peer, ec);
  CHECK(ec == asio::error::eof);  // the half-close went out while the socket was lent
}

TEST_CASE("relay threads: under until_source_idle a silent source after the peer's EOF ends the relay") {
  LocalRig rig;
  RelayOptions options = threaded(PeerEofPolicy::until_source_idle);
  options.source_idle_limit = 100ms;
  rig.start(options);
  asio::write(rig.feed, asio::buffer(std::string("sent before")));
  rig.peer.shutdown(asio::socket_base::shutdown_send);
  auto started = std::chrono::steady_clock::now();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
  CHECK(std::chrono::steady_clock::now() - started >= 100ms);
  CHECK(rig.result->source_idle);
  CHECK(rig.feed.is_open());
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
  CHECK(rig.result->sent.bytes == 11);
  std::error_code ec;
  CHECK(read_now(rig.peer, ec) == "sent before");
}

TEST_CASE("relay threads: under keep_sending a peer that has fully closed ends the relay although the source is open") {
  LocalRig rig;
  rig.start(threaded(PeerEofPolicy::keep_sending));
  rig.peer.close();
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
  CHECK(rig.feed.is_open());
  CHECK(rig.result->received.read_error == asio::error::eof);
  CHECK(rig.result->sent.read_error == asio::error::operation_aborted);
}

TEST_CASE("relay threads: a failing sink ends the relay with a write error") {
  LocalRig rig;
  rig.drain.close();
  rig.start(threaded(PeerEofPolicy::stop_sending));
  asio::write(rig.peer, asio::buffer(std::string("nobody reads this")));
  REQUIRE(run_until(rig.ctx, [&] { return rig.result.has_value(); }));
  CHECK(rig.result->received.write_error == asio::error::broken_pipe);
  CHECK(rig.result->received.bytes == 0);
}

TEST_CASE("relay threads: pipes for stdin and stdout take the splice path both ways") {
  // The ends the binary has when run in a pipeline: stdin and stdout are pipes.
  asio::io_context ctx;
  in_process::ignore_sigpipe();
  local_socket ours(ctx), peer(ctx);
  asio::local::connect_pair(ours, peer);
  SocketConnection connection(StreamSocket(std::move(ours)), StreamEndpoint(), "peer");
  int in[2], out[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  asio::posix::stream_descriptor source(ctx, in[0]), feed(ctx, in[1]), sink(ctx, out[1]), drain(ctx, out[0]);
  const std::string up = random_bytes(2 * 1024 * 1024 + 3, 13);
  const std::string down = random_bytes(1024 * 1024 + 7, 14);
  std::optional<RelayResult> result;
  std::string at_peer, at_sink;
  std::size_t fed = 0, sent_by_peer = 0;
  in_process::spawn_into(ctx, relay(connection, source, sink, threaded(PeerEofPolicy::keep_sending)), &result);
  asio::co_spawn(ctx, write_pieces(feed, up, 65'536, &fed, [&] { feed.close(); }), rethrow);
  asio::co_spawn(ctx, read_to_eof(peer, &at_peer), rethrow);
  asio::co_spawn(ctx, write_pieces(peer, down, 50'000, &sent_by_peer, [&] { peer.shutdown(asio::socket_base::shutdown_send); }), rethrow);
  bool sink_ended = false;
  asio::co_spawn(ctx, read_to_eof(drain, &at_sink, &sink_ended), rethrow);
  REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  sink.close();  // what the binary's end does with stdout
  REQUIRE(run_until(ctx, [&] { return sink_ended && at_peer.size() == up.size(); }));
  CHECK(mismatch(at_peer, up) == "");
  CHECK(mismatch(at_sink, down) == "");
  CHECK(result->sent.read_error == asio::error::eof);
  CHECK(result->received.read_error == asio::error::eof);
  CHECK(source.is_open());  // given back to Asio after the thread
}
