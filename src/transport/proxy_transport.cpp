// The proxy row of the transport table (--proxy): a TCP connection to the proxy, over which the
// proxy's handshake (SOCKS4, SOCKS4a, SOCKS5 or HTTP CONNECT) asks for a connection to HOST
// PORT. The row returns that same TCP connection, so TLS (--ssl) runs end to end through the
// tunnel as over a direct connection, and the sessions cannot tell the difference. Each of the
// proxy's answers is read exactly to its end (the codecs say how many bytes are still due), so
// bytes the target sends right behind the proxy's reply stay in the socket for the session.
#include <asio/ip/address.hpp>
#include <stdexcept>

#include "diag.hpp"
#include "parse.hpp"
#include "endpoint.hpp"
#include "exit_status.hpp"
#include "name_lookup.hpp"
#include "port_check.hpp"
#include "proxy/http_connect.hpp"
#include "proxy/socks.hpp"
#include "transport/transport.hpp"

namespace sockcat {
namespace {

// A proxy that refused, failed or spoke nonsense: what() is the whole line ("proxy HOST:PORT:
// REASON"), reason() the part after the proxy's name.
class ProxyRefusal : public std::runtime_error {
 public:
  ProxyRefusal(const std::string& proxy, const std::string& reason)
      : std::runtime_error("proxy " + proxy + ": " + reason), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// The proxy's name in messages: "127.0.0.1:1080", "[::1]:3128".
std::string proxy_name(const ProxyOptions& proxy) { return format_host_port(proxy.host, proxy.port.text); }

const char* type_name(ProxyType type) {
  switch (type) {
    case ProxyType::socks4: return "socks4";
    case ProxyType::socks4a: return "socks4a";
    case ProxyType::socks5: return "socks5";
    case ProxyType::http: return "http";
  }
  return "?";
}

// The value of a codec's result, or a ProxyRefusal with its problem.
template <typename T>
T value_or_refuse(Parsed<T> parsed, const std::string& proxy) {
  if (auto* problem = std::get_if<std::string>(&parsed)) throw ProxyRefusal(proxy, *problem);
  return std::get<T>(std::move(parsed));
}

// One proxy handshake on `connection`, within one time limit. (Callers pass named values to
// send(): g++ 12 destroys a temporary in a co_await expression twice if the coroutine is
// destroyed while suspended there.)
class Handshake {
 public:
  Handshake(Connection& connection, std::string proxy, std::chrono::milliseconds limit)
      : connection_(connection), proxy_(std::move(proxy)), deadline_(std::chrono::steady_clock::now() + limit) {}

  // Sends `bytes` whole.
  asio::awaitable<void> send(const std::string& bytes) {
    auto [ec, written] = co_await write_all(connection_, bytes, time_left());
    if (ec) throw ProxyRefusal(proxy_, describe(ec, "sending the handshake"));
  }

  // Reads one answer, exactly to its end as `frame` tells it.
  asio::awaitable<std::string> receive(Frame (*frame)(std::string_view)) {
    std::string received;
    for (;;) {
      Frame next = frame(received);
      if (next.status == Frame::Status::complete) co_return received;
      if (next.status == Frame::Status::invalid) throw ProxyRefusal(proxy_, next.problem);
      const std::size_t had = received.size();
      received.resize(had + next.size);
      std::span<char> into(received.data() + had, next.size);
      auto [ec, n] = co_await read_when_readable(connection_, into, time_left());
      received.resize(had + n);
      if (ec) throw ProxyRefusal(proxy_, describe(ec, "waiting for its answer"));
    }
  }

  const std::string& proxy() const { return proxy_; }

 private:
  // At least a millisecond: zero would mean no limit to the waits.
  std::chrono::milliseconds time_left() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::milliseconds(1));
  }

  static std::string describe(const std::error_code& ec, const char* doing) {
    if (ec == asio::error::eof) return std::string("closed the connection ") + doing;
    if (ec == std::errc::timed_out) return std::string("no answer in time ") + doing;
    return ec.message() + " " + doing;
  }

