// endpoint.hpp: names to addresses, listen addresses, ports, and endpoints as text.
#include <catch2/catch.hpp>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "endpoint.hpp"

using namespace sockcat;
using Catch::Matchers::Contains;

namespace {

asio::ip::address addr(const char* text) { return asio::ip::make_address(text); }

std::vector<std::string> as_text(const std::vector<asio::ip::address>& addresses) {
  std::vector<std::string> text;
  for (const auto& a : addresses) text.push_back(a.to_string());
  return text;
}

}  // namespace

TEST_CASE("format_endpoint: IPv4, IPv6 in brackets, v4-mapped as IPv4") {
  CHECK(format_endpoint(addr("127.0.0.1"), 80) == "127.0.0.1:80");
  CHECK(format_endpoint(addr("0.0.0.0"), 0) == "0.0.0.0:0");
  CHECK(format_endpoint(addr("255.255.255.255"), 65535) == "255.255.255.255:65535");
  CHECK(format_endpoint(addr("::1"), 443) == "[::1]:443");
  CHECK(format_endpoint(addr("::"), 8080) == "[::]:8080");
  CHECK(format_endpoint(addr("2001:db8::1"), 1) == "[2001:db8::1]:1");
  CHECK(format_endpoint(addr("::ffff:10.0.0.1"), 8) == "10.0.0.1:8");
  CHECK(format_endpoint(addr("::ffff:127.0.0.1"), 65535) == "127.0.0.1:65535");
  // Only v4-mapped addresses are unwrapped: a NAT64 address stays IPv6.
  CHECK(format_endpoint(addr("64:ff9b::a00:1"), 5) == "[64:ff9b::a00:1]:5");
}

TEST_CASE("format_endpoint: any Asio endpoint type") {
  CHECK(format_endpoint(asio::ip::tcp::endpoint(addr("192.0.2.7"), 1234)) == "192.0.2.7:1234");
  CHECK(format_endpoint(asio::ip::udp::endpoint(addr("::1"), 53)) == "[::1]:53");
  CHECK(format_endpoint(asio::ip::tcp::endpoint(addr("::ffff:192.0.2.7"), 9)) == "192.0.2.7:9");
  asio::ip::address_v6 scoped = asio::ip::make_address_v6("fe80::1");
  scoped.scope_id(1);
  std::string text = format_endpoint(asio::ip::tcp::endpoint(scoped, 22));
  CHECK_THAT(text, Contains("[fe80::1%"));
  CHECK(text.substr(text.size() - 4) == "]:22");
}

TEST_CASE("resolve_host: numeric addresses and localhost") {
  CHECK(as_text(resolve_host("127.0.0.1", Family::any, false)) == std::vector<std::string>{"127.0.0.1"});
  CHECK(as_text(resolve_host("127.0.0.1", Family::v4, true)) == std::vector<std::string>{"127.0.0.1"});
  CHECK(as_text(resolve_host("::1", Family::any, false)) == std::vector<std::string>{"::1"});
  CHECK(as_text(resolve_host("::1", Family::v6, false)) == std::vector<std::string>{"::1"});

  std::vector<asio::ip::address> v4 = resolve_host("localhost", Family::v4, false);
  REQUIRE_FALSE(v4.empty());
  for (const auto& a : v4) {
    INFO(a.to_string());
    CHECK(a.is_v4());
    CHECK(a.is_loopback());
  }
  std::vector<asio::ip::address> any = resolve_host("localhost", Family::any, false);
  REQUIRE_FALSE(any.empty());
  for (std::size_t i = 0; i < any.size(); ++i) {
    CHECK(any[i].is_loopback());
    for (std::size_t j = i + 1; j < any.size(); ++j) CHECK(any[i] != any[j]);  // no duplicates
  }
}

TEST_CASE("resolve_host: failures throw std::system_error naming the host") {
  try {
    resolve_host("a..b", Family::any, false);
    FAIL("resolving a..b did not throw");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains("a..b"));
    CHECK(e.code());
  }
  CHECK_THROWS_AS(resolve_host("a..b", Family::v4, true), std::system_error);
  // A literal of the other family has no address of the requested one.
  CHECK_THROWS_AS(resolve_host("::1", Family::v4, false), std::system_error);
  CHECK_THROWS_AS(resolve_host("127.0.0.1", Family::v6, false), std::system_error);
  // Control bytes in the name do not reach the message raw.
  try {
    resolve_host("bad\nname.invalid", Family::any, false);
    FAIL("resolving a name with a newline did not throw");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

TEST_CASE("listen_addresses: wildcard defaults and -b") {
  Options options;
  CHECK(as_text(listen_addresses(options)) == std::vector<std::string>{"::", "0.0.0.0"});
  options.family = Family::v4;
  CHECK(as_text(listen_addresses(options)) == std::vector<std::string>{"0.0.0.0"});
  options.family = Family::v6;
  CHECK(as_text(listen_addresses(options)) == std::vector<std::string>{"::"});

  Options bound;
  bound.bind_address = "127.0.0.1";
  CHECK(as_text(listen_addresses(bound)) == std::vector<std::string>{"127.0.0.1"});
  bound.bind_address = "::1";
  CHECK(as_text(listen_addresses(bound)) == std::vector<std::string>{"::1"});
  bound.bind_address = "localhost";
  bound.family = Family::v4;
  std::vector<asio::ip::address> local = listen_addresses(bound);
  REQUIRE_FALSE(local.empty());
  for (const auto& a : local) CHECK(a.is_v4());
  bound.bind_address = "::1";
  CHECK_THROWS_AS(listen_addresses(bound), std::system_error);  // -4 with an IPv6 -b
  bound.family = Family::any;
  bound.bind_address = "a..b";
  CHECK_THROWS_AS(listen_addresses(bound), std::system_error);
}

TEST_CASE("family_unavailable recognises Asio's own error codes, not only std::errc") {
  // Asio reports failures in its "asio.system" category, which never equals a std::errc.
  CHECK(family_unavailable(std::error_code(EAFNOSUPPORT, asio::error::get_system_category())));
  CHECK(family_unavailable(std::error_code(EADDRNOTAVAIL, asio::error::get_system_category())));
  CHECK(family_unavailable(std::make_error_code(std::errc::address_family_not_supported)));
  CHECK_FALSE(family_unavailable(std::error_code(EADDRINUSE, asio::error::get_system_category())));
  CHECK_FALSE(family_unavailable(asio::error::access_denied));
}
