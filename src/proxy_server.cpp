#include "proxy_server.hpp"

#include <algorithm>
#include <array>
#include <asio/error.hpp>
#include <openssl/crypto.h>

#include "diag.hpp"
#include "endpoint.hpp"
#include "forward_server.hpp"
#include "parse.hpp"
#include "proxy/http_connect.hpp"
#include "session_end.hpp"

namespace sockcat {
namespace {

using Clock = std::chrono::steady_clock;

// After a refusal, how long (and how many bytes) the client's further bytes are read and
// dropped before the connection is closed: closing with unread bytes in the socket sends a
// reset, which can destroy the refusal before the client has read it.
constexpr std::chrono::milliseconds refusal_linger{1000};
constexpr std::size_t refusal_linger_bytes = 64 * 1024;

// One message read from a client: the bytes, exactly to the message's end, or why not.
struct Received {
  std::string bytes;     // the message (meaningful when `problem` is empty)
  std::string problem;   // why there is no message, in one line ("" = there is one)
  bool invalid = false;  // the bytes cannot start such a message (rather than a failed read)
};

// A client's handshake: reads its messages exactly to their ends, so that what it sends
// behind its request stays in the socket for the relay, all within
// proxy_server_handshake_timeout of its start; and sends the answers.
class ClientHandshake {
 public:
  explicit ClientHandshake(Connection& client)
      : client_(client), deadline_(Clock::now() + proxy_server_handshake_timeout) {}

  // Reads one message, as `frame` delimits it; `what` names it in the problem. (A plain
  // pointer: g++ 12 destroys a temporary of a co_await expression twice when the suspended
  // coroutine is destroyed, and a std::string argument would be one.)
  asio::awaitable<Received> receive(Frame (*frame)(std::string_view), const char* what) {
    Received got;
    for (;;) {
      Frame next = frame(got.bytes);
      if (next.status == Frame::Status::complete) co_return got;
      if (next.status == Frame::Status::invalid) co_return Received{{}, next.problem, true};
      const std::size_t had = got.bytes.size();
      got.bytes.resize(had + next.size);
      std::error_code ec;
      std::size_t n = client_.read_now(std::span<char>(got.bytes.data() + had, next.size), ec);
      got.bytes.resize(had + n);
      if (would_block(ec)) {
        std::error_code waited = co_await wait_readable(client_, time_left());
        if (!waited) continue;
        ec = waited;
      }
      if (ec) co_return Received{{}, describe(ec, what), false};
    }
  }

  // Sends `bytes` whole (each wait for room bounded by the handshake's limit): the error, if any.
  asio::awaitable<std::error_code> send(const std::string& bytes) {
    auto [ec, written] = co_await write_all(client_, bytes, proxy_server_handshake_timeout);
    co_return ec;
  }

 private:
  // At least a millisecond: zero would mean no limit to the wait.
  std::chrono::milliseconds time_left() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(1));
  }

  static std::string describe(const std::error_code& ec, const char* what) {
    if (ec == asio::error::eof) return std::string("closed the connection before its ") + what + " was complete";
    if (ec == std::errc::timed_out)
      return std::string("no complete ") + what + " within " + format_duration(proxy_server_handshake_timeout);
    return ec.message() + " while reading its " + what;
  }

  Connection& client_;
  Clock::time_point deadline_;
};

// How a handshake ends: a tunnel to open, or the client to close (after a refusal, if any).
struct Verdict {
  std::unique_ptr<Connection> target;  // the tunnel's other end; null: close the client
  std::string reply;                   // what the client is sent first ("" = nothing)
  std::string line;                    // for -v: the tunnel ("socks5 tunnel to ..."), or why it closed
};

// A client closed without a word: `why` for -v.
Verdict closed(std::string why) { return Verdict{nullptr, {}, std::move(why)}; }

// A client refused with `reply`; `why` for -v, which says what was sent too (`sent`).
Verdict refused(std::string reply, const std::string& why, const std::string& sent) {
  return Verdict{nullptr, std::move(reply), why + " (sent " + sent + ")"};
}

