// The proxy server's parts that need no client: the command line (listen --proxy-type without
// --proxy), the refusal codes of each destination failure, the destination rules (ports,
// lists, the unspecified address), the credential comparison, and reaching a destination in
// process (refusals before any connect, a -n name, a refused port, a listening one).
#include <catch2/catch.hpp>

#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdlib>

#include "cli_checks.hpp"
#include "in_process.hpp"
#include "proxy_destination.hpp"
#include "proxy_server.hpp"

using namespace sockcat;
using namespace sockcat::test;
using Catch::Matchers::Contains;

namespace {

// Destination rules from --proxy-allow/--proxy-deny/--proxy-ports values.
DestinationRules rules_of(std::vector<std::string> allow, std::vector<std::string> deny,
                          std::vector<std::uint16_t> ports = {}) {
  Options options;
  options.proxy_server = ProxyServerOptions{};
  options.proxy_server->allow = std::move(allow);
  options.proxy_server->deny = std::move(deny);
  return DestinationRules(make_destination_list(options), std::move(ports));
}

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

// Runs reach_destination on `ctx` to its end. The connection it may return belongs to `ctx`,
// which must outlive it.
Reached reach(asio::io_context& ctx, const ProxyTarget& target, const DestinationRules& rules, LookupRules lookup = {}) {
  ctx.restart();
  std::optional<Reached> reached;
  in_process::spawn_into(ctx, reach_destination(target, rules, lookup, std::chrono::seconds(5)), &reached);
  REQUIRE(in_process::run_until(ctx, [&] { return reached.has_value(); }));
  return std::move(*reached);
}

}  // namespace

TEST_CASE("listen --proxy-type socks5|http is a proxy server", "[proxy_server]") {
  Options socks = accepted({"listen", "-p", "1080", "--proxy-type", "socks5"});
  REQUIRE(socks.proxy_server);
  CHECK(socks.proxy_server->type == ProxyType::socks5);
  CHECK_FALSE(socks.proxy_server->authenticate);
  CHECK_FALSE(socks.proxy);
  CHECK(is_open_proxy(socks));

  Options http = accepted({"listen", "-p", "3128", "-X", "connect", "--proxy-auth", "me:secret:with:colons",
                           "--proxy-allow", "10.0.0.0/8,192.168.1.1", "--proxy-allow", "::1", "--proxy-deny",
                           "10.9.0.0/16", "--proxy-ports", "443,80,8000-8002"});
  REQUIRE(http.proxy_server);
  const ProxyServerOptions& server = *http.proxy_server;
  CHECK(server.type == ProxyType::http);
  CHECK(server.authenticate);
  CHECK(server.user == "me");
  CHECK(server.password == "secret:with:colons");
  CHECK(server.allow == std::vector<std::string>{"10.0.0.0/8,192.168.1.1", "::1"});
  CHECK(server.deny == std::vector<std::string>{"10.9.0.0/16"});
  CHECK(server.ports == std::vector<std::uint16_t>{80, 443, 8000, 8001, 8002});
  CHECK_FALSE(is_open_proxy(http));

  CHECK(accepted({"listen", "-p", "1", "-X", "5"}).proxy_server->type == ProxyType::socks5);
  CHECK_FALSE(is_open_proxy(accepted({"listen", "-p", "1", "-X", "5", "--allow", "127.0.0.1"})));
  CHECK_FALSE(accepted({"listen", "-p", "1"}).proxy_server);
  Options forward = accepted({"listen", "-p", "1", "--forward", "h:2", "--proxy", "p", "--proxy-type", "socks5"});
  CHECK_FALSE(forward.proxy_server);
  CHECK(forward.proxy);
}

TEST_CASE("the proxy server's usage errors", "[proxy_server]") {
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "socks4"}), Contains("socks5 or http"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "socks4a"}), Contains("socks5 or http"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "gopher"}), Contains("'gopher'"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "http", "-u"}), Contains("-u"));
  for (const char* stdio : {"--broker", "--stats", "--crlf", "--recv-only", "--no-shutdown"})
    CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "http", stdio}), Contains(stdio));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "http", "-e", "/bin/cat"}), Contains("--exec"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-type", "http", "--transform", "upper"}), Contains("upper"));
  for (const char* destination : {"--proxy-allow", "--proxy-deny", "--proxy-ports"}) {
    std::string value = destination == std::string("--proxy-ports") ? "80" : "10.0.0.1";
    CHECK_THAT(rejected({"listen", "-p", "1", destination, value}), Contains(destination));
    CHECK_THAT(rejected({"listen", "-p", "1", "--forward", "h:2", "--proxy-type", "socks5", destination, value}),
               Contains(destination));
    CHECK_THAT(rejected({"listen", "-p", "1", "--forward", "h:2", "--proxy", "p", destination, value}),
               Contains(destination));
  }
  CHECK_THAT(rejected({"listen", "-p", "1", "--forward", "h:2", "--proxy-type", "socks5"}), Contains("--proxy"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-auth", "a:b"}), Contains("--proxy-type"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--proxy-dns", "local"}), Contains("--proxy-dns"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-dns", "local"}), Contains("--proxy-dns"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-ports", "80-70"}), Contains("--proxy-ports"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-ports", "80", "--proxy-ports", "81"}),
             Contains("more than once"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-allow", "10.0.0.0/40"}), Contains("--proxy-allow"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-deny", "a,,b"}), Contains("--proxy-deny"));
  CHECK_THAT(rejected({"listen", "-n", "-p", "1", "-X", "5", "--proxy-allow", "example.com"}), Contains("-n"));
  // The password never appears in a message.
  for (const char* auth : {"nocolon", ":pass-word", "user:", "us\ter:pass-word"}) {
    std::string error = rejected({"listen", "-p", "1", "-X", "5", "--proxy-auth", auth});
    CHECK_THAT(error, Contains("--proxy-auth"));
    CHECK(error.find("pass-word") == std::string::npos);
  }
  CHECK_THAT(rejected({"listen", "-p", "1", "-X", "5", "--proxy-auth", "u:" + std::string(256, 'p')}),
             Contains("PASS"));
}

