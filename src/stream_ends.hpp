// The few operations a pump (pump.hpp) needs from either end of a direction, for a Connection
// and for Asio's own descriptors and sockets (stdin, stdout, pipes) alike, so one pump serves
// every pair. The Asio forms forward to Asio at no cost; the Connection forms are its interface.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
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

// Takes `end`'s descriptor off the event loop for a copy thread (copy_thread.hpp), so that its
// readiness wakes nobody there, and returns it (-1 if none); give_back() undoes it. An Asio
// descriptor is released and later assigned again; other Asio ends (sockets in tests) stay on
// the loop; a Connection lends its socket (Connection::lend_descriptor) and takes it back itself.
template <AsioEnd End>
int lend(End& end) {
  if constexpr (std::derived_from<End, asio::posix::stream_descriptor>) {
    return end.is_open() ? end.release() : -1;
  } else {
    return descriptor_of(end);
  }
}
inline int lend(Connection& end) {
  return end.lend_descriptor();
}

// Puts back what lend() took.
template <AsioEnd End>
void give_back(End& end, int descriptor) {
  if constexpr (std::derived_from<End, asio::posix::stream_descriptor>) {
    if (descriptor != -1) end.assign(descriptor);
  }
}
inline void give_back(Connection&, int) {}

}  // namespace sockcat
