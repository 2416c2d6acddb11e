// The datagram backend (UDP, or Unix with -U -u): one datagram per stdin read on the way out, one stdout write per
// datagram on the way in, and a replying server that answers every sender.
#include <algorithm>
#include <array>
#include <cstring>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <memory>
#include <unistd.h>

#include "with_error.hpp"
#include "access_list.hpp"
#include "backend.hpp"
#include "datagram_batch.hpp"
#include "datagram_exec.hpp"
#include "diag.hpp"
#include "dial.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "port_check.hpp"
#include "progress.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "sender_taps.hpp"
#include "framing.hpp"
#include "stdio.hpp"
#include "transform.hpp"
#include "unix_socket.hpp"

namespace sockcat {
namespace {

using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;

// Receive buffer: larger than any UDP payload, so no datagram is ever truncated.
constexpr std::size_t receive_size = 64 * 1024;
// Largest payload we send: the IPv4 UDP maximum, so one stdin read is always one datagram.
constexpr std::size_t send_size = 65507;

using Buffer = std::array<char, receive_size>;

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

// Binds the socket a listener uses (see bind_listen_address; -U: see
// open_unix_datagram_listener). Throws on failure.
DatagramSocket open_bound_socket(const asio::any_io_executor& executor, const Options& options) {
  if (options.unix_socket) return open_unix_datagram_listener(executor, options);
  std::uint16_t port = options.port.number;
  udp::socket socket(executor);
  bind_listen_address(options, port, [&](const asio::ip::address& address) {
    udp::endpoint endpoint(address, port);
    std::error_code ec;
    socket.close(ec);
    socket.open(endpoint.protocol(), ec);
    if (!ec) socket.set_option(udp::socket::reuse_address(true), ec);
    if (!ec && address.is_v6()) socket.set_option(asio::ip::v6_only(options.family == Family::v6), ec);
    if (!ec) socket.bind(endpoint, ec);
    return ec;
  });
  diag::info(1, "listening on " + format_endpoint(socket.local_endpoint()) + " (udp)");
  return socket;
}

// The sender of datagram `i` of `batch`'s last receive, as an Asio endpoint.
DatagramSocket::endpoint_type sender_of(const DatagramBatch& batch, std::size_t i) {
  DatagramSocket::endpoint_type sender;
  std::size_t length = std::min<std::size_t>(batch.sender_length(i), sender.capacity());
  std::memcpy(sender.data(), batch.sender(i), length);
  sender.resize(length);
  return sender;
}

// The --allow/--deny check on datagrams: refused senders' datagrams are dropped unread, and
// each refused sender is noted once under -v while it is among the last `remembered` noted.
class SenderGate {
 public:
  explicit SenderGate(const AccessList& access) : access_(access) {}

  // Drops from the first `count` datagrams of `batch`'s last receive those of refused senders;
  // returns how many are left (at the front, in order).
  std::size_t filter(DatagramBatch& batch, std::size_t count) {
    if (access_.empty()) return count;
    return batch.keep_if(count, [this](const sockaddr* sender) { return admits(sender); });
  }

