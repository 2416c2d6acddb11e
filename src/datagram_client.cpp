// The datagram client (connect -u, or -U -u): one datagram per stdin read (or line) on the way
// out, one stdout write per datagram on the way in, as named steps joined by TwoWay
// (two_way.hpp); and -e/-c with one peer (datagram_exec.hpp).
#include <array>
#include <asio/ip/udp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <memory>
#include <unistd.h>

#include "backend.hpp"
#include "datagram_batch.hpp"
#include "datagram_exec.hpp"
#include "datagram_sizes.hpp"
#include "diag.hpp"
#include "dial.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "framing.hpp"
#include "parse.hpp"
#include "port_check.hpp"
#include "progress.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "sender_taps.hpp"
#include "session_end.hpp"
#include "stdio.hpp"
#include "two_way.hpp"
#include "unix_socket.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;

// A connected UDP socket seen as a stream that SendShaper can write to: every write is one
// datagram, sent whole.
struct DatagramWriter {
  DatagramSocket& socket;
  using executor_type = DatagramSocket::executor_type;
  executor_type get_executor() { return socket.get_executor(); }
  template <typename Buffers, typename Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    return socket.async_send(buffers, std::forward<Handler>(handler));
  }
};

// Connects `socket` (closed) to the first of HOST's addresses that takes it, from -s and
// --source-port if given. Returns the last failure, if none did. Throws when HOST or the
// source address cannot be resolved, or the source cannot be bound (see bind_source).
std::error_code connect_udp(DatagramSocket& socket, const Options& options) {
  std::vector<asio::ip::address> targets = resolve_host(options.host, options.family, false);
  std::vector<asio::ip::address> sources = source_addresses(options);
  std::uint16_t port = options.port.number;

  std::error_code failure = asio::error::host_not_found;
  for (const asio::ip::address& address : targets) {
    udp::endpoint target(address, port);
    std::error_code ec;
    socket.open(target.protocol(), ec);
    if (!ec) {
      if (auto source = source_for(options, address, sources))
        bind_source(socket, DatagramSocket::endpoint_type(udp::endpoint(source->first, source->second)), false, options);
      socket.connect(target, ec);
    }
    failure = ec;
    if (!ec) break;
    std::error_code ignored;
    socket.close(ignored);
  }
  return failure;
}

// A socket connected to the peer that the options name (-U -u: see connect_unix_datagram),
// said under -v; nothing (after one error line) when no address of HOST took it. The kernel
// then drops datagrams from anyone else, and reports ICMP "port unreachable" (UDP) or a closed
// peer (Unix) as a refused connection. Throws when a name cannot be resolved.
std::optional<DatagramSocket> connect_datagram_socket(const asio::any_io_executor& executor, const Options& options) {
  DatagramSocket socket(executor);
  if (options.unix_socket) {
    socket = connect_unix_datagram(executor, options);
  } else if (std::error_code failure = connect_udp(socket, options)) {
    diag::error("connect to " + options.host + " port " + options.port.text, failure);
    return std::nullopt;
  }
  diag::info(1, "sending datagrams to " + format_endpoint(socket.remote_endpoint()) + " from " +
                    format_endpoint(socket.local_endpoint()));
  return socket;
}

// connect -u -e/-c: the program's output goes to the peer, a datagram per read, and the
// peer's datagrams to its stdin, until it exits (datagram_exec.hpp).
asio::awaitable<int> run_command_with_peer(const Options& options) {
  ChildCommand command(options.command, options.crlf);  // a missing program ends the run before it connects
  std::optional<RelayTap> tap;  // opens -o/-x before any I/O; prints --stats however we end
  if (ServerTap::wanted(options)) tap.emplace(options);
  std::optional<DatagramSocket> socket = connect_datagram_socket(co_await asio::this_coro::executor, options);
  if (!socket) co_return exit_failure;
  DatagramCommandLimits limits;
  limits.peer_tap = tap ? &*tap : nullptr;
  if (tap) tap->start();
  int status = co_await serve_datagram_commands(*socket, command, limits, socket->remote_endpoint());
  if (tap) tap->stop();
  co_return status == exit_ok && tap && tap->failed() ? exit_failure : status;  // a failed log write is exit 1
}