TEST_CASE("SOCKCAT_PROXY_AUTH gives a proxy server its credentials", "[proxy_server]") {
  ::setenv("SOCKCAT_PROXY_AUTH", "env-user:env-pass", 1);
  Options server = accepted({"listen", "-p", "1", "-X", "http"});
  Options plain = accepted({"listen", "-p", "1"});
  Options given = accepted({"listen", "-p", "1", "-X", "http", "--proxy-auth", "cli:pw"});
  ::unsetenv("SOCKCAT_PROXY_AUTH");
  REQUIRE(server.proxy_server);
  CHECK(server.proxy_server->authenticate);
  CHECK(server.proxy_server->user == "env-user");
  CHECK(server.proxy_server->password == "env-pass");
  CHECK_FALSE(plain.proxy_server);
  CHECK(given.proxy_server->user == "cli");
}

TEST_CASE("each destination failure has its SOCKS5 reply and HTTP status", "[proxy_server]") {
  struct Row {
    DestinationFailure failure;
    Socks5Rep rep;
    HttpRefusal status;
  };
  const Row rows[] = {
      {DestinationFailure::not_allowed, Socks5Rep::not_allowed, HttpRefusal::forbidden},
      {DestinationFailure::not_resolved, Socks5Rep::host_unreachable, HttpRefusal::bad_gateway},
      {DestinationFailure::connection_refused, Socks5Rep::connection_refused, HttpRefusal::bad_gateway},
      {DestinationFailure::network_unreachable, Socks5Rep::network_unreachable, HttpRefusal::bad_gateway},
      {DestinationFailure::host_unreachable, Socks5Rep::host_unreachable, HttpRefusal::bad_gateway},
      {DestinationFailure::timed_out, Socks5Rep::host_unreachable, HttpRefusal::gateway_timeout},
      {DestinationFailure::failed, Socks5Rep::general_failure, HttpRefusal::bad_gateway},
  };
  for (const Row& row : rows) {
    CHECK(socks5_rep_of(row.failure) == row.rep);
    CHECK(http_refusal_of(row.failure) == row.status);
  }
}

TEST_CASE("connect errors map to destination failures", "[proxy_server]") {
  CHECK(failure_of(asio::error::connection_refused) == DestinationFailure::connection_refused);
  CHECK(failure_of(asio::error::network_unreachable) == DestinationFailure::network_unreachable);
  CHECK(failure_of(asio::error::host_unreachable) == DestinationFailure::host_unreachable);
  CHECK(failure_of(std::error_code(EHOSTDOWN, std::system_category())) == DestinationFailure::host_unreachable);
  CHECK(failure_of(asio::error::timed_out) == DestinationFailure::timed_out);
  CHECK(failure_of(std::make_error_code(std::errc::timed_out)) == DestinationFailure::timed_out);
  CHECK(failure_of(asio::error::access_denied) == DestinationFailure::failed);
  CHECK(failure_of(asio::error::host_not_found) == DestinationFailure::failed);
}