  // True when the list admits one datagram's `sender`; a refused one is noted (see above).
  // The check for code that receives datagrams one at a time.
  bool admits(const sockaddr* sender) {
    if (access_.admits(sender)) return true;
    if (diag::verbosity() < 1) return false;
    udp::endpoint endpoint;
    std::memcpy(endpoint.data(), sender, std::min<std::size_t>(sizeof(sockaddr_in6), endpoint.capacity()));
    endpoint.resize(sender->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    if (std::find(noted_.begin(), noted_.end(), endpoint) != noted_.end()) return false;
    noted_[next_++ % remembered] = endpoint;
    diag::info(1, "datagrams from " + format_endpoint(endpoint) + " refused: not allowed (--allow/--deny)");
    return false;
  }

 private:
  static constexpr std::size_t remembered = 64;

  const AccessList& access_;
  std::array<udp::endpoint, remembered> noted_{};
  std::size_t next_ = 0;
};

// Answers every datagram to its own sender through `reply`, until the socket is closed,
// a batch at a time (recvmmsg/sendmmsg). A failed reply is reported under -v and costs only
// that datagram. `taps` (null unless logging) see every datagram each way.
asio::awaitable<int> serve_datagrams(DatagramSocket& socket, ChunkFunction reply, SenderGate& gate, SenderTaps* taps) {
  auto batch = std::make_unique<DatagramBatch>();
  const int fd = socket.native_handle();
  for (;;) {
    auto [wait_error] = co_await socket.async_wait(udp::socket::wait_read, with_error);
    if (wait_error == asio::error::operation_aborted) co_return exit_ok;
    std::error_code ec;
    std::size_t count = batch->receive(fd, ec);
    if (ec) {
      if (ec != asio::error::would_block && ec != asio::error::try_again) diag::info(1, "receive: " + ec.message());
      continue;
    }
    count = gate.filter(*batch, count);
    if (taps) taps->show(*batch, 0, count, Direction::received);
    for (std::size_t i = 0; i < count; ++i) reply(batch->payload(i));
    for (std::size_t done = 0; done < count;) {
      std::size_t sent = batch->send_replies(fd, done, count - done, ec);
      if (taps) taps->show(*batch, done, sent, Direction::sent);
      done += sent;
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        auto [write_error] = co_await socket.async_wait(udp::socket::wait_write, with_error);
        if (write_error == asio::error::operation_aborted) co_return exit_ok;
      } else if (ec) {
        diag::info(1, "reply to " + format_endpoint(sender_of(*batch, done)) + ": " + ec.message());
        ++done;  // skip the datagram that failed
      }
    }
  }
}

// Writes one received datagram to stdout, as a line when `as_line` (followed by LF). Returns
// false (after reporting, unless the reader merely left) when stdout failed; `status` then
// holds the exit status.
asio::awaitable<bool> write_datagram(asio::posix::stream_descriptor& out, const char* data, std::size_t n,
                                     bool as_line, int& status) {
  static const char line_end = '\n';
  std::array<asio::const_buffer, 2> pieces{asio::buffer(data, n), asio::buffer(&line_end, as_line ? 1 : 0)};
  auto [ec, written] = co_await asio::async_write(out, pieces, with_error);
  if (!ec) co_return true;
  if (ec == asio::error::broken_pipe) {
    status = exit_ok;
  } else {
    diag::error("stdout", ec);
    status = exit_failure;
  }
  co_return false;
}

// An unconnected datagram socket seen as a stream that SendShaper can write to: every write
// is one datagram to `target`, sent whole.
struct DatagramToWriter {
  DatagramSocket& socket;
  const DatagramSocket::endpoint_type& target;
  using executor_type = DatagramSocket::executor_type;
  executor_type get_executor() { return socket.get_executor(); }
  template <typename Buffers, typename Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    return socket.async_send_to(buffers, target, std::forward<Handler>(handler));
  }
};

// listen -u with no replying transform: datagrams from anyone go to stdout (--send-only:
// nowhere); stdin goes, one datagram per read (-C: converted), to whoever sent the latest
// datagram (stdin is read only once someone has sent, and never with --recv-only). Runs until
// a signal or stdout fails, or -q past stdin's end (--send-only: at stdin's end). `taps` (null
// unless logging) see every datagram each way.
asio::awaitable<int> relay_datagrams(DatagramSocket& socket, const Options& options, SenderGate& gate,
                                     SenderTaps* taps) {
  auto executor = co_await asio::this_coro::executor;
  const std::optional<std::chrono::milliseconds> quit_after =
      options.send_only ? std::chrono::milliseconds(0) : options.quit_after;
  asio::posix::stream_descriptor in(executor);
  if (!options.recv_only) in = open_stdio(executor, STDIN_FILENO);
  asio::posix::stream_descriptor out = options.send_only ? open_null_sink(executor) : open_stdio(executor, STDOUT_FILENO);
  auto in_buffer = std::make_unique<Buffer>();
  // -C: half a datagram per read, so that a read of nothing but LFs still fits one datagram.
  const std::size_t read_size = options.crlf ? send_size / 2 : send_size;
  std::optional<SendShaper> shaper;
  if (options.crlf) shaper.emplace(executor, true, std::chrono::milliseconds(0), read_size);
  DatagramSocket::endpoint_type latest_peer;
  bool have_peer = false;
  asio::steady_timer peer_known(executor, asio::steady_timer::time_point::max());
  int status = exit_ok;

  auto receive = [&]() -> asio::awaitable<void> {
    auto batch = std::make_unique<DatagramBatch>();
    std::vector<asio::const_buffer> payloads;
    for (;;) {
      auto [wait_error] = co_await socket.async_wait(udp::socket::wait_read, with_error);
      if (wait_error == asio::error::operation_aborted) break;
      std::error_code ec;
      std::size_t count = batch->receive(socket.native_handle(), ec);
      if (ec) {
        if (ec != asio::error::would_block && ec != asio::error::try_again) diag::info(1, "receive: " + ec.message());
        continue;
      }
      count = gate.filter(*batch, count);
      if (count == 0) continue;
      if (taps) taps->show(*batch, 0, count, Direction::received);
      payloads.clear();
      for (std::size_t i = 0; i < count; ++i) {
        DatagramSocket::endpoint_type sender = sender_of(*batch, i);
        if (!have_peer || sender != latest_peer) diag::info(1, "datagrams from " + format_endpoint(sender));
        latest_peer = sender;
        if (!have_peer) peer_known.cancel();
        have_peer = true;
        std::span<char> payload = batch->payload(i);
        payloads.emplace_back(payload.data(), payload.size());
      }
      auto [write_error, written] = co_await asio::async_write(out, payloads, with_error);
      if (write_error) {
        if (write_error != asio::error::broken_pipe) {
          diag::error("stdout", write_error);
          status = exit_failure;
        }
        break;
      }
    }
    std::error_code ignored;
    in.cancel(ignored);
    peer_known.cancel();
    socket.cancel(ignored);
  };
  auto send = [&]() -> asio::awaitable<void> {
    co_await peer_known.async_wait(with_error);  // nobody to send to until someone writes
    while (have_peer && in.is_open()) {
      auto [ec, n] = co_await in.async_read_some(asio::buffer(in_buffer->data(), read_size), with_error);
      if (ec) break;
      RelayTap* tap = taps ? &taps->of(latest_peer.data(), latest_peer.size()) : nullptr;
      std::error_code send_error;
      if (shaper) {  // shows the tap what went out, converted
        DatagramToWriter writer{socket, latest_peer};
        std::tie(send_error, std::ignore) = co_await shaper->write(writer, std::span<const char>(in_buffer->data(), n), tap);
      } else {
        std::size_t sent = 0;
        std::tie(send_error, sent) =
            co_await socket.async_send_to(asio::buffer(in_buffer->data(), n), latest_peer, with_error);
        if (tap && !send_error) tap->crossed(Direction::sent, std::span<const char>(in_buffer->data(), sent));
      }
      if (send_error == asio::error::operation_aborted) break;
      if (send_error) diag::info(1, "send to " + format_endpoint(latest_peer) + ": " + send_error.message());
    }
    if (!quit_after || !have_peer) co_return;
    // -q: stdin is over; stop receiving that long after.
    asio::steady_timer quit(executor, *quit_after);
    auto [ec] = co_await quit.async_wait(with_error);
    std::error_code ignored;
    if (!ec) socket.cancel(ignored);
  };
  co_await (receive() && send());
  co_return status;
}

// Connects `socket` (closed) to the first of HOST's addresses that takes it, from -s and
// --source-port if given. Returns the last failure, if none did. Throws when HOST or the
// source address cannot be resolved, or the source cannot be bound (see bind_source).
std::error_code connect_udp(DatagramSocket& socket, const Options& options) {
  std::vector<asio::ip::address> targets = resolve_host(options.host, options.family, false);
  std::vector<asio::ip::address> sources;
  if (!options.source_address.empty()) sources = resolve_host(options.source_address, options.family, true);
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

// listen -u -e/-c: a program per sender (datagram_exec.hpp), within -k, -m, -i and the access lists.
asio::awaitable<int> serve_commands_per_sender(DatagramSocket& socket, const ChildCommand& command,
                                               const Options& options, const AccessList& access, SenderTaps* taps) {
  DatagramCommandLimits limits{options.keep_open, options.max_conns, options.idle_timeout,
                               access.empty() ? nullptr : &access, taps, nullptr};
  co_return co_await serve_datagram_commands(socket, command, limits);
}

}  // namespace

asio::awaitable<int> datagram_listen(const Options& options) {
  auto executor = co_await asio::this_coro::executor;
  const AccessList access = make_access_list(options);  // an unreadable file ends the run before it binds
  SenderGate gate(access);
  // The -e/-c program is found before binding: a missing one ends the run there.
  std::optional<ChildCommand> command;
  if (!options.command.empty()) command.emplace(options.command, options.crlf);
  std::optional<SenderTaps> taps;  // -o, -x, --stats: opened before any I/O; each sender labelled
  if (ServerTap::wanted(options)) taps.emplace(ServerTap::open(options, true));
  DatagramSocket socket = open_bound_socket(executor, options);
  if (command) co_return co_await serve_commands_per_sender(socket, *command, options, access, taps ? &*taps : nullptr);
  const Transform& transform = *options.transform;
  if (transform.reply) co_return co_await serve_datagrams(socket, transform.reply, gate, taps ? &*taps : nullptr);
  co_return co_await relay_datagrams(socket, options, gate, taps ? &*taps : nullptr);
}

asio::awaitable<int> datagram_connect(const Options& options) {
  if (options.zero_io) co_return co_await check_ports(options);  // -z -u
  if (!options.command.empty()) co_return co_await run_command_with_peer(options);
  auto executor = co_await asio::this_coro::executor;
  std::optional<RelayTap> tap;  // opens -o/-x before any I/O; prints --stats however we end
  if (RelayTap::wanted(options)) tap.emplace(options);
  std::optional<DatagramSocket> connected = connect_datagram_socket(executor, options);
  if (!connected) co_return exit_failure;
  DatagramSocket& socket = *connected;
  const std::string peer = format_endpoint(socket.remote_endpoint());

  // --recv-only leaves stdin alone (closed: its end comes at once); --send-only discards.
  asio::posix::stream_descriptor in(executor);
  if (!options.recv_only) in = open_stdio(executor, STDIN_FILENO);
  asio::posix::stream_descriptor out = options.send_only ? open_null_sink(executor) : open_stdio(executor, STDOUT_FILENO);
  auto out_buffer = std::make_unique<Buffer>();
  std::optional<SendShaper> shaper;  // -C / -d: one datagram per line (or per read), converted
  // Half a datagram per read with -C, so that a read of nothing but LFs still fits one datagram.
  const std::size_t read_size = options.crlf ? send_size / 2 : send_size;
  if (options.crlf || options.line_delay.count() > 0)
    shaper.emplace(executor, options.crlf, options.line_delay, read_size);
  asio::steady_timer linger(executor);
  const std::chrono::milliseconds linger_time = options.quit_after.value_or(default_udp_linger);
  auto last_activity = std::chrono::steady_clock::now();
  bool finished = false;  // set by whichever side ends the session
  // -i: while stdin is open, no datagram either way for that long ends the session (after
  // stdin's end the linger decides, and ends it with exit 0).
  const bool watch_idle = options.idle_timeout.count() > 0;
  auto last_traffic = std::chrono::steady_clock::now();
  asio::steady_timer idle_timer(executor);
  bool stdin_over = false;
  auto note_traffic = [&] {
    if (watch_idle) last_traffic = std::chrono::steady_clock::now();
  };
  int status = exit_ok;
  std::uint64_t sent_count = 0;
  std::uint64_t received_count = 0;
  const bool by_line = options.framing->whole_messages;  // src/cli/ allows only line here

  // Both sides call this to end the session: stop reading stdin and the socket.
  auto finish = [&] {
    finished = true;
    std::error_code ignored;
    in.cancel(ignored);
    socket.cancel(ignored);
    linger.cancel();
    idle_timer.cancel();
    if (shaper) shaper->cancel();
  };
  auto report_refused = [&](const std::error_code& ec) {
    diag::error(peer, ec);
    status = exit_failure;
    finish();
  };

  // Sends slots [0, count) of `batch`, waiting while the socket buffer is full.
  auto send_batch = [&](DatagramBatch& batch, std::size_t count) -> asio::awaitable<void> {
    for (std::size_t done = 0; done < count && !finished;) {
      std::error_code send_error;
      std::size_t sent = batch.send_connected(socket.native_handle(), done, count - done, send_error);
      if (tap)
        for (std::size_t i = done; i < done + sent; ++i) tap->crossed(Direction::sent, batch.payload(i));
      done += sent;
      sent_count += sent;
      if (sent > 0) note_traffic();
      if (send_error == asio::error::would_block || send_error == asio::error::try_again) {
        auto [wait_error] = co_await socket.async_wait(udp::socket::wait_write, with_error);
        if (wait_error) break;
      } else if (send_error) {
        report_refused(send_error);
        break;
      }
    }
  };
  // --framing line: one datagram per stdin line (LF or CRLF, a last line without LF counts).
  auto send_lines = [&]() -> asio::awaitable<void> {
    auto batch = std::make_unique<DatagramBatch>();
    const Framing& line = line_framing();
    std::vector<char> pending(send_size + 2 + receive_size);
    std::size_t have = 0;
    std::size_t checked = 0;
    bool input_ended = !in.is_open();
    while (!finished && !input_ended) {
      auto [ec, n] = co_await in.async_read_some(asio::buffer(pending.data() + have, pending.size() - have), with_error);
      if (ec && ec != asio::error::eof) {
        if (ec != asio::error::operation_aborted) {
          diag::error("stdin", ec);
          status = exit_failure;
          finish();
        }
        break;
      }
      input_ended = ec == asio::error::eof;
      have += n;
      std::size_t at = 0;
      std::size_t count = 0;
      for (;;) {
        std::span<const char> rest(pending.data() + at, have - at);
        Decoded message = line.decode(rest, send_size, at == 0 ? checked : 0);
        if (message.status == DecodeStatus::incomplete && input_ended && !rest.empty()) {
          message.status = DecodeStatus::complete;  // the last line needs no LF
          message.payload_size = rest.size() - (rest.back() == '\r' ? 1 : 0);
          message.consumed = rest.size();
        }
        if (message.status == DecodeStatus::too_large) {
          diag::error("stdin: a line over " + diag::count_of(send_size, "byte") + " does not fit in one datagram");
          status = exit_failure;
          finish();
          co_return;
        }
        if (message.status != DecodeStatus::complete) break;
        std::memcpy(batch->slot(count).data(), rest.data(), message.payload_size);
        batch->set_length(count++, message.payload_size);
        at += message.consumed;
        if (count == DatagramBatch::capacity) {
          co_await send_batch(*batch, count);
          count = 0;
        }
      }
      co_await send_batch(*batch, count);
      std::memmove(pending.data(), pending.data() + at, have - at);
      have -= at;
      checked = have;
    }
  };
  auto send = [&]() -> asio::awaitable<void> {
    auto batch = std::make_unique<DatagramBatch>();
    std::error_code ignored;
    in.non_blocking(true, ignored);  // so that read_some below reports would_block, not waits
    bool input_ended = !in.is_open();
    while (shaper && !finished && !input_ended) {  // -C / -d: a read at a time, through the shaper
      auto [ec, n] = co_await in.async_read_some(asio::buffer(batch->slot(0).data(), read_size), with_error);
      if (ec) {
        input_ended = true;
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
          diag::error("stdin", ec);
          status = exit_failure;
          finish();
        }
        break;
      }
      DatagramWriter writer{socket};
      auto [send_error, sent] = co_await shaper->write(writer, std::span<const char>(batch->slot(0).data(), n),
                                                       tap ? &*tap : nullptr);
      ++sent_count;
      note_traffic();
      if (send_error && send_error != asio::error::operation_aborted) report_refused(send_error);
    }
    if (by_line) {
      co_await send_lines();
      input_ended = true;
    }
    while (!finished && !input_ended) {
      // A batch starts with one read that may wait, then takes what stdin already holds:
      // still one datagram per read.
      auto [ec, n] = co_await in.async_read_some(asio::buffer(batch->slot(0).data(), send_size), with_error);
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
          diag::error("stdin", ec);
          status = exit_failure;
          finish();
        }
        break;
      }
      batch->set_length(0, n);
      std::size_t count = 1;
      while (count < DatagramBatch::capacity) {
        std::error_code read_error;
        std::size_t more = in.read_some(asio::buffer(batch->slot(count).data(), send_size), read_error);
        if (read_error == asio::error::eof) input_ended = true;
        if (read_error) break;  // would_block, EOF, or an error the next read reports
        batch->set_length(count++, more);
      }
      co_await send_batch(*batch, count);
    }
    // --send-only: nothing to wait for. A peer that answered none of the many datagrams it
    // got is a sink (a log collector, a receiver): waiting would only delay the exit, unless
    // -q asks for it. Otherwise wait for replies until the line has been quiet for the linger.
    stdin_over = true;  // the linger decides from here
    idle_timer.cancel();
    if (options.send_only) finish();
    if (!options.quit_after && received_count == 0 && sent_count >= udp_sink_datagrams) finish();
    last_activity = std::chrono::steady_clock::now();
    while (!finished) {
      linger.expires_at(last_activity + linger_time);
      co_await linger.async_wait(with_error);
      if (!finished && std::chrono::steady_clock::now() >= last_activity + linger_time) finish();
    }
  };
  auto receive = [&]() -> asio::awaitable<void> {
    while (!finished) {
      auto [ec, n] = co_await socket.async_receive(asio::buffer(*out_buffer), with_error);
      if (ec == asio::error::operation_aborted) break;
      if (ec) {
        report_refused(ec);
        break;
      }
      ++received_count;
      note_traffic();
      if (tap) tap->crossed(Direction::received, std::span<const char>(out_buffer->data(), n));
      last_activity = std::chrono::steady_clock::now();
      if (!co_await write_datagram(out, out_buffer->data(), n, by_line, status)) {
        finish();
        break;
      }
    }
  };
  auto watch = [&]() -> asio::awaitable<void> {
    while (watch_idle && !finished && !stdin_over) {
      idle_timer.expires_at(last_traffic + options.idle_timeout);
      co_await idle_timer.async_wait(with_error);
      if (finished || stdin_over || std::chrono::steady_clock::now() < last_traffic + options.idle_timeout) continue;
      diag::error(idle_timeout_message(options.idle_timeout));
      status = exit_failure;
      finish();
    }
  };
  if (tap) tap->start();
  if (const ProgressMode mode = tap ? progress_mode(options) : ProgressMode::off; mode != ProgressMode::off) {
    std::optional<std::uint64_t> total = options.recv_only ? std::nullopt : regular_file_remaining(STDIN_FILENO);
    co_await ((send() && receive() && watch()) || show_progress(*tap, total, mode));
  } else {
    co_await (send() && receive() && watch());
  }
  if (tap) tap->stop();
  diag::info(1, "sent " + diag::count_of(sent_count, "datagram") + " to " + peer + ", received " +
                    std::to_string(received_count));
  if (status == exit_ok && tap && tap->failed()) status = exit_failure;
  co_return status;
}

}  // namespace sockcat