// Writes one received datagram to stdout, as a line when `as_line` (followed by LF). Returns
// false when stdout failed; `status` then holds the exit status (see stdout_status).
asio::awaitable<bool> write_datagram(asio::posix::stream_descriptor& out, const char* data, std::size_t n,
                                     bool as_line, int& status) {
  static const char line_end = '\n';
  std::array<asio::const_buffer, 2> pieces{asio::buffer(data, n), asio::buffer(&line_end, as_line ? 1 : 0)};
  auto [ec, written] = co_await asio::async_write(out, pieces, with_error);
  if (!ec) co_return true;
  status = stdout_status(ec);
  co_return false;
}

// One connect -u session: what its steps share.
struct DatagramClient {
  DatagramClient(const asio::any_io_executor& executor, const Options& options, DatagramSocket& socket, RelayTap* tap)
      : options(options),
        socket(socket),
        peer(format_endpoint(socket.remote_endpoint())),
        tap(tap),
        // --recv-only leaves stdin alone (closed: its end comes at once); --send-only discards.
        in(options.recv_only ? asio::posix::stream_descriptor(executor) : open_stdio(executor, STDIN_FILENO)),
        out(options.send_only ? open_null_sink(executor) : open_stdio(executor, STDOUT_FILENO)),
        by_line(options.framing->whole_messages),  // src/cli/ allows only line here
        // -i: while stdin is open, no datagram either way for that long ends the session (after
        // stdin's end the linger decides, and ends it with exit 0).
        two_way(executor, options.idle_timeout.count() > 0 ? std::optional(options.idle_timeout) : std::nullopt,
                {[this] { stop_sending(); }, [this] { stop_receiving(); }, [this] { idle_expired(); }}) {
    // -C / -d: one datagram per line (or per read), converted.
    if (options.crlf || options.line_delay.count() > 0)
      shaper.emplace(executor, options.crlf, options.line_delay, stdin_read_size(options.crlf));
  }
  DatagramClient(const DatagramClient&) = delete;
  DatagramClient& operator=(const DatagramClient&) = delete;

  // Ends the session with exit 1 (the caller has said why).
  void fail() {
    status = exit_failure;
    two_way.end();
  }

  // Ends the session after a failed send or receive: the peer refused (ICMP) or is gone.
  void refused(const std::error_code& ec) {
    diag::error(peer, ec);
    fail();
  }

  // Handles the error `ec` of a stdin read: none (false), or the end of the reading (true);
  // a failure other than EOF or a cancel is reported and ends the session.
  bool stdin_ended(const std::error_code& ec) {
    if (!ec) return false;
    if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
      diag::error("stdin", ec);
      fail();
    }
    return true;
  }

  // Stamps traffic for -i.
  void moved() { two_way.note_traffic(); }

  const Options& options;
  DatagramSocket& socket;
  const std::string peer;   // the peer's name, for messages
  RelayTap* tap;            // -o, -x, --stats, --progress; null without them
  asio::posix::stream_descriptor in;
  asio::posix::stream_descriptor out;
  std::optional<SendShaper> shaper;
  const bool by_line;       // --framing line: a datagram per stdin line, a line per datagram
  TwoWay two_way;
  int status = exit_ok;
  std::uint64_t sent = 0;      // datagrams sent
  std::uint64_t received = 0;  // datagrams received
  std::chrono::steady_clock::time_point last_activity;  // after stdin's end: its end, or the latest reply

 private:
  void stop_sending() {
    std::error_code ignored;
    in.cancel(ignored);
    if (shaper) shaper->cancel();
  }
  void stop_receiving() {
    std::error_code ignored;
    socket.cancel(ignored);
  }
  void idle_expired() {
    diag::error(idle_timeout_message(options.idle_timeout));
    status = exit_failure;
  }
};

// Sends slots [0, count) of `batch`, waiting while the socket buffer is full.
asio::awaitable<void> send_batch(DatagramClient& c, DatagramBatch& batch, std::size_t count) {
  for (std::size_t done = 0; done < count && !c.two_way.ended();) {
    std::error_code send_error;
    std::size_t sent = batch.send_connected(c.socket.native_handle(), done, count - done, send_error);
    if (c.tap)
      for (std::size_t i = done; i < done + sent; ++i) c.tap->crossed(Direction::sent, batch.payload(i));
    done += sent;
    c.sent += sent;
    if (sent > 0) c.moved();
    if (send_error == asio::error::would_block || send_error == asio::error::try_again) {
      auto [wait_error] = co_await c.socket.async_wait(udp::socket::wait_write, with_error);
      if (wait_error) break;
    } else if (send_error) {
      c.refused(send_error);
      break;
    }
  }
}