// A SOCKS5 reply without a bound address, and how -v names it.
Verdict socks5_refusal(Socks5Rep rep, const std::string& why) {
  Parsed<Wire> reply = encode_socks5_reply(rep);  // 0.0.0.0 port 0 always encodes
  const auto code = static_cast<std::uint8_t>(rep);
  return refused(std::get<Wire>(std::move(reply)).bytes, why,
                 "SOCKS5 reply " + std::to_string(code) + ", " + socks5_reply_text(code));
}

// An HTTP refusal, and how -v names it: by its status line.
Verdict http_refusal(HttpRefusal status, const std::string& why) {
  std::string reply = encode_http_refusal(status);
  std::string status_line = reply.substr(0, reply.find('\r'));
  return refused(std::move(reply), why, status_line);
}

// The -v text of a destination that could not be reached.
std::string unreached(const ProxyTarget& target, const Reached& reached) {
  return "tunnel to " + destination_name(target) + " refused: " + reached.reason;
}

// The -v text of an opened tunnel: "socks5 tunnel to HOST:PORT (ADDRESS:PORT)".
std::string tunnel_line(const char* protocol, const ProxyTarget& target, const Reached& reached) {
  return std::string(protocol) + " tunnel to " + destination_name(target) + " (" +
         format_endpoint(reached.address, target.port) + ")";
}

// A 256-byte block holding the length of `text` and its bytes, zero-padded; nothing when longer
// than 255 bytes.
std::optional<std::array<unsigned char, 256>> padded(const std::string& text) {
  if (text.size() > 255) return std::nullopt;
  std::array<unsigned char, 256> block{};
  block[0] = static_cast<unsigned char>(text.size());
  std::copy(text.begin(), text.end(), block.begin() + 1);
  return block;
}

// ---- SOCKS5 (RFC 1928, RFC 1929) ----

// The RFC 1929 login, when the service has credentials: nothing when the client is let in.
asio::awaitable<std::optional<Verdict>> socks5_login(ClientHandshake& handshake, const ProxyCredentials& expected) {
  Received login = co_await handshake.receive(frame_socks5_password, "SOCKS5 username/password");
  if (!login.problem.empty()) co_return closed(login.problem);
  Parsed<ProxyCredentials> given = decode_socks5_password(login.bytes);
  const ProxyCredentials* credentials = std::get_if<ProxyCredentials>(&given);
  const bool accepted = credentials && credentials_match(expected, *credentials);
  if (accepted) {
    const std::string welcome = encode_socks5_password_reply(true);
    if (std::error_code ec = co_await handshake.send(welcome)) co_return closed(ec.message() + " sending the login's answer");
    co_return std::nullopt;
  }
  std::string why = credentials ? "wrong username or password (user " + quote(credentials->user) + ")"
                                : std::get<std::string>(given);
  co_return refused(encode_socks5_password_reply(false), why, "SOCKS5 login status 1");
}

// The greeting, the method choice and, with credentials, the login: nothing when the client
// may go on to its request.
asio::awaitable<std::optional<Verdict>> socks5_greeting(ClientHandshake& handshake, const ProxyService& service) {
  Received greeting = co_await handshake.receive(frame_socks5_greeting, "SOCKS5 greeting");
  if (!greeting.problem.empty()) co_return closed(greeting.problem);
  Parsed<Socks5Greeting> offered = decode_socks5_greeting(greeting.bytes);
  if (auto* problem = std::get_if<std::string>(&offered)) co_return closed(*problem);
  // No login by default; with --proxy-auth only username/password, never "no authentication".
  const std::uint8_t method = service.credentials ? socks5_password_auth : socks5_no_auth;
  if (!std::get<Socks5Greeting>(offered).offers(method))
    co_return refused(encode_socks5_choice(socks5_no_acceptable),
                      std::string("the client does not offer SOCKS5 ") +
                          (service.credentials ? "username/password" : "\"no authentication\"") + " (method " +
                          std::to_string(method) + ")",
                      "SOCKS5 method 255, no acceptable method");
  const std::string choice = encode_socks5_choice(method);
  if (std::error_code ec = co_await handshake.send(choice)) co_return closed(ec.message() + " sending the method");
  if (!service.credentials) co_return std::nullopt;
  co_return co_await socks5_login(handshake, *service.credentials);
}

