#include "datagram_exec.hpp"

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "diag.hpp"
#include "sender_gate.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "line_shaping.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using Endpoint = DatagramSocket::endpoint_type;
using namespace asio::experimental::awaitable_operators;

// Receive buffer: larger than any datagram, so none is truncated.
constexpr std::size_t receive_size = 64 * 1024;
// The most one read of a program's output may take: the largest UDP payload over IPv4.
constexpr std::size_t largest_datagram = 65507;

// `endpoint` as a UDP one (it must be AF_INET or AF_INET6).
asio::ip::udp::endpoint as_udp(const Endpoint& endpoint) {
  return ip_endpoint_of<asio::ip::udp>(endpoint.data(), endpoint.size());
}

// The local end that replies to `remote` leave from: the socket's own address, or, when it is
// bound to a wildcard address, the address the kernel's route to `remote` picks (as a socket
// connected to the sender, like ncat's, would report).
Endpoint local_end_towards(DatagramSocket& socket, const Endpoint& remote) {
  std::error_code ec;
  Endpoint local = socket.local_endpoint(ec);
  if (ec || local.data()->sa_family == AF_UNIX) return local;
  asio::ip::udp::endpoint bound = as_udp(local);
  if (!bound.address().is_unspecified()) return local;
  asio::ip::udp::socket probe(socket.get_executor());
  asio::ip::udp::endpoint target = as_udp(remote);
  probe.open(target.protocol(), ec);
  if (!ec) probe.connect(target, ec);  // a route lookup only: nothing is sent
  asio::ip::udp::endpoint route = ec ? bound : probe.local_endpoint(ec);
  if (ec) return local;
  asio::ip::udp::endpoint chosen(route.address(), bound.port());
  return Endpoint(chosen.data(), chosen.size());
}

// One sender's program and what sockcat holds for it.
struct Session {
  Session(Endpoint sender, std::string name, PipedChild piped)
      : peer(std::move(sender)), label(std::move(name)), child(std::move(piped)),
        idle(child.input.get_executor()), last_activity(std::chrono::steady_clock::now()) {}

  Endpoint peer;
  std::string label;  // "datagrams from PEER", for -v lines
  PipedChild child;
  std::vector<char> pending;  // the rest of a datagram the pipe had no room for (one at most)
  bool flushing = false;      // `pending` is being written: further datagrams are dropped
  bool input_closed = false;  // the program's stdin has ended (idle, or the peer refused)
  bool exited = false;        // the program has exited and been reaped
  asio::steady_timer idle;
  std::chrono::steady_clock::time_point last_activity;  // the last datagram either way
  CrlfConverter crlf;

  // Ends the program's stdin (it reads EOF).
  void close_input() {
    input_closed = true;
    std::error_code ignored;
    child.input.close(ignored);
  }
};

// The sessions of one datagram socket, keyed by sender, and the receive loop that feeds them.
class DatagramCommandServer {
 public:
  DatagramCommandServer(DatagramSocket& socket, const ChildCommand& command, DatagramCommandLimits limits,
                        bool connected)
      : socket_(socket), command_(command), limits_(limits), connected_(connected) {}