// -C / -d: a datagram per stdin read, through the shaper.
asio::awaitable<void> send_shaped_reads(DatagramClient& c) {
  auto buffer = std::make_unique<std::array<char, datagram_receive_size>>();
  const std::size_t read_size = stdin_read_size(c.options.crlf);
  while (!c.two_way.ended() && c.in.is_open()) {
    auto [ec, n] = co_await c.in.async_read_some(asio::buffer(buffer->data(), read_size), with_error);
    if (c.stdin_ended(ec)) break;
    DatagramWriter writer{c.socket};
    auto [send_error, sent] = co_await c.shaper->write(writer, std::span<const char>(buffer->data(), n), c.tap);
    ++c.sent;
    c.moved();
    if (send_error && send_error != asio::error::operation_aborted) c.refused(send_error);
  }
}

// Cuts the complete lines of `pending[0, have)` (with `input_ended`, a last one without LF)
// into `batch`, sending it whenever it is full and at the end; returns the bytes consumed, or
// nothing after a line too long for one datagram (reported; the session is over).
asio::awaitable<std::optional<std::size_t>> send_complete_lines(DatagramClient& c, DatagramBatch& batch,
                                                                std::span<const char> pending, std::size_t checked,
                                                                bool input_ended) {
  const Framing& line = line_framing();
  std::size_t at = 0;
  std::size_t count = 0;
  for (;;) {
    std::span<const char> rest = pending.subspan(at);
    Decoded message = line.decode(rest, datagram_send_size, at == 0 ? checked : 0);
    if (message.status == DecodeStatus::incomplete && input_ended && !rest.empty()) {
      message.status = DecodeStatus::complete;  // the last line needs no LF
      message.payload_size = rest.size() - (rest.back() == '\r' ? 1 : 0);
      message.consumed = rest.size();
    }
    if (message.status == DecodeStatus::too_large) {
      diag::error("stdin: a line over " + diag::count_of(datagram_send_size, "byte") + " does not fit in one datagram");
      c.fail();
      co_return std::nullopt;
    }
    if (message.status != DecodeStatus::complete) break;
    std::memcpy(batch.slot(count).data(), rest.data(), message.payload_size);
    batch.set_length(count++, message.payload_size);
    at += message.consumed;
    if (count == DatagramBatch::capacity) {
      co_await send_batch(c, batch, count);
      count = 0;
    }
  }
  co_await send_batch(c, batch, count);
  co_return at;
}

// --framing line: one datagram per stdin line (LF or CRLF, a last line without LF counts).
asio::awaitable<void> send_lines(DatagramClient& c) {
  auto batch = std::make_unique<DatagramBatch>();
  std::vector<char> pending(datagram_send_size + 2 + datagram_receive_size);
  std::size_t have = 0;
  std::size_t checked = 0;  // pending[0, checked) is known to hold no complete line
  bool input_ended = !c.in.is_open();
  while (!c.two_way.ended() && !input_ended) {
    auto [ec, n] = co_await c.in.async_read_some(asio::buffer(pending.data() + have, pending.size() - have), with_error);
    if (ec != asio::error::eof && c.stdin_ended(ec)) break;
    input_ended = ec == asio::error::eof;
    have += n;
    std::optional<std::size_t> at =
        co_await send_complete_lines(c, *batch, std::span<const char>(pending.data(), have), checked, input_ended);
    if (!at) co_return;
    std::memmove(pending.data(), pending.data() + *at, have - *at);
    have -= *at;
    checked = have;
  }
}

