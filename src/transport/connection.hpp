// The seam between the sessions and the transports: a connected byte stream and a listener
// that yields them. Every stream session (relay, replying transforms, framed, shared stdio,
// broker, send-file, exec) is written against Connection alone, so a new transport is a new
// implementation of these two classes and a row in transport.hpp, with the sessions unchanged.
// Both are abstract so that tests can run every session over a fake.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <tuple>

#include "socket_types.hpp"

namespace sockcat {

// What a connection can be waited for.
enum class Readiness {
  readable,  // read_now() has data, the peer's EOF or an error to give
  writable,  // write_now() can take bytes
  failed,    // an error is pending (the peer reset the connection)
};

// A connected byte stream, whatever carries it. Never blocks the thread: read_now() and
// write_now() only do what can be done at once, and wait() suspends the calling coroutine.
// A session that waits before it reads holds no buffer while its peer is quiet.
class Connection {
 public:
  // `remote` is the peer's socket address (as accept() or connect() saw it, so valid after a
  // reset); `peer` its printable name for diagnostics ("127.0.0.1:4000", "/tmp/s").
  Connection(StreamEndpoint remote, std::string peer) : remote_(remote), peer_(std::move(peer)) {}
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The executor the waits complete on.
  virtual asio::any_io_executor executor() = 0;

  // Finishes setting the connection up before a session relies on it (TLS: the handshake,
  // within its time limit): no error, or why it cannot be used. A session may skip it: its
  // first reads and writes do the same. Nothing to do by default.
  virtual asio::awaitable<std::error_code> start();

  // Waits until the connection is ready for `what`. Returns operation_aborted after cancel().
  virtual asio::awaitable<std::error_code> wait(Readiness what) = 0;

  // Reads what is there now into `into`, never waiting: would_block when nothing is, eof at
  // the peer's end of stream.
  virtual std::size_t read_now(std::span<char> into, std::error_code& ec) = 0;

  // Writes as much of `from` as fits now, never waiting: would_block when nothing fits.
  virtual std::size_t write_now(std::span<const char> from, std::error_code& ec) = 0;

  // Ends our sending side: the peer reads its EOF once everything written has arrived.
  // would_block when that cannot be said now (TLS's close_notify waits for room): wait
  // writable and call again, as end_sending() does.
  virtual void shutdown_send(std::error_code& ec) = 0;

  // Ends every wait in progress with operation_aborted; the connection stays usable.
  virtual void cancel() = 0;

  // Closes the connection; closing a closed one does nothing.
  virtual void close() = 0;

  // False once closed or released.
  virtual bool is_open() const = 0;

  // Asks that small writes leave at once rather than wait to be joined (TCP_NODELAY): what a
  // server answering many clients wants. A transport without such a delay ignores it.
  virtual void send_small_writes_at_once() {}

  // Our own socket address; fails (ec set) once the connection is gone.
  virtual StreamEndpoint local_endpoint(std::error_code& ec) const = 0;

  // The kernel socket that carries the bytes unchanged, for splice, sendfile and TCP_INFO;
  // -1 for a connection without one (its bytes pass through sockcat: TLS, a test fake).
  virtual int descriptor() const = 0;

  // Gives up the kernel socket (set blocking again) so that a child can own it, leaving this
  // closed; -1, with the connection unchanged, when there is none.
  virtual int release() = 0;

  // Lends the kernel socket to copy threads (copy_thread.hpp): makes it blocking and takes it
  // off the event loop, so that its readiness wakes nobody there. Returns it, -1 when there is
  // none. Meanwhile the connection still shuts down, closes and tells its descriptor; its next
  // wait, read or write takes the socket back (non-blocking again). Lending twice returns the same.
  virtual int lend_descriptor() { return -1; }

  // The peer's socket address, as the connection began.
  const StreamEndpoint& remote() const { return remote_; }

  // The peer's printable name.
  const std::string& peer() const { return peer_; }

 private:
  StreamEndpoint remote_;
  std::string peer_;
};

// A listening endpoint of some transport. Like Connection, it never blocks the thread.
class Listener {
 public:
  virtual ~Listener() = default;

  // Waits until a client may be waiting to be taken (operation_aborted once closed).
  virtual asio::awaitable<std::error_code> wait_for_client() = 0;

  // Takes one waiting client without waiting: would_block when none is.
  virtual std::unique_ptr<Connection> accept_now(std::error_code& ec) = 0;

  // Stops listening; a wait in progress ends with operation_aborted.
  virtual void close() = 0;

  // False once closed.
  virtual bool is_open() const = 0;
};

// Tells whether a non-blocking call's error only means "not now" (EAGAIN).
bool would_block(const std::error_code& ec);

// Waits until `connection` is readable, or until `idle` passes (then returns timed_out,
// having cancelled the wait); `idle` of zero waits as long as it takes.
asio::awaitable<std::error_code> wait_readable(Connection& connection, std::chrono::milliseconds idle);

// The same for room to write.
asio::awaitable<std::error_code> wait_writable(Connection& connection, std::chrono::milliseconds idle);

// Waits until `connection` is readable (at most `idle`, zero for no limit), then reads what it
// holds into `into`. Returns the bytes read, or the error: eof at the peer's end, timed_out
// after `idle` of silence.
asio::awaitable<std::pair<std::error_code, std::size_t>> read_when_readable(Connection& connection,
                                                                            std::span<char> into,
                                                                            std::chrono::milliseconds idle = {});

// Reads what `connection` has, waiting until it has something (no time limit): the bytes, or
// the error (eof at the peer's end).
asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(Connection& connection, std::span<char> into);

// Writes all of `from`, waiting for room as often as needed (each wait at most `idle`, zero
// for no limit). Returns the error, if any, and the bytes written.
asio::awaitable<std::tuple<std::error_code, std::size_t>> write_all(Connection& connection,
                                                                    std::span<const char> from,
                                                                    std::chrono::milliseconds idle = {});

// Ends our sending side (shutdown_send), waiting for room as often as it needs (each wait at
// most `idle`, zero for no limit). Returns the error, if any.
asio::awaitable<std::error_code> end_sending(Connection& connection, std::chrono::milliseconds idle = {});

}  // namespace sockcat
