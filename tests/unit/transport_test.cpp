// The transport table over real sockets: which row the options pick, and that each row's
// listener and dial yield connections that carry bytes both ways, half-close, name the peer and
// offer their descriptor (the fast paths depend on it).
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <string>
#include <unistd.h>
#include <variant>

#include "in_process.hpp"
#include "transport/transport.hpp"
#include "unix_endpoint.hpp"

using namespace sockcat;
using namespace sockcat::in_process;

namespace {

// Options that listen on (or connect to) the abstract Unix name @NAME.
Options unix_options(Role role, const std::string& name) {
  Options options;
  options.role = role;
  options.unix_socket = true;
  options.unix_address = std::get<UnixAddress>(parse_unix_address("@" + name));
  return options;
}

// Options for 127.0.0.1 at `port`.
Options tcp_options(Role role, std::uint16_t port) {
  Options options;
  options.role = role;
  options.family = Family::v4;
  options.bind_address = "127.0.0.1";
  options.host = "127.0.0.1";
  options.port.text = std::to_string(port);
  options.port.number = port;
  return options;
}

// A loopback port nobody listened on a moment ago (the kernel's choice for an ephemeral bind).
std::uint16_t free_tcp_port() {
  asio::io_context ctx;
  asio::ip::tcp::acceptor probe(ctx, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return probe.local_endpoint().port();
}

// What one exchange over a listener and a dialled connection saw.
struct Exchange {
  std::string at_server;     // what the server read, to EOF
  std::string at_client;     // what the client read, to EOF
  std::string client_named;  // the client's name as the server's connection gives it
  int server_descriptor = -1;
  int client_descriptor = -1;
  bool done = false;
};

// Reads `connection` to its EOF into `into`.
asio::awaitable<void> read_all(Connection& connection, std::string* into) {
  std::array<char, 4096> buffer;
  for (;;) {
    auto [ec, n] = co_await read_when_readable(connection, buffer);
    if (ec) co_return;
    into->append(buffer.data(), n);
  }
}

// Accepts one client on `listener` while `dial` connects; each side writes its greeting,
// half-closes and reads the other's to EOF.
asio::awaitable<void> exchange(const Transport& row, const Options& listen, const Options& dial, Exchange* seen) {
  auto executor = co_await asio::this_coro::executor;
  std::unique_ptr<Listener> listener = row.listen(executor, listen);
  std::unique_ptr<Connection> client = co_await row.dial(dial);
  REQUIRE(co_await listener->wait_for_client() == std::error_code());
  std::error_code ec;
  std::unique_ptr<Connection> server = listener->accept_now(ec);
  REQUIRE_FALSE(ec);
  seen->client_named = server->peer();
  seen->server_descriptor = server->descriptor();
  seen->client_descriptor = client->descriptor();
  auto [e1, n1] = co_await write_all(*client, std::string_view("from the client"));
  auto [e2, n2] = co_await write_all(*server, std::string_view("from the server"));
  CHECK_FALSE(e1);
  CHECK_FALSE(e2);
  client->shutdown_send(ec);
  server->shutdown_send(ec);
  co_await read_all(*server, &seen->at_server);
  co_await read_all(*client, &seen->at_client);
  seen->done = true;
}

void run_exchange(const Transport& row, const Options& listen, const Options& dial, Exchange& seen) {
  asio::io_context ctx;
  asio::co_spawn(ctx, exchange(row, listen, dial, &seen), rethrow);
  ctx.run_for(hang_limit);
  REQUIRE(seen.done);
}

}  // namespace

// `options` with --ssl: a listener with a temporary certificate, a client that verifies nothing.
Options with_tls(Options options) {
  options.tls.enabled = true;
  options.tls.insecure = options.role == Role::connect;
  return options;
}

// One exchange over the tls row: the server side runs beside the dial (a TLS client's
// handshake needs the server's session to read), each side writes its greeting, ends its
// sending (close_notify) and reads the other's to EOF.
void run_tls_exchange(const Options& listen, const Options& dial, Exchange& seen) {
  asio::io_context ctx;
  std::unique_ptr<Listener> listener = tls_transport.listen(ctx.get_executor(), listen);
  bool server_done = false;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await listener->wait_for_client() == std::error_code());
    std::error_code ec;
    std::unique_ptr<Connection> server = listener->accept_now(ec);
    REQUIRE_FALSE(ec);
    seen.client_named = server->peer();
    seen.server_descriptor = server->descriptor();
    auto [write_error, n] = co_await write_all(*server, std::string_view("from the server"));
    CHECK_FALSE(write_error);
    CHECK_FALSE(co_await end_sending(*server));
    co_await read_all(*server, &seen.at_server);
    server_done = true;
  }, rethrow);
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    std::unique_ptr<Connection> client = co_await tls_transport.dial(dial);
    seen.client_descriptor = client->descriptor();
    auto [write_error, n] = co_await write_all(*client, std::string_view("from the client"));
    CHECK_FALSE(write_error);
    CHECK_FALSE(co_await end_sending(*client));
    co_await read_all(*client, &seen.at_client);
    seen.done = true;
  }, rethrow);
  run_until(ctx, [&] { return seen.done && server_done; });
  REQUIRE(seen.done);
  REQUIRE(server_done);
}