// A datagram per stdin read, a batch (sendmmsg) at a time: a batch starts with one read that
// may wait, then takes what stdin already holds (stdin is non-blocking: see send_stdin).
asio::awaitable<void> send_reads(DatagramClient& c) {
  auto batch = std::make_unique<DatagramBatch>();
  bool input_ended = !c.in.is_open();
  while (!c.two_way.ended() && !input_ended) {
    auto [ec, n] = co_await c.in.async_read_some(asio::buffer(batch->slot(0).data(), datagram_send_size), with_error);
    if (c.stdin_ended(ec)) break;
    batch->set_length(0, n);
    std::size_t count = 1;
    while (count < DatagramBatch::capacity) {
      std::error_code read_error;
      std::size_t more = c.in.read_some(asio::buffer(batch->slot(count).data(), datagram_send_size), read_error);
      if (read_error == asio::error::eof) input_ended = true;
      if (read_error) break;  // would_block, EOF, or an error the next read reports
      batch->set_length(count++, more);
    }
    co_await send_batch(c, *batch, count);
  }
}

// After stdin's end: --send-only has nothing to wait for. A peer that answered none of the
// many datagrams it got is a sink (a log collector, a receiver): waiting would only delay the
// exit, unless -q asks for it. Otherwise wait for replies until the line has been quiet for
// the linger (-q, or default_udp_linger).
asio::awaitable<void> linger_after_stdin(DatagramClient& c) {
  c.two_way.stop_idle_watch();  // the linger decides from here
  const Options& options = c.options;
  if (options.send_only) c.two_way.end();
  if (!options.quit_after && c.received == 0 && c.sent >= udp_sink_datagrams) c.two_way.end();
  c.last_activity = std::chrono::steady_clock::now();
  const std::chrono::milliseconds linger_time = options.quit_after.value_or(default_udp_linger);
  if (co_await c.two_way.linger(linger_time, &c.last_activity)) c.two_way.end();
}

// The sending direction: stdin into datagrams, then the linger.
asio::awaitable<void> send_stdin(DatagramClient& c) {
  std::error_code ignored;
  c.in.non_blocking(true, ignored);  // so that send_reads' read_some reports would_block, not waits
  if (c.shaper) co_await send_shaped_reads(c);
  else if (c.by_line) co_await send_lines(c);
  else co_await send_reads(c);
  co_await linger_after_stdin(c);
}

// The receiving direction: every datagram to stdout, until the session ends or stdout fails.
asio::awaitable<void> receive_replies(DatagramClient& c) {
  auto buffer = std::make_unique<std::array<char, datagram_receive_size>>();
  while (!c.two_way.ended()) {
    auto [ec, n] = co_await c.socket.async_receive(asio::buffer(*buffer), with_error);
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      c.refused(ec);
      break;
    }
    ++c.received;
    c.moved();
    if (c.tap) c.tap->crossed(Direction::received, std::span<const char>(buffer->data(), n));
    c.last_activity = std::chrono::steady_clock::now();
    if (!co_await write_datagram(c.out, buffer->data(), n, c.by_line, c.status)) {
      c.two_way.end();
      break;
    }
  }
}

// Runs both directions (with --progress beside them, when the tap shows it).
asio::awaitable<void> run_both_ways(DatagramClient& c) {
  auto send = [&] { return send_stdin(c); };
  auto receive = [&] { return receive_replies(c); };
  const ProgressMode mode = c.tap ? progress_mode(c.options) : ProgressMode::off;
  if (mode == ProgressMode::off) {
    co_await c.two_way.run(send, receive);
    co_return;
  }
  std::optional<std::uint64_t> total = c.options.recv_only ? std::nullopt : regular_file_remaining(STDIN_FILENO);
  co_await (c.two_way.run(send, receive) || show_progress(*c.tap, total, mode));
}

}  // namespace

asio::awaitable<int> datagram_connect(const Options& options) {
  if (options.zero_io) co_return co_await check_ports(options);  // -z -u
  if (!options.command.empty()) co_return co_await run_command_with_peer(options);
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::optional<RelayTap> tap;  // opens -o/-x before any I/O; prints --stats however we end
  if (RelayTap::wanted(options)) tap.emplace(options);
  std::optional<DatagramSocket> socket = connect_datagram_socket(executor, options);
  if (!socket) co_return exit_failure;
  DatagramClient client(executor, options, *socket, tap ? &*tap : nullptr);
  if (tap) tap->start();
  co_await run_both_ways(client);
  if (tap) tap->stop();
  diag::info(1, "sent " + diag::count_of(client.sent, "datagram") + " to " + client.peer + ", received " +
                    std::to_string(client.received));
  co_return client.status == exit_ok && tap && tap->failed() ? exit_failure : client.status;  // a failed log write is exit 1
}

}  // namespace sockcat
