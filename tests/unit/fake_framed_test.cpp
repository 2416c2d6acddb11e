// framed_server.hpp over the descriptor-less fake transport, in process: line framing with
// the upper transform, several clients at once, the message limit and a message cut short.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fake_transport.hpp"
#include "framed_server.hpp"
#include "in_process.hpp"
#include "transform.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// A framed server (line framing, upper, messages of at most 64 bytes) on a fake listener.
struct FramedRig {
  asio::io_context ctx;
  FakeListener listener{ctx.get_executor()};
  bool server_done = false;

  FramedRig() {
    ignore_sigpipe();
    FramedService service{find_framing("line"), find_transform("upper")->reply, 64};
    spawn_flagged(ctx, serve_framed(listener, service, ServerLimits{}), &server_done);
  }

  // Closes the listener and runs until the server has returned.
  bool stop() {
    listener.close();
    return run_until(ctx, [&] { return server_done; });
  }
};

// A client that sends `text`, half-closes and reads until its connection ends.
struct LineClient {
  LocalSocket socket;
  std::string received;
  std::optional<std::error_code> ended;

  LineClient(FramedRig& rig, const std::string& text) : socket(dial(rig.listener)) {
    asio::write(socket, asio::buffer(text));
    socket.shutdown(asio::socket_base::shutdown_send);
    asio::co_spawn(rig.ctx, read_to_end(socket, &received, &ended), rethrow);
  }
};

}  // namespace

TEST_CASE("framed server over the fake: each whole line is answered, for several clients at once, then EOF") {
  FramedRig rig;
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 5; ++i) {
    std::string text;
    for (int line = 0; line < 100; ++line) text += "client " + std::to_string(i) + " line " + std::to_string(line) + "\n";
    clients.push_back(std::make_unique<LineClient>(rig, text));
  }
  REQUIRE(run_until(rig.ctx, [&] {
    for (const auto& client : clients)
      if (!client->ended) return false;
    return true;
  }));
  for (int i = 0; i < 5; ++i) {
    std::string want;
    for (int line = 0; line < 100; ++line) want += "CLIENT " + std::to_string(i) + " LINE " + std::to_string(line) + "\n";
    CHECK(clients[i]->received == want);
    CHECK(*clients[i]->ended == asio::error::eof);
  }
  CHECK(rig.stop());
}

TEST_CASE("framed server over the fake: a line over the limit closes its client without a reply") {
  FramedRig rig;
  LineClient big(rig, "short\n" + std::string(200, 'x') + "\n");
  LineClient fine(rig, "fine\n");
  REQUIRE(run_until(rig.ctx, [&] { return big.ended && fine.ended; }));
  CHECK(big.received.find('X') == std::string::npos);  // the long line got no answer
  CHECK(fine.received == "FINE\n");
  CHECK(rig.stop());
}

TEST_CASE("framed server over the fake: a client ending inside a line still gets its whole lines answered") {
  FramedRig rig;
  LineClient cut(rig, "one\ntwo\nthr");
  REQUIRE(run_until(rig.ctx, [&] { return cut.ended.has_value(); }));
  CHECK(cut.received == "ONE\nTWO\n");
  CHECK(*cut.ended == asio::error::eof);
  CHECK(rig.stop());
}

TEST_CASE("framed server over the fake: a client that does not read is no longer read, others are served") {
  FramedRig rig;
  Dialled stalled = dial_watched(rig.listener);
  std::string lines;
  for (int i = 0; lines.size() < 16 * 1024 * 1024; ++i) lines += "line number " + std::to_string(i) + " of many\n";
  std::size_t accepted_from_stalled = 0;
  asio::co_spawn(rig.ctx, write_pieces(stalled.client, lines, 256 * 1024, &accepted_from_stalled), rethrow);
  settle(rig.ctx);  // the stalled client reads no reply: everything stops

  std::size_t unread_at_server = unread_bytes(stalled.server_descriptor);
  std::size_t replies_waiting = stalled.client.available();
  REQUIRE(accepted_from_stalled >= unread_at_server);
  std::size_t taken_by_server = accepted_from_stalled - unread_at_server;
  INFO("client wrote " << accepted_from_stalled << ", server took " << taken_by_server << ", replies waiting "
                       << replies_waiting);
  CHECK(accepted_from_stalled < lines.size());
  CHECK(taken_by_server >= replies_waiting);
  // Held by the server: one read and one incomplete message at most (replies are as long as requests).
  CHECK(taken_by_server - replies_waiting <= 64 * 1024 + 64 + 1);

  LineClient other(rig, "still served\n");
  REQUIRE(run_until(rig.ctx, [&] { return other.ended.has_value(); }));
  CHECK(other.received == "STILL SERVED\n");

  std::string replies;
  std::optional<std::error_code> replies_end;
  asio::co_spawn(rig.ctx, read_to_end(stalled.client, &replies, &replies_end), rethrow);
  REQUIRE(run_until(rig.ctx, [&] { return accepted_from_stalled == lines.size(); }));
  stalled.client.shutdown(asio::socket_base::shutdown_send);
  REQUIRE(run_until(rig.ctx, [&] { return replies_end.has_value(); }));
  CHECK(*replies_end == asio::error::eof);
  std::string want = lines;
  for (char& c : want)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  CHECK(mismatch(replies, want) == "");
  CHECK(rig.stop());
}