TEST_CASE("transport table: --ssl picks the tls row (over either), --proxy the proxy row, -U the unix row, anything else the tcp row") {
  CHECK(choose_transport(unix_options(Role::connect, "x")).name == "unix");
  CHECK(choose_transport(tcp_options(Role::connect, 1)).name == "tcp");
  CHECK(choose_transport(with_tls(unix_options(Role::connect, "x"))).name == "tls");
  CHECK(choose_transport(with_tls(tcp_options(Role::listen, 1))).name == "tls");
  Options proxied = tcp_options(Role::connect, 1);
  proxied.proxy = ProxyOptions{};
  CHECK(choose_transport(proxied).name == "proxy");
  CHECK(choose_transport(with_tls(proxied)).name == "tls");  // TLS runs through the proxy's tunnel
  Options listening = tcp_options(Role::listen, 1);
  listening.proxy = ProxyOptions{};  // listen --forward --proxy: the listener itself is plain tcp
  CHECK(choose_transport(listening).name == "tcp");
  CHECK(transports().size() == 4);
}

TEST_CASE("transport table: the tls row over tcp and over unix; bytes both ways, close_notify each way, no descriptor") {
  SECTION("over tcp") {
    const std::uint16_t port = free_tcp_port();
    Exchange seen;
    run_tls_exchange(with_tls(tcp_options(Role::listen, port)), with_tls(tcp_options(Role::connect, port)), seen);
    CHECK(seen.at_server == "from the client");
    CHECK(seen.at_client == "from the server");
    CHECK(seen.client_named.rfind("127.0.0.1:", 0) == 0);
    CHECK(seen.server_descriptor == -1);  // the bytes pass through sockcat: nothing to splice
    CHECK(seen.client_descriptor == -1);
  }
  SECTION("over unix") {
    const std::string name = "sockcat-tls-transport-test-" + std::to_string(::getpid());
    Exchange seen;
    run_tls_exchange(with_tls(unix_options(Role::listen, name)), with_tls(unix_options(Role::connect, name)), seen);
    CHECK(seen.at_server == "from the client");
    CHECK(seen.at_client == "from the server");
  }
}

TEST_CASE("transport table: the unix row listens and dials; bytes both ways, EOF each way, the descriptor offered") {
  const std::string name = "sockcat-transport-test-" + std::to_string(::getpid());
  Exchange seen;
  run_exchange(unix_transport, unix_options(Role::listen, name), unix_options(Role::connect, name), seen);
  CHECK(seen.at_server == "from the client");
  CHECK(seen.at_client == "from the server");
  CHECK(seen.server_descriptor >= 0);
  CHECK(seen.client_descriptor >= 0);
  CHECK(seen.client_named == "unnamed socket");  // an autobound-less client has no name
}

TEST_CASE("transport table: the tcp row listens and dials; bytes both ways, EOF each way, the peer named") {
  const std::uint16_t port = free_tcp_port();
  Exchange seen;
  run_exchange(tcp_transport, tcp_options(Role::listen, port), tcp_options(Role::connect, port), seen);
  CHECK(seen.at_server == "from the client");
  CHECK(seen.at_client == "from the server");
  CHECK(seen.server_descriptor >= 0);
  CHECK(seen.client_descriptor >= 0);
  CHECK(seen.client_named.rfind("127.0.0.1:", 0) == 0);
}
