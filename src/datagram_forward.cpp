#include "datagram_forward.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <array>
#include <map>
#include <memory>

#include "diag.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "idle_watch.hpp"
#include "sender_gate.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using Endpoint = DatagramSocket::endpoint_type;
using asio::ip::udp;
using namespace asio::experimental::awaitable_operators;

// Larger than any UDP payload, so no datagram is cut.
constexpr std::size_t datagram_buffer_size = 64 * 1024;

// One sender's session: its socket to the target and its idle watch.
struct ForwardSession {
  ForwardSession(const asio::any_io_executor& executor, std::chrono::milliseconds idle)
      : upstream(executor), idle(executor, idle) {}
  udp::socket upstream;  // connected to the target
  IdleWatch idle;
  std::uint64_t sent = 0;      // datagrams from the sender to the target
  std::uint64_t answered = 0;  // datagrams from the target back to the sender
};

class DatagramForward {
 public:
  DatagramForward(DatagramSocket& socket, const Options& options, const AccessList& access)
      : socket_(socket), options_(options), gate_(access),
        idle_(options.idle_timeout.count() > 0 ? options.idle_timeout : default_forward_udp_idle) {}

  asio::awaitable<int> run() {
    executor_ = co_await asio::this_coro::executor;
    target_ = resolve_target();
    diag::info(1, "forwarding datagrams to " + format_endpoint(target_));
    auto buffer = std::make_unique<std::array<char, datagram_buffer_size>>();
    for (;;) {
      auto [waited] = co_await socket_.async_wait(asio::socket_base::wait_read, with_error);
      if (waited) co_return waited == asio::error::operation_aborted ? exit_ok : exit_failure;
      for (int taken = 0; taken < 64; ++taken) {  // then let the sessions' replies run
        Endpoint sender;
        std::error_code ec;
        std::size_t n = socket_.receive_from(asio::buffer(*buffer), sender, 0, ec);
        if (ec) break;  // would_block: all taken; anything else (an ICMP error): nothing to forward
        if (!gate_.admits(static_cast<const sockaddr*>(sender.data()))) continue;
        forward(sender, std::span<const char>(buffer->data(), n));
      }
    }
  }

 private:
  // The target's first address, resolved once for the run.
  udp::endpoint resolve_target() const {
    const ForwardTarget& forward = *options_.forward;
    std::vector<asio::ip::address> addresses = resolve_host(forward.host, options_.family, false);
    return udp::endpoint(addresses.front(), forward.port.number);
  }

  // Sends one datagram from `sender` to the target on its session, opening the session first.
  void forward(const Endpoint& sender, std::span<const char> datagram) {
    auto found = sessions_.find(sender);
    if (found == sessions_.end()) {
      std::shared_ptr<ForwardSession> session = open(sender);
      if (!session) return;
      found = sessions_.emplace(sender, std::move(session)).first;
    }
    ForwardSession& session = *found->second;
    if (auto* stamp = session.idle.stamp()) *stamp = std::chrono::steady_clock::now();
    std::error_code ec;
    session.upstream.send(asio::buffer(datagram.data(), datagram.size()), 0, ec);
    if (!ec) ++session.sent;
  }

  // A new session for `sender`, or null (noted under -v) when -m is reached or no socket can be had.
  std::shared_ptr<ForwardSession> open(const Endpoint& sender) {
    const std::string name = format_endpoint(sender);
    if (options_.max_conns > 0 && sessions_.size() >= options_.max_conns) {
      dropped_.note(sender, "datagrams from " + name + " dropped: -m " + std::to_string(options_.max_conns) +
                                " sessions open");
      return nullptr;
    }
    auto session = std::make_shared<ForwardSession>(executor_, idle_);
    std::error_code ec;
    session->upstream.open(target_.protocol(), ec);
    if (!ec) session->upstream.non_blocking(true, ec);
    if (!ec) session->upstream.connect(target_, ec);
    if (ec) {
      diag::info(1, "datagrams from " + name + " dropped: no socket to " + format_endpoint(target_) + ": " + ec.message());
      return nullptr;
    }
    diag::info(1, "datagrams from " + name + ": session to " + format_endpoint(target_));
    asio::co_spawn(executor_, run_session(sender, session), asio::detached);
    return session;
  }

  // Sends what the target answers on `session` to `sender`, until the session idles out.
  asio::awaitable<void> run_session(Endpoint sender, std::shared_ptr<ForwardSession> session) {
    co_await (answer(sender, *session) || session->idle.expired());
    session->idle.stop();
    std::error_code ignored;
    session->upstream.close(ignored);
    sessions_.erase(sender);
    diag::info(1, "datagrams from " + format_endpoint(sender) + ": session closed after " +
                      std::to_string(idle_.count()) + " ms without a datagram (" + std::to_string(session->sent) +
                      " sent, " + std::to_string(session->answered) + " answered)");
  }

  // Passes the target's datagrams on `session` back to `sender`; never returns by itself.
  asio::awaitable<void> answer(const Endpoint& sender, ForwardSession& session) {
    std::unique_ptr<std::array<char, datagram_buffer_size>> buffer;
    for (;;) {
      auto [waited] = co_await session.upstream.async_wait(asio::socket_base::wait_read, with_error);
      if (waited) co_return;
      if (!buffer) buffer = std::make_unique<std::array<char, datagram_buffer_size>>();
      for (;;) {
        std::error_code ec;
        std::size_t n = session.upstream.receive(asio::buffer(*buffer), 0, ec);
        if (would_block_error(ec)) break;
        if (ec) {  // ICMP: the target's port is closed (for now)
          diag::info(2, "datagrams from " + format_endpoint(sender) + ": the target refused one: " + ec.message());
          continue;
        }
        if (auto* stamp = session.idle.stamp()) *stamp = std::chrono::steady_clock::now();
        std::error_code sent;
        socket_.send_to(asio::buffer(buffer->data(), n), sender, 0, sent);
        if (!sent) ++session.answered;
      }
      buffer.reset();  // a quiet session holds no buffer
    }
  }

  static bool would_block_error(const std::error_code& ec) {
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  DatagramSocket& socket_;
  const Options& options_;
  SenderGate gate_;
  NoteOnce dropped_;  // senders whose datagrams -m dropped, each said once
  std::chrono::milliseconds idle_;
  asio::any_io_executor executor_;
  udp::endpoint target_;
  std::map<Endpoint, std::shared_ptr<ForwardSession>> sessions_;
};

}  // namespace

asio::awaitable<int> serve_datagram_forward(DatagramSocket& socket, const Options& options, const AccessList& access) {
  std::error_code ec;
  socket.non_blocking(true, ec);
  DatagramForward forward(socket, options, access);
  co_return co_await forward.run();
}

}  // namespace sockcat
