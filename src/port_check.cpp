#include "port_check.hpp"

#include <arpa/inet.h>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <netdb.h>
#include <optional>
#include <vector>

#include "diag.hpp"
#include "dial.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "parse.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {


// Probes run side by side: enough to check a range quickly, few enough for any fd limit.
constexpr std::size_t probes_in_flight = 64;

// One probe's answer: the state, and for a failed one why.
struct Probe {
  PortState state = PortState::failed;
  std::error_code error;
};

// /etc/services' name for `port` over tcp or udp, or "" when it has none.
std::string service_name(std::uint16_t port, bool udp) {
  const servent* entry = ::getservbyport(htons(port), udp ? "udp" : "tcp");
  return entry && entry->s_name ? std::string(entry->s_name) : std::string();
}

// The word for a failed probe: the usual ones short, the rest as the system says them.
std::string failure_reason(const std::error_code& error) {
  if (error == std::errc::timed_out) return "timed out";
  return error.message();
}

// Connects to `port` on each of `targets` in turn until one accepts, closing it at once.
asio::awaitable<Probe> probe_tcp(std::uint16_t port, const std::vector<asio::ip::address>& targets,
                                 const std::vector<asio::ip::address>& sources, const Options& options) {
  auto executor = co_await asio::this_coro::executor;
  Probe probe;
  for (const asio::ip::address& address : targets) {
    asio::ip::tcp::socket socket(executor);
    asio::ip::tcp::endpoint target(address, port);
    std::error_code failure = co_await connect_tcp(socket, target, sources, options);
    if (!failure) co_return Probe{PortState::open, {}};
    if (targets.size() > 1) diag::info(2, "connect to " + format_endpoint(target) + " failed: " + failure.message());
    probe = Probe{failure == asio::error::connection_refused ? PortState::closed : PortState::failed, failure};
  }
  co_return probe;
}

// Sends "\0" to `port` on one address from a connected socket and waits up to `wait` for the
// answer: a datagram (open), a refusal (ICMP port unreachable: closed), or nothing.
asio::awaitable<Probe> probe_udp_address(const asio::ip::udp::endpoint& target,
                                         const std::vector<asio::ip::address>& sources, const Options& options,
                                         std::chrono::milliseconds wait) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::udp::socket socket(executor);
  std::error_code ec;
  socket.open(target.protocol(), ec);
  if (ec) co_return Probe{PortState::failed, ec};
  if (auto source = source_for(options, target.address(), sources))
    bind_source(socket, asio::ip::udp::endpoint(source->first, source->second), false, options);
  socket.connect(target, ec);
  if (ec) co_return Probe{PortState::failed, ec};
  static const char zero = '\0';
  auto [send_error, sent] = co_await socket.async_send(asio::buffer(&zero, 1), with_error);
  if (send_error == asio::error::connection_refused) co_return Probe{PortState::closed, send_error};
  if (send_error) co_return Probe{PortState::failed, send_error};
  char answer = 0;
  asio::steady_timer deadline(executor, wait);
  Probe probe{PortState::open_filtered, {}};
  auto receive = [&]() -> asio::awaitable<void> {
    auto [receive_error, n] = co_await socket.async_receive(asio::buffer(&answer, 1), with_error);
    if (receive_error == asio::error::operation_aborted) co_return;
    deadline.cancel();
    if (receive_error == asio::error::connection_refused) probe = Probe{PortState::closed, receive_error};
    else if (!receive_error || receive_error == asio::error::message_size) probe = Probe{PortState::open, {}};
    else probe = Probe{PortState::failed, receive_error};
  };
  auto expire = [&]() -> asio::awaitable<void> {
    auto [timer_error] = co_await deadline.async_wait(with_error);
    std::error_code ignored;
    if (!timer_error) socket.cancel(ignored);
  };
  co_await (receive() && expire());
  co_return probe;
}

// Probes `port` on each of `targets` in turn until one is not closed.
asio::awaitable<Probe> probe_udp(std::uint16_t port, const std::vector<asio::ip::address>& targets,
                                 const std::vector<asio::ip::address>& sources, const Options& options) {
  const std::chrono::milliseconds wait =
      options.connect_timeout.count() > 0 ? options.connect_timeout : default_udp_probe_wait;
  Probe probe;
  for (const asio::ip::address& address : targets) {
    asio::ip::udp::endpoint target(address, port);
    probe = co_await probe_udp_address(target, sources, options, wait);
    if (probe.state != PortState::closed) break;
    if (targets.size() > 1) diag::info(2, "udp " + format_endpoint(target) + ": closed");
  }
  co_return probe;
}

}  // namespace

std::string describe_probe(const std::string& host, std::uint16_t port, bool udp, PortState state,
                           const std::string& reason) {
  std::string line = host + " port " + std::to_string(port);
  std::string service = service_name(port, udp);
  if (!service.empty()) line += std::string(" [") + (udp ? "udp/" : "tcp/") + service + "]";
  line += ": ";
  switch (state) {
    case PortState::open: return line + "open";
    case PortState::open_filtered: return line + "open|filtered";
    case PortState::closed: return line + (udp ? "closed" : "refused");
    case PortState::failed: break;
  }
  return line + reason;
}

asio::awaitable<int> check_ports(const Options& options) {
  auto executor = co_await asio::this_coro::executor;
  const std::vector<asio::ip::address> targets = resolve_host(options.host, options.family, false);
  std::vector<asio::ip::address> sources = source_addresses(options);
  const std::vector<std::uint16_t>& ports = options.port_list;
  std::size_t next = 0;
  std::size_t answered = 0;  // open, or open|filtered
  std::exception_ptr setup_failure;
  // -v: each port's line, printed in the order of the list as soon as those before it are.
  std::vector<std::optional<std::string>> lines(diag::verbosity() >= 1 ? ports.size() : 0);
  std::size_t printed = 0;

  auto prober = [&]() -> asio::awaitable<void> {
    while (next < ports.size()) {
      std::size_t index = next++;
      std::uint16_t port = ports[index];
      Probe probe = options.udp ? co_await probe_udp(port, targets, sources, options)
                                : co_await probe_tcp(port, targets, sources, options);
      if (probe.state == PortState::open || probe.state == PortState::open_filtered) ++answered;
      if (lines.empty()) continue;
      lines[index] = describe_probe(options.host, port, options.udp, probe.state, failure_reason(probe.error));
      while (printed < lines.size() && lines[printed]) diag::info(1, *lines[printed++]);
    }
  };
  // Run the probers side by side: each takes the next port until none is left. A set-up
  // failure (a source that cannot be bound) stops them all and ends the check.
  std::size_t prober_count = std::min(probes_in_flight, ports.size());
  std::size_t finished = 0;
  asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < prober_count; ++i) {
    asio::co_spawn(executor, prober(), [&](std::exception_ptr failure) {
      if (failure && !setup_failure) {
        setup_failure = failure;
        next = ports.size();
      }
      if (++finished == prober_count) all_done.cancel();
    });
  }
  co_await all_done.async_wait(with_error);
  if (setup_failure) std::rethrow_exception(setup_failure);
  co_return answered > 0 ? exit_ok : exit_failure;
}

}  // namespace sockcat
