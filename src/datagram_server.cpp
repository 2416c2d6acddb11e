// The datagram servers (listen -u, or -U -u): a replying server that answers every sender, a
// relay of everyone's datagrams with stdin/stdout, and a program per sender (datagram_exec.hpp).
#include <algorithm>
#include <array>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <memory>
#include <unistd.h>

#include "access_list.hpp"
#include "backend.hpp"
#include "datagram_batch.hpp"
#include "datagram_exec.hpp"
#include "datagram_sizes.hpp"
#include "diag.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "listen_socket.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "sender_taps.hpp"
#include "session_end.hpp"
#include "stdio.hpp"
#include "transform.hpp"
#include "unix_socket.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;

// Binds the socket a listener uses (see bind_listener; -U: see open_unix_datagram_listener).
// Throws on failure.
DatagramSocket open_bound_socket(const asio::any_io_executor& executor, const Options& options) {
  if (options.unix_socket) return open_unix_datagram_listener(executor, options);
  std::uint16_t port = options.port.number;
  udp::socket socket(executor);
  bind_listener(socket, options, port, "udp");
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
    udp::endpoint endpoint =
        ip_endpoint_of<udp>(sender, sender->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
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
  auto in_buffer = std::make_unique<std::array<char, datagram_receive_size>>();
  const std::size_t read_size = stdin_read_size(options.crlf);
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
        status = stdout_status(write_error);
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

}  // namespace sockcat