  // Serves until the socket is closed (-k) or the single session has ended; `peer` starts a
  // session at once (connect). Returns the exit status.
  asio::awaitable<int> run(std::optional<Endpoint> peer) {
    if (peer && !start(*peer)) co_return status_;
    auto buffer = std::make_unique<std::array<char, receive_size>>();
    while (!done_) {
      Endpoint sender;
      auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(*buffer), sender, with_error);
      if (done_ || ec == asio::error::operation_aborted) break;
      if (ec) {
        received_error(ec);
        continue;
      }
      auto found = sessions_.find(sender);
      std::shared_ptr<Session> session = found == sessions_.end() ? nullptr : found->second;
      if (!session && may_start(sender)) session = start(sender);
      if (!session) continue;
      std::span<const char> datagram(buffer->data(), n);
      if (RelayTap* tap = tap_of(sender)) tap->crossed(Direction::received, datagram);
      deliver(session, datagram);
    }
    co_return status_;
  }

 private:
  // A failed receive: on a connected socket, the peer refused (ICMP), which ends the program's
  // stdin and the run's success; otherwise only noted under -v.
  void received_error(const std::error_code& ec) {
    if (!connected_ || sessions_.empty()) {
      diag::info(1, "receive: " + ec.message());
      return;
    }
    Session& session = *sessions_.begin()->second;
    diag::error(format_endpoint(session.peer), ec);
    status_ = exit_failure;
    session.close_input();
  }

  // The admission of a new sender: the access lists first (a refused sender never starts a
  // program), then the single session without -k, then -m. Notes each refusal under -v.
  bool may_start(const Endpoint& sender) {
    const std::string name = format_endpoint(sender);
    if (limits_.access && !limits_.access->admits(sender.data())) {
      noted_.note(sender, "datagrams from " + name + " refused: not allowed (--allow/--deny)");
      return false;
    }
    if (!limits_.keep_open && started_) {
      noted_.note(sender, "datagrams from " + name + " dropped: one sender is served without -k");
      return false;
    }
    if (limits_.max_conns != 0 && sessions_.size() >= limits_.max_conns) {
      noted_.note(sender, "datagrams from " + name + " dropped: " + std::to_string(limits_.max_conns) +
                              (limits_.max_conns == 1 ? " program" : " programs") + " running already (-m)");
      return false;
    }
    return true;
  }

  // Starts the program for `sender` and its session; null (after one error line) when it
  // could not be started, which without -k ends the run with exit 1.
  std::shared_ptr<Session> start(const Endpoint& sender) {
    started_ = true;
    const std::string label = std::string(connected_ ? "datagrams with " : "datagrams from ") + format_endpoint(sender);
    std::shared_ptr<Session> session;
    try {
      ConnectionEnds ends = datagram_ends(sender, local_end_towards(socket_, sender));
      session = std::make_shared<Session>(sender, label, start_piped_child(socket_.get_executor(), ends, command_));
    } catch (const std::system_error& e) {
      diag::error(label + ": " + e.what());
      if (!limits_.keep_open) {
        status_ = exit_failure;
        end_run();
      }
      return nullptr;
    }
    diag::info(1, label + ": running " + command_.describe() + " (pid " + std::to_string(session->child.process->pid()) +
                      ")");
    sessions_[sender] = session;
    asio::co_spawn(socket_.get_executor(), run_session(session), asio::detached);
    return session;
  }

  // Writes one datagram to the program's stdin without waiting: what the pipe has no room
  // for is finished in the background, and datagrams arriving meanwhile are dropped.
  void deliver(const std::shared_ptr<Session>& shared, std::span<const char> datagram) {
    Session& session = *shared;
    if (session.input_closed || session.exited) return;
    session.last_activity = std::chrono::steady_clock::now();
    if (session.flushing) {
      diag::info(2, session.label + ": a datagram dropped: the program is not reading");
      return;
    }
    std::error_code ec;
    std::size_t written = datagram.empty() ? 0 : session.child.input.write_some(asio::buffer(datagram.data(), datagram.size()), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return;  // it closed its stdin
    if (written == datagram.size()) return;
    session.pending.assign(datagram.begin() + static_cast<std::ptrdiff_t>(written), datagram.end());
    session.flushing = true;
    asio::co_spawn(socket_.get_executor(), flush(shared), asio::detached);
  }

  // Writes the session's pending bytes, waiting for the program to read.
  static asio::awaitable<void> flush(std::shared_ptr<Session> session) {
    co_await asio::async_write(session->child.input, asio::buffer(session->pending), with_error);
    session->pending.clear();
    session->flushing = false;
  }

  // Sends each read of the program's output to the sender as one datagram (-C: converted),
  // until the output ends, or the program has exited and what it left is sent.
  asio::awaitable<void> pump_output(Session& session) {
    const std::size_t read_size = command_.crlf() ? largest_datagram / 2 : largest_datagram;
    auto buffer = std::make_unique<char[]>(read_size);
    auto converted = std::make_unique<char[]>(command_.crlf() ? 2 * read_size : 0);
    for (;;) {
      std::error_code ec;
      std::size_t n = 0;
      if (session.exited) {
        n = session.child.output.read_some(asio::buffer(buffer.get(), read_size), ec);  // never waits
      } else {
        std::tie(ec, n) = co_await session.child.output.async_read_some(asio::buffer(buffer.get(), read_size), with_error);
        if (ec == asio::error::operation_aborted && session.exited) continue;  // drain what it left
      }
      if (ec) break;
      session.last_activity = std::chrono::steady_clock::now();
      std::span<const char> datagram(buffer.get(), n);
      if (command_.crlf()) datagram = {converted.get(), session.crlf.convert(datagram, converted.get())};
      auto [send_error, sent] = co_await socket_.async_send_to(asio::buffer(datagram.data(), datagram.size()),
                                                               session.peer, with_error);
      if (send_error) diag::info(1, session.label + ": send: " + send_error.message());
      else if (RelayTap* tap = tap_of(session.peer)) tap->crossed(Direction::sent, datagram.first(sent));
    }
  }

  // Waits for the program's exit; then the output is drained and the idle watch stops.
  static asio::awaitable<void> reap(Session& session, int& status) {
    status = co_await session.child.process->wait();
    session.exited = true;
    std::error_code ignored;
    session.child.output.cancel(ignored);
    session.idle.cancel();
  }

  // -i: after a quiet `idle_timeout` both ways, the program's stdin ends; after another, the
  // program is asked to end (SIGTERM).
  asio::awaitable<void> watch_idle(Session& session) {
    const std::chrono::milliseconds idle = limits_.idle_timeout;
    if (idle.count() == 0) co_return;
    while (!session.exited) {
      session.idle.expires_at(session.last_activity + idle);
      co_await session.idle.async_wait(with_error);
      if (session.exited) break;
      auto now = std::chrono::steady_clock::now();
      if (now < session.last_activity + idle) continue;
      if (!session.input_closed) {
        diag::info(1, session.label + ": idle timeout (-i): closing the program's stdin");
        session.close_input();
        session.last_activity = now;
        continue;
      }
      diag::info(1, session.label + ": still idle after its stdin ended: ending " + command_.describe());
      session.child.process->terminate();
      break;
    }
  }

  // One sender's session, from its program's start to its exit.
  asio::awaitable<void> run_session(std::shared_ptr<Session> session) {
    int status = -1;
    co_await (pump_output(*session) && reap(*session, status) && watch_idle(*session));
    session->close_input();
    std::error_code ignored;
    session->child.output.close(ignored);
    auto found = sessions_.find(session->peer);
    if (found != sessions_.end() && found->second == session) sessions_.erase(found);
    diag::info(1, session->label + " closed: " + command_.describe() + " " + describe_wait_status(status));
    if (!limits_.keep_open) end_run();
  }

  // The tap that logs what crosses with `sender` (-o, -x, --stats); null when not logging.
  RelayTap* tap_of(const Endpoint& sender) {
    if (limits_.peer_tap) return limits_.peer_tap;
    return limits_.taps ? &limits_.taps->of(sender.data(), sender.size()) : nullptr;
  }

  // Ends run(): its receive is cancelled and it returns.
  void end_run() {
    done_ = true;
    std::error_code ignored;
    socket_.cancel(ignored);
  }

  DatagramSocket& socket_;
  const ChildCommand& command_;
  DatagramCommandLimits limits_;
  bool connected_;        // connect -u -e: the socket is connected to its one peer
  bool started_ = false;  // a session was started (without -k, the only one)
  bool done_ = false;
  int status_ = exit_ok;
  std::map<Endpoint, std::shared_ptr<Session>> sessions_;
  NoteOnce noted_;
};

}  // namespace

asio::awaitable<int> serve_datagram_commands(DatagramSocket& socket, const ChildCommand& command,
                                             DatagramCommandLimits limits, std::optional<Endpoint> peer) {
  DatagramCommandServer server(socket, command, limits, peer.has_value());
  co_return co_await server.run(peer);
}

}  // namespace sockcat
