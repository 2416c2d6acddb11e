// file_server.hpp over the descriptor-less fake transport, in process: sendfile is impossible
// without a descriptor, so the file must go through the buffered fallback, whole, then EOF.
#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "fake_transport.hpp"
#include "file_server.hpp"
#include "in_process.hpp"

using namespace sockcat;
using namespace sockcat::fake;
using namespace sockcat::in_process;

namespace {

// A temporary file holding `contents`, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/sockcat-fake-file-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    std::size_t at = 0;
    while (at < contents.size()) {
      ssize_t n = ::write(fd, contents.data() + at, contents.size() - at);
      REQUIRE(n > 0);
      at += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A client that reads until its connection ends, then closes (as a client leaving would).
struct Downloader {
  LocalSocket socket;
  std::string received;
  std::optional<std::error_code> ended;

  Downloader(asio::io_context& ctx, FakeListener& listener) : socket(dial(listener)) {
    asio::co_spawn(ctx, download(), rethrow);
  }

  // Reads to the end, then closes: the server waits for this close (send_file_linger).
  asio::awaitable<void> download() {
    co_await read_to_end(socket, &received, &ended);
    socket.close();
  }
};

}  // namespace

TEST_CASE("send-file over the fake: one client gets the whole file, then EOF, and the server returns 0") {
  ignore_sigpipe();
  const std::string contents = random_bytes(5 * 1024 * 1024 + 123, 31);
  TempFile file(contents);
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<int> status;
  spawn_into(ctx, serve_file(listener, file.path(), false, ServerLimits{}), &status);
  Downloader client(ctx, listener);
  REQUIRE(run_until(ctx, [&] { return status.has_value() && client.ended.has_value(); }));
  CHECK(*client.ended == asio::error::eof);
  CHECK(mismatch(client.received, contents) == "");
  CHECK(*status == 0);
}

TEST_CASE("send-file over the fake: with -k every client gets the whole file, one that does not read holds up no other") {
  ignore_sigpipe();
  const std::string contents = random_bytes(3 * 1024 * 1024 + 5, 32);
  TempFile file(contents);
  asio::io_context ctx;
  FakeListener listener(ctx.get_executor());
  std::optional<int> status;
  spawn_into(ctx, serve_file(listener, file.path(), true, ServerLimits{}), &status);
  LocalSocket idle_reader = dial(listener);  // reads nothing until the others are done
  std::vector<std::unique_ptr<Downloader>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<Downloader>(ctx, listener));
  REQUIRE(run_until(ctx, [&] {
    for (const auto& client : clients)
      if (!client->ended) return false;
    return true;
  }));
  for (const auto& client : clients) {
    CHECK(*client->ended == asio::error::eof);
    CHECK(mismatch(client->received, contents) == "");
  }
  CHECK(idle_reader.available() < contents.size());  // still waiting for it to take the rest

  std::string late;
  std::optional<std::error_code> late_end;
  asio::co_spawn(ctx, read_to_end(idle_reader, &late, &late_end), rethrow);
  REQUIRE(run_until(ctx, [&] { return late_end.has_value(); }));
  CHECK(mismatch(late, contents) == "");
  idle_reader.close();
  CHECK_FALSE(status.has_value());
  listener.close();
  REQUIRE(run_until(ctx, [&] { return status.has_value(); }));
  CHECK(*status == 0);
}
