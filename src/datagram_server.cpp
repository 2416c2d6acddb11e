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
#include "datagram_forward.hpp"
#include "datagram_sizes.hpp"
#include "diag.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "listen_socket.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "sender_gate.hpp"
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
// unless logging) see every datagram each way. Opens stdin and stdout when constructed.
class DatagramRelay {
 public:
  DatagramRelay(const asio::any_io_executor& executor, DatagramSocket& socket, const Options& options,
                SenderGate& gate, SenderTaps* taps)
      : executor_(executor),
        socket_(socket),
        gate_(gate),
        taps_(taps),
        quit_after_(options.send_only ? std::chrono::milliseconds(0) : options.quit_after),
        in_(options.recv_only ? asio::posix::stream_descriptor(executor) : open_stdio(executor, STDIN_FILENO)),
        out_(options.send_only ? open_null_sink(executor) : open_stdio(executor, STDOUT_FILENO)),
        read_size_(stdin_read_size(options.crlf)) {
    if (options.crlf) shaper_.emplace(executor, true, std::chrono::milliseconds(0), read_size_);
  }

  // Relays both ways until the run ends (see the class); returns the exit status.
  asio::awaitable<int> run() {
    co_await (receive_to_stdout() && send_stdin_to_latest_sender());
    co_return status_;
  }

 private:
  // Writes every admitted datagram to stdout, remembering its sender, until the socket is
  // cancelled or stdout fails (status_ then says how); then stops the other direction too.
  asio::awaitable<void> receive_to_stdout() {
    auto batch = std::make_unique<DatagramBatch>();
    std::vector<asio::const_buffer> payloads;
    for (;;) {
      auto [wait_error] = co_await socket_.async_wait(udp::socket::wait_read, with_error);
      if (wait_error == asio::error::operation_aborted) break;
      std::size_t count = receive_admitted(*batch);
      if (count == 0) continue;
      if (taps_) taps_->show(*batch, 0, count, Direction::received);
      remember_senders(*batch, count, payloads);
      auto [write_error, written] = co_await asio::async_write(out_, payloads, with_error);
      if (write_error) {
        status_ = stdout_status(write_error);
        break;
      }
    }
    std::error_code ignored;
    in_.cancel(ignored);
    peer_known_.cancel();
    socket_.cancel(ignored);
  }

  // Receives a batch waiting on the socket; returns how many of its datagrams the gate admits
  // (0 when the receive failed: reported under -v unless it would have blocked).
  std::size_t receive_admitted(DatagramBatch& batch) {
    std::error_code ec;
    std::size_t count = batch.receive(socket_.native_handle(), ec);
    if (ec) {
      if (ec != asio::error::would_block && ec != asio::error::try_again) diag::info(1, "receive: " + ec.message());
      return 0;
    }
    return gate_.filter(batch, count);
  }

  // Makes the sender of the last of the first `count` datagrams of `batch` the latest peer
  // (-v notes each change of sender; the first one wakes the sending side) and sets `payloads`
  // to those datagrams' payloads.
  void remember_senders(DatagramBatch& batch, std::size_t count, std::vector<asio::const_buffer>& payloads) {
    payloads.clear();
    for (std::size_t i = 0; i < count; ++i) {
      DatagramSocket::endpoint_type sender = sender_of(batch, i);
      if (!have_peer_ || sender != latest_peer_) diag::info(1, "datagrams from " + format_endpoint(sender));
      latest_peer_ = sender;
      if (!have_peer_) peer_known_.cancel();
      have_peer_ = true;
      std::span<const char> payload = batch.payload(i);
      payloads.emplace_back(payload.data(), payload.size());
    }
  }

  // Once someone has sent, sends each read of stdin as one datagram to the latest sender (a
  // failed send is reported under -v and costs only that datagram) until stdin ends or is
  // cancelled; then waits out -q (see stop_receiving_after_quit_time).
  asio::awaitable<void> send_stdin_to_latest_sender() {
    co_await peer_known_.async_wait(with_error);  // nobody to send to until someone writes
    while (have_peer_ && in_.is_open()) {
      auto [ec, n] = co_await in_.async_read_some(asio::buffer(in_buffer_->data(), read_size_), with_error);
      if (ec) break;
      std::error_code send_error = co_await send_to_latest_sender(std::span<const char>(in_buffer_->data(), n));
      if (send_error == asio::error::operation_aborted) break;
      if (send_error) diag::info(1, "send to " + format_endpoint(latest_peer_) + ": " + send_error.message());
    }
    co_await stop_receiving_after_quit_time();
  }

  // Sends `chunk` as one datagram to the latest sender (-C: converted by the shaper), showing
  // that sender's tap what went out; returns the send's error.
  asio::awaitable<std::error_code> send_to_latest_sender(std::span<const char> chunk) {
    RelayTap* tap = taps_ ? &taps_->of(latest_peer_.data(), latest_peer_.size()) : nullptr;
    std::error_code send_error;
    if (shaper_) {  // shows the tap what went out, converted
      DatagramToWriter writer{socket_, latest_peer_};
      std::tie(send_error, std::ignore) = co_await shaper_->write(writer, chunk, tap);
      co_return send_error;
    }
    std::size_t sent = 0;
    std::tie(send_error, sent) =
        co_await socket_.async_send_to(asio::buffer(chunk.data(), chunk.size()), latest_peer_, with_error);
    if (tap && !send_error) tap->crossed(Direction::sent, chunk.first(sent));
    co_return send_error;
  }

  // -q (--send-only: at once): stdin is over; stops receiving that long after. Nothing when
  // there is no -q or nobody ever sent.
  asio::awaitable<void> stop_receiving_after_quit_time() {
    if (!quit_after_ || !have_peer_) co_return;
    asio::steady_timer quit(executor_, *quit_after_);
    auto [ec] = co_await quit.async_wait(with_error);
    std::error_code ignored;
    if (!ec) socket_.cancel(ignored);
  }

  asio::any_io_executor executor_;
  DatagramSocket& socket_;
  SenderGate& gate_;
  SenderTaps* taps_;
  const std::optional<std::chrono::milliseconds> quit_after_;
  asio::posix::stream_descriptor in_;   // closed under --recv-only
  asio::posix::stream_descriptor out_;  // a null sink under --send-only
  std::unique_ptr<std::array<char, datagram_receive_size>> in_buffer_ =
      std::make_unique<std::array<char, datagram_receive_size>>();
  const std::size_t read_size_;
  std::optional<SendShaper> shaper_;  // -C only
  DatagramSocket::endpoint_type latest_peer_;
  bool have_peer_ = false;
  asio::steady_timer peer_known_{executor_, asio::steady_timer::time_point::max()};  // cancelled at the first sender
  int status_ = exit_ok;
};

// listen -u with no replying transform: see DatagramRelay.
asio::awaitable<int> relay_datagrams(DatagramSocket& socket, const Options& options, SenderGate& gate,
                                     SenderTaps* taps) {
  auto executor = co_await asio::this_coro::executor;
  DatagramRelay relay(executor, socket, options, gate, taps);
  co_return co_await relay.run();
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
  if (options.forward) co_return co_await serve_datagram_forward(socket, options, access);
  if (command) co_return co_await serve_commands_per_sender(socket, *command, options, access, taps ? &*taps : nullptr);
  const Transform& transform = *options.transform;
  if (transform.reply) co_return co_await serve_datagrams(socket, transform.reply, gate, taps ? &*taps : nullptr);
  co_return co_await relay_datagrams(socket, options, gate, taps ? &*taps : nullptr);
}

}  // namespace sockcat