// A SOCKS5 client from its greeting to its tunnel (CONNECT only: BIND and UDP ASSOCIATE get
// reply 7, an unknown address type 8).
asio::awaitable<Verdict> socks5_handshake(ClientHandshake& handshake, const ProxyService& service) {
  std::optional<Verdict> early = co_await socks5_greeting(handshake, service);
  if (early) co_return std::move(*early);
  Received request = co_await handshake.receive(frame_socks5_request, "SOCKS5 request");
  if (!request.problem.empty()) co_return closed(request.problem);
  Socks5Request decoded = decode_socks5_request(request.bytes);
  if (decoded.refusal) co_return socks5_refusal(*decoded.refusal, decoded.problem);
  Reached reached = co_await reach_destination(decoded.target, service.destinations, service.lookup,
                                               proxy_server_connect_timeout);
  if (!reached.connection) co_return socks5_refusal(socks5_rep_of(reached.failure), unreached(decoded.target, reached));
  Parsed<Wire> success = encode_socks5_reply(Socks5Rep::succeeded, bound_address(*reached.connection));
  std::string line = tunnel_line("socks5", decoded.target, reached);
  if (auto* problem = std::get_if<std::string>(&success)) co_return socks5_refusal(Socks5Rep::general_failure, *problem);
  co_return Verdict{std::move(reached.connection), std::get<Wire>(std::move(success)).bytes, std::move(line)};
}

// ---- HTTP CONNECT ----

// Why `request` does not carry `expected` in its one Proxy-Authorization field (Basic), or
// nothing when it does.
std::optional<std::string> authorization_problem(const HttpRequestHead& request, const ProxyCredentials& expected) {
  std::optional<std::string_view> field = find_field(request, "Proxy-Authorization");
  if (!field) return std::string("no Proxy-Authorization (or more than one)");
  Parsed<ProxyCredentials> given = decode_basic_credentials(*field);
  if (auto* problem = std::get_if<std::string>(&given)) return *problem;
  const ProxyCredentials& credentials = std::get<ProxyCredentials>(given);
  if (!credentials_match(expected, credentials))
    return "wrong username or password (user " + quote(credentials.user) + ")";
  return std::nullopt;
}

// An HTTP client from its request head to its tunnel. Only CONNECT is served: plain GET (and
// any other method) gets 405 with "Allow: CONNECT". A decision, not an omission: a forwarding
// HTTP proxy must rewrite each request (absolute URI to origin form, hop-by-hop fields), keep
// connections alive across requests and frame bodies (Content-Length, chunked), a parser
// surface this tool does not need; CONNECT tunnels serve every HTTP client that has a proxy
// setting, https and plain http alike (curl -p, git, pip).
asio::awaitable<Verdict> http_handshake(ClientHandshake& handshake, const ProxyService& service) {
  Received head = co_await handshake.receive(frame_http_head, "HTTP request head");
  if (head.invalid) co_return http_refusal(HttpRefusal::fields_too_large, head.problem);
  if (!head.problem.empty()) co_return closed(head.problem);
  Parsed<HttpRequestHead> parsed = decode_http_request(head.bytes);
  if (auto* problem = std::get_if<std::string>(&parsed)) co_return http_refusal(HttpRefusal::bad_request, *problem);
  const HttpRequestHead& request = std::get<HttpRequestHead>(parsed);
  if (request.method != "CONNECT")
    co_return http_refusal(HttpRefusal::method_not_allowed,
                           "HTTP method " + quote(request.method) + " is not served (CONNECT only)");
  if (service.credentials) {
    if (auto problem = authorization_problem(request, *service.credentials))
      co_return http_refusal(HttpRefusal::proxy_auth_required, *problem);
  }
  Parsed<ProxyTarget> target = parse_connect_authority(request.target);
  if (auto* problem = std::get_if<std::string>(&target)) co_return http_refusal(HttpRefusal::bad_request, *problem);
  const ProxyTarget& destination = std::get<ProxyTarget>(target);
  Reached reached = co_await reach_destination(destination, service.destinations, service.lookup,
                                               proxy_server_connect_timeout);
  if (!reached.connection) co_return http_refusal(http_refusal_of(reached.failure), unreached(destination, reached));
  std::string line = tunnel_line("http", destination, reached);
  co_return Verdict{std::move(reached.connection), encode_http_established(), std::move(line)};
}