TEST_CASE("destination rules: ports, lists, and never the unspecified address", "[proxy_server]") {
  DestinationRules open = rules_of({}, {});
  CHECK(open.allows_port(1));
  CHECK(open.allows_port(65535));
  CHECK(open.allows(ip("192.0.2.1")));
  CHECK(open.allows(ip("::1")));
  for (const char* unspecified : {"0.0.0.0", "::", "::ffff:0.0.0.0"}) CHECK_FALSE(open.allows(ip(unspecified)));

  DestinationRules ports = rules_of({}, {}, {22, 443, 8000});
  CHECK(ports.allows_port(443));
  CHECK_FALSE(ports.allows_port(80));
  CHECK_FALSE(ports.allows_port(8001));

  DestinationRules allow = rules_of({"127.0.0.0/8,::1"}, {"127.0.0.9"});
  CHECK(allow.allows(ip("127.1.2.3")));
  CHECK(allow.allows(ip("::ffff:127.1.2.3")));  // an IPv4-mapped address is its IPv4 address
  CHECK(allow.allows(ip("::1")));
  CHECK_FALSE(allow.allows(ip("127.0.0.9")));
  CHECK_FALSE(allow.allows(ip("::ffff:127.0.0.9")));
  CHECK_FALSE(allow.allows(ip("10.0.0.1")));
  CHECK_FALSE(allow.allows(ip("::2")));

  DestinationRules deny = rules_of({}, {"10.0.0.0/8"});
  CHECK(deny.allows(ip("11.0.0.1")));
  CHECK_FALSE(deny.allows(ip("10.255.0.1")));
  CHECK_FALSE(deny.allows(ip("::ffff:10.0.0.1")));
}

TEST_CASE("credentials match only exactly", "[proxy_server]") {
  const ProxyCredentials expected{"alice", "s3cret"};
  CHECK(credentials_match(expected, {"alice", "s3cret"}));
  CHECK_FALSE(credentials_match(expected, {"alice", "s3cre"}));
  CHECK_FALSE(credentials_match(expected, {"alice", "s3cret!"}));
  CHECK_FALSE(credentials_match(expected, {"alicE", "s3cret"}));
  CHECK_FALSE(credentials_match(expected, {"", ""}));
  CHECK_FALSE(credentials_match(expected, {"s3cret", "alice"}));
  CHECK_FALSE(credentials_match(expected, {"alice", std::string("s3cret\0", 7)}));
  CHECK_FALSE(credentials_match(expected, {"alice", std::string(300, 'x')}));
  const ProxyCredentials longest{std::string(255, 'u'), std::string(255, 'p')};
  CHECK(credentials_match(longest, longest));
}

TEST_CASE("destination names and the open-proxy warning", "[proxy_server]") {
  CHECK(destination_name({"example.com", 443}) == "example.com:443");
  CHECK(destination_name({"::1", 22}) == "[::1]:22");
  CHECK(destination_name({"a\nb", 1}) == "a\\x0ab:1");
  const std::string warning = open_proxy_warning();
  CHECK(warning.find('\n') == std::string::npos);
  CHECK_THAT(warning, Contains("anyone") && Contains("--proxy-allow") && Contains("--allow"));
}

TEST_CASE("reaching a destination in process", "[proxy_server]") {
  in_process::ignore_sigpipe();
  asio::io_context ctx;
  asio::ip::tcp::acceptor listening(ctx, asio::ip::tcp::endpoint(ip("127.0.0.1"), 0));
  const std::uint16_t open_port = listening.local_endpoint().port();
  std::uint16_t closed_port = 0;
  {
    asio::ip::tcp::acceptor probe(ctx, asio::ip::tcp::endpoint(ip("127.0.0.1"), 0));
    closed_port = probe.local_endpoint().port();
  }
  DestinationRules open = rules_of({}, {});

  Reached reached = reach(ctx, {"127.0.0.1", open_port}, open);
  REQUIRE(reached.connection);
  CHECK(reached.address == ip("127.0.0.1"));
  const ProxyTarget bound = bound_address(*reached.connection);
  CHECK(bound.host == "127.0.0.1");
  CHECK(bound.port != 0);

  Reached refused = reach(ctx, {"127.0.0.1", closed_port}, open);
  CHECK_FALSE(refused.connection);
  CHECK(refused.failure == DestinationFailure::connection_refused);
  CHECK_THAT(refused.reason, Contains(std::to_string(closed_port)));

  Reached port = reach(ctx, {"127.0.0.1", open_port}, rules_of({}, {}, {1}));
  CHECK(port.failure == DestinationFailure::not_allowed);
  CHECK_THAT(port.reason, Contains("--proxy-ports"));

  Reached denied = reach(ctx, {"127.0.0.1", open_port}, rules_of({}, {"127.0.0.0/8"}));
  CHECK(denied.failure == DestinationFailure::not_allowed);
  Reached by_name = reach(ctx, {"localhost", open_port}, rules_of({}, {"127.0.0.0/8,::1"}));  // a name smuggles nothing
  CHECK(by_name.failure == DestinationFailure::not_allowed);
  Reached unspecified = reach(ctx, {"0.0.0.0", open_port}, open);
  CHECK(unspecified.failure == DestinationFailure::not_allowed);

  Reached numeric = reach(ctx, {"localhost", open_port}, open, LookupRules{Family::any, true});
  CHECK(numeric.failure == DestinationFailure::not_resolved);
  CHECK_THAT(numeric.reason, Contains("-n"));
  Reached family = reach(ctx, {"127.0.0.1", open_port}, open, LookupRules{Family::v6, false});
  CHECK(family.failure == DestinationFailure::not_resolved);
}
