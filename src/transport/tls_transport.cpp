// The tls row of the transport table (--ssl): TLS over the connection the tcp or unix row
// makes. A listener wraps each client (its handshake runs in its session's first reads and
// writes, after the access lists); a client runs its handshake here and verifies the peer
// before returning, so a refused peer never sees a byte of stdin.
#include <openssl/ssl.h>

#include <stdexcept>

#include "diag.hpp"
#include "exit_status.hpp"
#include "port_check.hpp"
#include "transport/tls_connection.hpp"
#include "transport/transport.hpp"

namespace sockcat {
namespace {

// The row that carries the TLS records: unix under -U, the proxy's tunnel under --proxy, tcp otherwise.
const Transport& carrier_row(const Options& options) {
  if (options.unix_socket) return unix_transport;
  return options.role == Role::connect && options.proxy ? proxy_transport : tcp_transport;
}

std::unique_ptr<Listener> listen_tls(const asio::any_io_executor& executor, const Options& options) {
  auto context = std::make_shared<const TlsContext>(options);  // a bad file ends the run before it listens
  std::unique_ptr<Listener> carrier = carrier_row(options).listen(executor, options);
  return std::make_unique<TlsListener>(std::move(carrier), std::move(context), options.tls.handshake_timeout);
}

// A handshake that failed, or a peer our checks refused: what() is the whole line ("TLS with
// PEER: REASON"), reason() the part after the peer.
class TlsRefusal : public std::runtime_error {
 public:
  TlsRefusal(const std::string& peer, const std::string& reason)
      : std::runtime_error("TLS with " + peer + ": " + reason), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// The peer's name in a refusal: "localhost port 443", or -U's path.
std::string peer_name(const Options& options, const Connection& connection) {
  return options.unix_socket ? connection.peer() : options.host + " port " + options.port.text;
}

// Runs the handshake over `carrier` and checks the peer as options.tls says; throws one line
// ("TLS with HOST port PORT: reason") when it fails or the peer is refused.
asio::awaitable<std::unique_ptr<Connection>> start_tls(std::unique_ptr<Connection> carrier, const TlsContext& context,
                                                      const Options& options) {
  const std::string name = peer_name(options, *carrier);
  SSL* ssl = context.new_client_ssl(carrier->descriptor());
  if (!ssl) throw TlsRefusal(name, "out of memory");
  auto connection = std::make_unique<TlsConnection>(std::move(carrier), ssl, options.tls.handshake_timeout);
  if (std::error_code failure = co_await connection->start())
    throw TlsRefusal(name, describe_handshake_failure(failure, connection->verify_failure(), context.expected_name(),
                                                       options.tls.option));
  const TlsOptions& tls = options.tls;
  std::string trust;
  if (tls.pin) {
    if (!peer_matches_pin(connection->native(), *tls.pin))
      throw TlsRefusal(name, "certificate SHA-256 " + peer_fingerprint(connection->native()) + " does not match " + tls.option + "-pin");
    trust = "certificate matches " + tls.option + "-pin";
  } else if (tls.insecure) {
    trust = "certificate NOT verified (" + tls.option + "-insecure), SHA-256 " + peer_fingerprint(connection->native());
  } else {
    trust = "certificate verified" + (context.expected_name().empty() ? "" : " for " + context.expected_name());
  }
  diag::info(1, "TLS with " + name + ": " + describe_session(connection->native()) + "; " + trust);
  co_return connection;
}

// The client context for `options`: built at the first dial with these TLS options to this
// host, then kept for the run, since a forwarding server dials once per client and reading the
// trust store each time would hold every client up. Kept in a holder that is never freed: a
// context freed after OpenSSL's own clean-up at exit would crash.
std::shared_ptr<const TlsContext> client_context(const Options& options) {
  struct Cached {
    Options options;  // what the context was built from (it refers to options.tls)
    std::shared_ptr<const TlsContext> context;
  };
  static auto* cached = new std::shared_ptr<Cached>();
  const std::shared_ptr<Cached>& last = *cached;
  if (!last || last->options.tls != options.tls || last->options.host != options.host ||
      last->options.unix_socket != options.unix_socket) {
    auto made = std::make_shared<Cached>(Cached{options, nullptr});
    made->context = std::make_shared<const TlsContext>(made->options);
    *cached = made;
  }
  // The context's lifetime is tied to its options' through the aliasing constructor.
  return std::shared_ptr<const TlsContext>(*cached, (*cached)->context.get());
}

asio::awaitable<std::unique_ptr<Connection>> dial_tls(const Options& options) {
  std::shared_ptr<const TlsContext> context = client_context(options);  // kept until the handshake is over
  std::unique_ptr<Connection> carrier = co_await carrier_row(options).dial(options);
  co_return co_await start_tls(std::move(carrier), *context, options);
}

// connect -z --ssl: a port is open when a TLS handshake with it completes and its peer passes
// the same checks as a connection's. Ports are tried one after another; -v says each one's
// fate and, for a failure, why.
asio::awaitable<int> check_tls(const Options& options) {
  TlsContext context(options);
  if (options.unix_socket) {
    std::unique_ptr<Connection> carrier = co_await carrier_row(options).dial(options);
    co_await start_tls(std::move(carrier), context, options);
    co_return exit_ok;
  }
  bool any_open = false;
  for (std::uint16_t port : options.port_list) {
    Options one = options;
    one.port.number = port;
    one.port.text = std::to_string(port);
    PortState state = PortState::failed;
    std::string reason;
    try {
      std::unique_ptr<Connection> carrier = co_await carrier_row(one).dial(one);
      std::unique_ptr<Connection> connection = co_await start_tls(std::move(carrier), context, one);
      connection->close();
      state = PortState::open;
      any_open = true;
    } catch (const TlsRefusal& refusal) {
      reason = refusal.reason();
    } catch (const std::system_error& failure) {  // the TCP connect's
      if (failure.code() == asio::error::connection_refused) state = PortState::closed;
      reason = failure.code() == std::errc::timed_out ? "timed out" : failure.code().message();
    } catch (const std::runtime_error& failure) {  // a proxy's refusal (--proxy)
      reason = failure.what();
    }
    diag::info(1, describe_probe(options.host, port, false, state, reason));
  }
  co_return any_open ? exit_ok : exit_failure;
}

}  // namespace

extern const Transport tls_transport{"tls", [](const Options& options) { return options.tls.enabled; }, listen_tls,
                                     dial_tls, check_tls};

}  // namespace sockcat