// ---- every client ----

// Sends a refusal, ends our side, and reads and drops what the client still sends (within
// refusal_linger and refusal_linger_bytes) until its end, so that the refusal is read before
// the caller closes.
asio::awaitable<void> send_refusal(Connection& client, ClientHandshake& handshake, const std::string& reply) {
  if (std::error_code ec = co_await handshake.send(reply)) co_return;
  if (std::error_code ec = co_await end_sending(client, refusal_linger)) co_return;
  const Clock::time_point deadline = Clock::now() + refusal_linger;
  std::size_t dropped = 0;
  while (dropped < refusal_linger_bytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto [ec, n] = co_await read_when_readable(client, server_scratch(), left);
    if (ec) break;  // its end (eof), the time is up, or a failure: close either way
    dropped += n;
  }
}

// Serves one client: its handshake, then its tunnel (relayed both ways) or its refusal; one
// -v line for a tunnel that opens or a client that is closed, and relay_pair's end line.
asio::awaitable<void> proxy_client(std::unique_ptr<Connection> client, const ProxyService& service,
                                   std::chrono::milliseconds idle) {
  const std::string peer = client->peer();
  ClientHandshake handshake(*client);
  Verdict verdict;
  if (service.type == ProxyType::http) verdict = co_await http_handshake(handshake, service);
  else verdict = co_await socks5_handshake(handshake, service);
  if (verdict.target) {
    if (std::error_code ec = co_await handshake.send(verdict.reply)) {
      verdict.target->close();
      verdict = closed(ec.message() + " sending the tunnel's answer");
    }
  }
  if (!verdict.target) {
    if (!verdict.reply.empty()) co_await send_refusal(*client, handshake, verdict.reply);
    client->close();
    report_client_end({.peer = peer, .problem = verdict.line});
    co_return;
  }
  diag::info(1, "connection from " + peer + ": " + verdict.line);
  co_await relay_pair(std::move(client), std::move(verdict.target), idle);
}

}  // namespace

ProxyService make_proxy_service(const Options& options) {
  const ProxyServerOptions& server = *options.proxy_server;
  std::optional<ProxyCredentials> credentials;
  if (server.authenticate) credentials = ProxyCredentials{server.user, server.password};
  return ProxyService{server.type, std::move(credentials), DestinationRules(make_destination_list(options), server.ports),
                      LookupRules{options.family, options.numeric_only}};
}

bool is_open_proxy(const Options& options) {
  const ProxyServerOptions& server = *options.proxy_server;
  return server.allow.empty() && server.deny.empty() && server.ports.empty() && options.allow.empty() &&
         options.deny.empty() && options.allow_files.empty() && options.deny_files.empty();
}

std::string open_proxy_warning() {
  return "warning: this is an open proxy: anyone who can reach its port can reach everything this machine can "
         "(restrict destinations with --proxy-allow, --proxy-deny, --proxy-ports, and clients with --allow, --deny)";
}

bool credentials_match(const ProxyCredentials& expected, const ProxyCredentials& given) {
  auto expected_user = padded(expected.user);
  auto expected_password = padded(expected.password);
  auto given_user = padded(given.user);
  auto given_password = padded(given.password);
  if (!expected_user || !expected_password || !given_user || !given_password) return false;
  // Both comparisons run whatever the first found: no early exit tells which part was wrong.
  const int user_differs = CRYPTO_memcmp(expected_user->data(), given_user->data(), expected_user->size());
  const int password_differs =
      CRYPTO_memcmp(expected_password->data(), given_password->data(), expected_password->size());
  return (user_differs | password_differs) == 0;
}

asio::awaitable<void> serve_proxy(Listener& listener, const ProxyService& service, ServerLimits limits) {
  const std::chrono::milliseconds idle = limits.idle_timeout;
  Session session = [&service, idle](std::unique_ptr<Connection> client) {
    return proxy_client(std::move(client), service, idle);
  };
  co_await accept_clients(listener, limits, session);
}

}  // namespace sockcat