  Connection& connection_;
  std::string proxy_;
  std::chrono::steady_clock::time_point deadline_;
};

// The target the proxy is asked for: the host as given (the proxy resolves it), or with
// --proxy-dns local an address looked up here, off the thread and within -w (IPv4 for SOCKS4,
// which has no other).
asio::awaitable<ProxyTarget> target_of(const Options& options) {
  const ProxyOptions& proxy = *options.proxy;
  if (proxy.remote_dns) co_return ProxyTarget{options.host, options.port.number};
  Family family = proxy.type == ProxyType::socks4 ? Family::v4 : options.family;
  std::vector<asio::ip::address> addresses = co_await resolve_host_async(options.host, family, options.connect_timeout);
  co_return ProxyTarget{addresses.front().to_string(), options.port.number};
}

asio::awaitable<void> ask_socks4(Handshake& handshake, const ProxyOptions& proxy, const ProxyTarget& target) {
  Parsed<Wire> request = proxy.type == ProxyType::socks4 ? encode_socks4_connect(target, proxy.user)
                                                         : encode_socks4a_connect(target, proxy.user);
  const Wire wire = value_or_refuse(std::move(request), handshake.proxy());
  co_await handshake.send(wire.bytes);
  std::string reply = co_await handshake.receive(frame_socks4_reply);
  value_or_refuse(decode_socks4_reply(reply), handshake.proxy());
}

asio::awaitable<void> ask_socks5(Handshake& handshake, const ProxyOptions& proxy, const ProxyTarget& target) {
  const std::string greeting = encode_socks5_greeting(proxy.authenticate);
  co_await handshake.send(greeting);
  std::string choice_bytes = co_await handshake.receive(frame_socks5_choice);
  std::uint8_t method = value_or_refuse(decode_socks5_choice(choice_bytes, proxy.authenticate), handshake.proxy());
  if (method == socks5_password_auth) {
    Wire login = value_or_refuse(encode_socks5_password(ProxyCredentials{proxy.user, proxy.password}), handshake.proxy());
    co_await handshake.send(login.bytes);
    std::string verdict = co_await handshake.receive(frame_socks5_password_reply);
    value_or_refuse(decode_socks5_password_reply(verdict), handshake.proxy());
  }
  Wire request = value_or_refuse(encode_socks5_connect(target), handshake.proxy());
  co_await handshake.send(request.bytes);
  std::string reply = co_await handshake.receive(frame_socks5_reply);
  value_or_refuse(decode_socks5_reply(reply), handshake.proxy());
}

asio::awaitable<void> ask_http(Handshake& handshake, const ProxyOptions& proxy, const ProxyTarget& target) {
  std::optional<ProxyCredentials> credentials;
  if (proxy.authenticate) credentials = ProxyCredentials{proxy.user, proxy.password};
  Wire request = value_or_refuse(encode_http_connect(target, credentials), handshake.proxy());
  co_await handshake.send(request.bytes);
  std::string head = co_await handshake.receive(frame_http_head);
  value_or_refuse(decode_http_response(head), handshake.proxy());
}

// Connects to the proxy and has it connect to options.host and options.port. Throws one line:
// the TCP connect's failure, or "proxy HOST:PORT: REASON" (ProxyRefusal).
asio::awaitable<std::unique_ptr<Connection>> dial_proxy(const Options& options) {
  const ProxyOptions& proxy = *options.proxy;
  const std::string name = proxy_name(proxy);
  const ProxyTarget target = co_await target_of(options);  // before the proxy's connection: a bad name costs nothing
  Options to_proxy = options;
  to_proxy.host = proxy.host;
  to_proxy.port = proxy.port;
  to_proxy.proxy.reset();
  to_proxy.tls = TlsOptions{};
  std::unique_ptr<Connection> connection = co_await tcp_transport.dial(to_proxy);
  const std::chrono::milliseconds limit =
      options.connect_timeout.count() > 0 ? options.connect_timeout : default_proxy_handshake_timeout;
  Handshake handshake(*connection, name, limit);
  switch (proxy.type) {
    case ProxyType::socks4:
    case ProxyType::socks4a: co_await ask_socks4(handshake, proxy, target); break;
    case ProxyType::socks5: co_await ask_socks5(handshake, proxy, target); break;
    case ProxyType::http: co_await ask_http(handshake, proxy, target); break;
  }
  diag::info(1, "proxy " + name + " (" + type_name(proxy.type) + "): connected to " + options.host + " port " +
                    options.port.text);
  co_return connection;
}

// connect -z --proxy: a port is open when the proxy connects to it; ports are tried one after
// another, and -v gives each one's reason.
asio::awaitable<int> check_proxy(const Options& options) {
  bool any_open = false;
  for (std::uint16_t port : options.port_list) {
    Options one = options;
    one.port = Port{std::to_string(port), port};
    PortState state = PortState::failed;
    std::string reason;
    try {
      std::unique_ptr<Connection> connection = co_await dial_proxy(one);
      connection->close();
      state = PortState::open;
      any_open = true;
    } catch (const ProxyRefusal& refusal) {
      reason = refusal.reason();
    }
    diag::info(1, describe_probe(options.host, port, false, state, reason));
  }
  co_return any_open ? exit_ok : exit_failure;
}

std::unique_ptr<Listener> listen_proxy(const asio::any_io_executor&, const Options&) {
  throw std::logic_error("the proxy row dials only");  // wanted() never picks it to listen
}

}  // namespace

extern const Transport proxy_transport{"proxy",
                                       [](const Options& options) {
                                         return options.role == Role::connect && options.proxy.has_value();
                                       },
                                       listen_proxy, dial_proxy, check_proxy};

}  // namespace sockcat
