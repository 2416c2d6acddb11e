// TlsConnection over a local socket pair, a server (temporary certificate) and a client
// (--ssl-insecure) in one io_context: the handshake, close_notify as EOF both ways and a reply
// after our EOF, a TCP end without close_notify, OpenSSL's write-retry rule, plaintext left in
// OpenSSL's buffers, a handshake past its time limit, and a close_notify owed until the
// handshake is over.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "in_process.hpp"
#include "transport/socket_connection.hpp"
#include "transport/tls_connection.hpp"

using namespace sockcat;
using namespace sockcat::in_process;

namespace {

using LocalSocket = asio::local::stream_protocol::socket;

// Options for one side of a TLS pair: a server with a temporary certificate, or a client
// that verifies nothing (the verification has its end-to-end tests).
Options tls_options(Role role, std::chrono::milliseconds handshake_limit = default_tls_handshake_timeout) {
  Options options;
  options.role = role;
  options.tls.enabled = true;
  options.tls.insecure = role == Role::connect;
  options.tls.handshake_timeout = handshake_limit;
  return options;
}

// A client and a server TlsConnection joined by a socket pair, and a duplicate of each
// socket's descriptor (to end TCP behind OpenSSL's back).
struct TlsPair {
  asio::io_context ctx;
  Options server_options = tls_options(Role::listen);
  Options client_options = tls_options(Role::connect);
  TlsContext server_context{server_options};
  TlsContext client_context{client_options};
  std::unique_ptr<TlsConnection> server, client;
  int server_raw = -1, client_raw = -1;

  explicit TlsPair(std::chrono::milliseconds server_limit = default_tls_handshake_timeout) {
    ignore_sigpipe();
    LocalSocket a(ctx), b(ctx);
    asio::local::connect_pair(a, b);
    server_raw = ::dup(a.native_handle());
    client_raw = ::dup(b.native_handle());
    auto server_carrier = std::make_unique<SocketConnection>(StreamSocket(std::move(a)), StreamEndpoint(), "client");
    auto client_carrier = std::make_unique<SocketConnection>(StreamSocket(std::move(b)), StreamEndpoint(), "server");
    SSL* server_ssl = server_context.new_server_ssl(server_carrier->descriptor());
    SSL* client_ssl = client_context.new_client_ssl(client_carrier->descriptor());
    server = std::make_unique<TlsConnection>(std::move(server_carrier), server_ssl, server_limit);
    client = std::make_unique<TlsConnection>(std::move(client_carrier), client_ssl, default_tls_handshake_timeout);
  }
  ~TlsPair() {
    ::close(server_raw);
    ::close(client_raw);
  }
};

// Reads `connection` until it ends: what arrived and the error that ended it.
asio::awaitable<std::pair<std::string, std::error_code>> read_to_end(Connection& connection, std::size_t chunk = 4096) {
  std::string got;
  std::string buffer(chunk, '\0');
  for (;;) {
    auto [ec, n] = co_await read_when_readable(connection, std::span<char>(buffer.data(), buffer.size()));
    if (ec) co_return std::pair{got, ec};
    got.append(buffer.data(), n);
  }
}

}  // namespace

TEST_CASE("TLS: data both ways, close_notify as EOF, and a reply sent after the client's EOF arrives") {
  TlsPair pair;
  std::optional<std::pair<std::string, std::error_code>> server_got, client_got;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    server_got = co_await read_to_end(*pair.server);  // until the client's close_notify
    const std::string reply = "reply to " + server_got->first;
    co_await write_all(*pair.server, reply);
    co_await end_sending(*pair.server);
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    co_await write_all(*pair.client, std::string("hello"));
    REQUIRE_FALSE(co_await end_sending(*pair.client));
    client_got = co_await read_to_end(*pair.client);
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(hang_limit);
  REQUIRE(server_got);
  CHECK(server_got->first == "hello");
  CHECK(server_got->second == asio::error::eof);
  REQUIRE(client_got);
  CHECK(client_got->first == "reply to hello");
  CHECK(client_got->second == asio::error::eof);
}

TEST_CASE("TLS: a TCP end without close_notify is reported as a truncation, after the data") {
  TlsPair pair;
  std::optional<std::pair<std::string, std::error_code>> server_got;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    server_got = co_await read_to_end(*pair.server);
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    co_await write_all(*pair.client, std::string("cut short"));
    ::shutdown(pair.client_raw, SHUT_WR);  // FIN, no close_notify
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(hang_limit);
  REQUIRE(server_got);
  CHECK(server_got->first == "cut short");
  CHECK(server_got->second == TlsError::truncated);
  CHECK(server_got->second.message().find("without TLS close_notify") != std::string::npos);
}

