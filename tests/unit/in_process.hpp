// Helpers for tests that run a session and its peers as coroutines on one io_context in the
// test thread: bounded runs that end on an event (never a sleep), test data, and the peer's
// side of a socket (read to EOF, write with backpressure, read what is there now).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <sys/ioctl.h>
#include <system_error>

#include "with_error.hpp"

namespace sockcat::in_process {

using namespace std::chrono_literals;

// Upper bound on any one wait of a test; reaching it means the session hung.
inline constexpr auto hang_limit = 20s;

// Writes to a socket whose peer has gone fail with EPIPE instead of killing the test binary.
inline void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

// Completion handler for test-side coroutines: an exception fails the test from ctx.run.
inline void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Runs every handler that is ready, until none is: "nothing more can happen now" (timers aside).
inline void settle(asio::io_context& ctx) {
  for (;;) {
    ctx.restart();
    if (ctx.poll() == 0) return;
  }
}

// Runs `ctx` one handler at a time until `done()` holds or `limit` passes; returns done().
inline bool run_until(asio::io_context& ctx, const std::function<bool()>& done,
                      std::chrono::steady_clock::duration limit = hang_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ctx.restart();
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (ctx.run_one_for(deadline - now) == 0 && ctx.stopped()) return done();  // no work left: nothing can change
  }
  return true;
}

// Runs `work` on `ctx`, storing its result in `*out` when it ends (an exception fails the test).
template <typename T>
void spawn_into(asio::io_context& ctx, asio::awaitable<T> work, std::optional<T>* out) {
  asio::co_spawn(ctx, std::move(work), [out](std::exception_ptr e, T value) {
    rethrow(e);
    *out = std::move(value);
  });
}

// Runs `work` on `ctx`, setting `*done` when it ends (an exception fails the test).
inline void spawn_flagged(asio::io_context& ctx, asio::awaitable<void> work, bool* done) {
  asio::co_spawn(ctx, std::move(work), [done](std::exception_ptr e) {
    rethrow(e);
    *done = true;
  });
}

// `size` pseudo-random bytes from `seed`.
inline std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(random());
  return data;
}

// "" when `got` equals `want`; otherwise a short description (never the megabytes themselves).
inline std::string mismatch(const std::string& got, const std::string& want) {
  if (got == want) return "";
  std::size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  return "got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size()) +
         "; first difference at offset " + std::to_string(at);
}

// Reads `socket` until EOF into `*out`, then sets `*ended` (if given).
template <typename Socket>
asio::awaitable<void> read_to_eof(Socket& socket, std::string* out, bool* ended = nullptr) {
  std::string chunk(32 * 1024, '\0');
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), with_error);
    out->append(chunk.data(), n);
    if (ec == asio::error::eof) break;
    if (ec) throw std::system_error(ec, "test reader");
  }
  if (ended) *ended = true;
}

// Reads `socket` until it ends, into `*out`; stores how it ended (eof, connection_reset...).
template <typename Socket>
asio::awaitable<void> read_to_end(Socket& socket, std::string* out, std::optional<std::error_code>* ended) {
  std::string chunk(32 * 1024, '\0');
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), with_error);
    out->append(chunk.data(), n);
    if (ec) {
      *ended = ec;
      co_return;
    }
  }
}

// Writes `data` to `socket` in pieces of at most `piece` bytes, counting into `*written`;
// runs `then` once all is written.
template <typename Socket>
asio::awaitable<void> write_pieces(Socket& socket, const std::string& data, std::size_t piece, std::size_t* written,
                                   std::function<void()> then = {}) {
  std::size_t at = 0;
  while (at < data.size()) {
    std::size_t size = std::min(piece, data.size() - at);
    auto [ec, n] = co_await socket.async_write_some(asio::buffer(data.data() + at, size), with_error);
    if (ec) throw std::system_error(ec, "test writer");
    at += n;
    if (written) *written += n;
  }
  if (then) then();
}

// Reads what `socket` holds right now, never waiting: `ec` is would_block when nothing is
// there yet, eof at the end of the stream.
template <typename Socket>
std::string read_now(Socket& socket, std::error_code& ec) {
  socket.non_blocking(true);
  std::string chunk(64 * 1024, '\0');
  std::size_t n = socket.read_some(asio::buffer(chunk), ec);
  socket.non_blocking(false);
  return chunk.substr(0, n);
}

// `text` with ASCII a-z made A-Z: what `tr a-z A-Z` and the upper transform should give,
// computed here rather than by the code under test.
inline std::string ascii_upper(std::string text) {
  for (char& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

// The bytes queued for reading on descriptor `fd`.
inline std::size_t unread_bytes(int fd) {
  int n = 0;
  REQUIRE(::ioctl(fd, FIONREAD, &n) == 0);
  return static_cast<std::size_t>(n);
}

}  // namespace sockcat::in_process
