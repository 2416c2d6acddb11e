// The environment a -e/-c child gets: the SOCKCAT_* names and ncat's NCAT_* names, from one
// table, in place of inherited ones.
#include <catch2/catch.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cstdlib>
#include <string>
#include <vector>

#include "exec_session.hpp"

namespace sockcat {
namespace {

// The value of variable `name` in `environment`, and how many times it is there.
std::pair<std::string, int> lookup(const std::vector<std::string>& environment, const std::string& name) {
  std::string value;
  int count = 0;
  for (const std::string& entry : environment) {
    if (entry.rfind(name + "=", 0) == 0) {
      value = entry.substr(name.size() + 1);
      ++count;
    }
  }
  return {value, count};
}

// A generic endpoint for 127.0.0.1:`port`.
DatagramSocket::endpoint_type loopback(unsigned short port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return DatagramSocket::endpoint_type(&address, sizeof address);
}

// A generic stream endpoint for [::1]:`port`.
StreamEndpoint ipv6_loopback(unsigned short port) {
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_loopback;
  return StreamEndpoint(&address, sizeof address);
}

}  // namespace

TEST_CASE("exec: the child is told its ends under SOCKCAT_* and NCAT_* names, once each") {
  ::setenv("NCAT_LOCAL_PORT", "inherited", 1);
  ::setenv("SOCKCAT_PROTO", "inherited", 1);
  std::vector<std::string> environment = child_environment(datagram_ends(loopback(4000), loopback(53)));
  ::unsetenv("NCAT_LOCAL_PORT");
  ::unsetenv("SOCKCAT_PROTO");
  CHECK(lookup(environment, "SOCKCAT_PROTO") == std::pair<std::string, int>{"udp", 1});
  CHECK(lookup(environment, "NCAT_PROTO") == std::pair<std::string, int>{"UDP", 1});
  for (std::string prefix : {"SOCKCAT_", "NCAT_"}) {
    CHECK(lookup(environment, prefix + "REMOTE_ADDR") == std::pair<std::string, int>{"127.0.0.1", 1});
    CHECK(lookup(environment, prefix + "REMOTE_PORT") == std::pair<std::string, int>{"4000", 1});
    CHECK(lookup(environment, prefix + "LOCAL_ADDR") == std::pair<std::string, int>{"127.0.0.1", 1});
    CHECK(lookup(environment, prefix + "LOCAL_PORT") == std::pair<std::string, int>{"53", 1});
  }
}

TEST_CASE("exec: the child never gets the proxy password of SOCKCAT_PROXY_AUTH") {
  ::setenv("SOCKCAT_PROXY_AUTH", "user:secret", 1);
  ::setenv("SOCKCAT_PROXY_AUTHOR", "kept", 1);  // only the exact name is withheld
  std::vector<std::string> environment = child_environment(connection_ends(ipv6_loopback(5000), ipv6_loopback(80)));
  ::unsetenv("SOCKCAT_PROXY_AUTH");
  ::unsetenv("SOCKCAT_PROXY_AUTHOR");
  CHECK(lookup(environment, "SOCKCAT_PROXY_AUTH").second == 0);
  CHECK(lookup(environment, "SOCKCAT_PROXY_AUTHOR") == std::pair<std::string, int>{"kept", 1});
  for (const std::string& entry : environment) CHECK(entry.find("secret") == std::string::npos);
}

TEST_CASE("exec: NCAT_PROTO is TCP for a stream, as ncat says it") {
  std::vector<std::string> environment = child_environment(connection_ends(ipv6_loopback(5000), ipv6_loopback(80)));
  CHECK(lookup(environment, "SOCKCAT_PROTO").first == "tcp");
  CHECK(lookup(environment, "NCAT_PROTO").first == "TCP");
  CHECK(lookup(environment, "NCAT_REMOTE_ADDR").first == "::1");
}

}  // namespace sockcat