TEST_CASE("TLS: a large transfer to a slow reader keeps OpenSSL's write-retry rule and loses nothing") {
  TlsPair pair;
  const std::string data = random_bytes(4 * 1024 * 1024 + 123, 7);
  std::optional<std::pair<std::string, std::error_code>> server_got;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    server_got = co_await read_to_end(*pair.server, 1000);  // small reads: the writer often finds the socket full
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    auto [ec, n] = co_await write_all(*pair.client, data);
    CHECK_FALSE(ec);
    CHECK(n == data.size());
    co_await end_sending(*pair.client);
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(hang_limit);
  REQUIRE(server_got);
  CHECK(server_got->second == asio::error::eof);
  CHECK(server_got->first.size() == data.size());
  CHECK(server_got->first == data);
}

TEST_CASE("TLS: a write retried with other bytes than OpenSSL holds is refused, not sent") {
  TlsPair pair;
  bool checked = false;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    // The server only reads until the handshake is over, then leaves the socket full.
    std::array<char, 1> one{};
    std::error_code ec;
    for (;;) {
      pair.server->read_now(one, ec);
      if (SSL_is_init_finished(pair.server->native()) || !would_block(ec)) break;
      co_await pair.server->wait(Readiness::readable);
    }
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    const std::string block(16 * 1024, 'x');
    std::error_code ec;
    for (int i = 0; i < 10000 && !would_block(ec); ++i) pair.client->write_now(block, ec);
    REQUIRE(would_block(ec));  // the outbox now holds records of `block` that the socket did not take
    pair.client->write_now(std::span<const char>(block.data(), 10), ec);
    CHECK(ec == asio::error::invalid_argument);
    checked = true;
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(hang_limit);
  CHECK(checked);
}

TEST_CASE("TLS: plaintext left in OpenSSL after a short read is readable without new bytes on the socket") {
  TlsPair pair;
  std::string got;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    std::array<char, 1> one{};
    for (int i = 0; i < 3; ++i) {
      auto [ec, n] = co_await read_when_readable(*pair.server, one);  // waits first, then reads
      if (ec) co_return;
      got.append(one.data(), n);
    }
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    co_await write_all(*pair.client, std::string("abc"));  // one record; nothing follows it
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(std::chrono::seconds(5));
  CHECK(got == "abc");
}

TEST_CASE("TLS: a handshake not finished within its limit fails the server's waits") {
  TlsPair pair(std::chrono::milliseconds(100));
  std::optional<std::error_code> waited;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    std::array<char, 16> buffer{};
    auto [ec, n] = co_await read_when_readable(*pair.server, buffer);  // the client never says hello
    waited = ec;
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(std::chrono::seconds(5));
  REQUIRE(waited);
  CHECK(*waited == TlsError::handshake_timeout);
}

TEST_CASE("TLS: a server's close_notify asked for before the handshake goes once it is over") {
  TlsPair pair;
  std::optional<std::pair<std::string, std::error_code>> client_got;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    std::error_code ec;
    pair.server->shutdown_send(ec);  // nothing to say yet: owed
    CHECK_FALSE(ec);
    co_await read_to_end(*pair.server);  // runs the handshake, then sends what was owed
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    client_got = co_await read_to_end(*pair.client);
    pair.client->close();
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(hang_limit);
  REQUIRE(client_got);
  CHECK(client_got->first.empty());
  CHECK(client_got->second == asio::error::eof);
}

TEST_CASE("TLS: the last data and the close_notify read in one go: the data, then the EOF, without a wait") {
  TlsPair pair;
  std::optional<std::pair<std::string, std::error_code>> server_got;
  bool client_sent = false;
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    std::array<char, 1> one{};
    std::error_code ec;
    std::string first;  // the byte the read that ends the handshake may bring
    for (;;) {  // the handshake only, then nothing until both records are on the socket
      first.append(one.data(), pair.server->read_now(one, ec));
      if (SSL_is_init_finished(pair.server->native()) || !would_block(ec)) break;
      co_await pair.server->wait(Readiness::readable);
    }
    while (!client_sent) co_await asio::post(pair.ctx, asio::use_awaitable);
    server_got = co_await read_to_end(*pair.server);  // waits before each read
    server_got->first.insert(0, first);
  }, [](std::exception_ptr e) { rethrow(e); });
  asio::co_spawn(pair.ctx, [&]() -> asio::awaitable<void> {
    REQUIRE_FALSE(co_await pair.client->start());
    co_await write_all(*pair.client, std::string("last words"));
    REQUIRE_FALSE(co_await end_sending(*pair.client));
    client_sent = true;
  }, [](std::exception_ptr e) { rethrow(e); });
  pair.ctx.run_for(std::chrono::seconds(5));
  REQUIRE(server_got);
  CHECK(server_got->first == "last words");
  CHECK(server_got->second == asio::error::eof);
}
