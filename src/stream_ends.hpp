// The few operations a pump (pump.hpp) needs from either end of a direction, for a Connection
// and for Asio's own descriptors and sockets (stdin, stdout, pipes) alike, so one pump serves
// every pair. The Asio forms forward to Asio at no cost; the Connection forms are its interface.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/write.hpp>
#include <concepts>
#include <span>
#include <system_error>
#include <tuple>

#include "transport/connection.hpp"
#include "with_error.hpp"

namespace sockcat {

// An Asio stream object (descriptor, socket), as opposed to a Connection.
template <typename End>
concept AsioEnd = !std::derived_from<End, Connection>;

// Reads what `end` has, waiting until it has something: the bytes, or the error (eof at its
// end). The Connection forms of this and write_all are in connection.hpp.
template <AsioEnd End>
asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(End& end, std::span<char> into) {
  return end.async_read_some(asio::buffer(into.data(), into.size()), with_error);
}

// Writes all of `from` to `end`.
template <AsioEnd End>
asio::awaitable<std::tuple<std::error_code, std::size_t>> write_all(End& end, std::span<const char> from) {
  return asio::async_write(end, asio::buffer(from.data(), from.size()), with_error);
}

// Waits until `end` is ready for `what` (readable or writable).
template <AsioEnd End>
asio::awaitable<std::error_code> wait_until(End& end, Readiness what) {
  auto [ec] = co_await end.async_wait(what == Readiness::readable ? End::wait_read : End::wait_write, with_error);
  co_return ec;
}
inline asio::awaitable<std::error_code> wait_until(Connection& end, Readiness what) {
  return end.wait(what);
}

// The kernel descriptor `end` moves its bytes through unchanged, -1 if none.
template <AsioEnd End>
int descriptor_of(End& end) {
  return end.is_open() ? end.native_handle() : -1;
}
inline int descriptor_of(const Connection& end) {
  return end.descriptor();
}

// Makes `end`'s own calls report would_block instead of waiting (a Connection never waits).
template <AsioEnd End>
void make_non_blocking(End& end) {
  std::error_code ignored;
  end.non_blocking(true, ignored);
}
inline void make_non_blocking(Connection&) {}

}  // namespace sockcat
