// access_list.hpp: address/CIDR entries, files of them, and the allow/deny rule.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>
#include <unistd.h>

#include "access_list.hpp"

using namespace sockcat;
using Catch::Matchers::Contains;

namespace {

// The 16-byte form of a numeric address ("1.2.3.4" mapped, or IPv6).
std::array<unsigned char, 16> bytes_of(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  unsigned char v4[4];
  if (::inet_pton(AF_INET, text.c_str(), v4) == 1) {
    bytes[10] = bytes[11] = 0xff;
    std::copy(v4, v4 + 4, bytes.begin() + 12);
  } else {
    REQUIRE(::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1);
  }
  return bytes;
}

// The range an entry must parse to.
AddressRange range_of(const std::string& entry) {
  Parsed<AddressRange> parsed = parse_address_range(entry);
  INFO("entry: " << entry << (std::holds_alternative<std::string>(parsed) ? " -> " + std::get<std::string>(parsed) : ""));
  REQUIRE(std::holds_alternative<AddressRange>(parsed));
  return std::get<AddressRange>(parsed);
}

// The reason an entry must be refused.
std::string problem_of(const std::string& entry) {
  Parsed<AddressRange> parsed = parse_address_range(entry);
  INFO("entry: " << entry);
  REQUIRE(std::holds_alternative<std::string>(parsed));
  return std::get<std::string>(parsed);
}

bool in_range(const std::string& entry, const std::string& address) {
  return range_of(entry).contains(bytes_of(address));
}

// An access list from comma-separated allow and deny lists ("" = none given).
AccessList list_of(const std::string& allow, const std::string& deny) {
  AccessList list;
  std::vector<AddressRange> ranges;
  if (!allow.empty()) {
    REQUIRE_FALSE(parse_range_list(allow, ranges));
    list.allow(ranges);
  }
  ranges.clear();
  if (!deny.empty()) {
    REQUIRE_FALSE(parse_range_list(deny, ranges));
    list.deny(ranges);
  }
  return list;
}

// A temporary file holding `text`, removed when the test ends.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/sockcat-access-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("access: single IPv4 and IPv6 addresses match only themselves") {
  CHECK(in_range("127.0.0.1", "127.0.0.1"));
  CHECK_FALSE(in_range("127.0.0.1", "127.0.0.2"));
  CHECK(in_range("::1", "::1"));
  CHECK_FALSE(in_range("::1", "::2"));
  CHECK_FALSE(in_range("::1", "127.0.0.1"));
  CHECK(range_of("10.1.2.3").prefix_length == 128);
  CHECK(range_of("10.1.2.3/32").prefix_length == 128);
  CHECK(range_of("2001:db8::1/128").prefix_length == 128);
}

TEST_CASE("access: IPv4 CIDR ranges, edge bits included") {
  CHECK(in_range("10.0.0.0/8", "10.255.255.255"));
  CHECK(in_range("10.0.0.0/8", "10.0.0.0"));
  CHECK_FALSE(in_range("10.0.0.0/8", "11.0.0.0"));
  CHECK_FALSE(in_range("10.0.0.0/8", "9.255.255.255"));
  // A prefix that ends inside a byte.
  CHECK(in_range("192.168.4.0/22", "192.168.7.255"));
  CHECK(in_range("192.168.4.0/22", "192.168.4.0"));
  CHECK_FALSE(in_range("192.168.4.0/22", "192.168.8.0"));
  CHECK_FALSE(in_range("192.168.4.0/22", "192.168.3.255"));
  CHECK(in_range("127.0.0.0/31", "127.0.0.1"));
  CHECK_FALSE(in_range("127.0.0.0/31", "127.0.0.2"));
  // Host bits past the prefix are ignored.
  CHECK(in_range("10.1.2.3/8", "10.200.0.1"));
  // /0 is every IPv4 address, and no IPv6 one.
  CHECK(in_range("0.0.0.0/0", "1.2.3.4"));
  CHECK(in_range("0.0.0.0/0", "255.255.255.255"));
  CHECK_FALSE(in_range("0.0.0.0/0", "::1"));
  CHECK_FALSE(in_range("0.0.0.0/0", "2001:db8::1"));
}

TEST_CASE("access: IPv6 CIDR ranges, edge bits included") {
  CHECK(in_range("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  CHECK_FALSE(in_range("2001:db8::/32", "2001:db9::"));
  CHECK(in_range("fe80::/10", "febf::1"));
  CHECK_FALSE(in_range("fe80::/10", "fec0::1"));
  CHECK(in_range("::/127", "::1"));
  CHECK_FALSE(in_range("::/127", "::2"));
  // ::/0 is everything, IPv4 peers (as mapped addresses) included.
  CHECK(in_range("::/0", "::1"));
  CHECK(in_range("::/0", "1.2.3.4"));
}

TEST_CASE("access: IPv4-mapped IPv6 peers match IPv4 rules, and mapped rules match IPv4 peers") {
  CHECK(in_range("127.0.0.0/8", "::ffff:127.0.0.2"));
  CHECK_FALSE(in_range("127.0.0.0/8", "::ffff:128.0.0.1"));
  CHECK(in_range("::ffff:10.0.0.0/104", "10.9.8.7"));
  CHECK(in_range("::ffff:127.0.0.1", "127.0.0.1"));
}

TEST_CASE("access: bad entries are refused with the reason") {
  CHECK_THAT(problem_of("localhost"), Contains("'localhost'") && Contains("host names are not accepted"));
  CHECK_THAT(problem_of("a..b"), Contains("not an IP address"));
  CHECK_THAT(problem_of("10.0.0.0/33"), Contains("prefix") && Contains("0 to 32"));
  CHECK_THAT(problem_of("::/129"), Contains("0 to 128"));
  CHECK_THAT(problem_of("10.0.0.0/"), Contains("prefix"));
  CHECK_THAT(problem_of("10.0.0.0/-1"), Contains("prefix"));
  CHECK_THAT(problem_of("10.0.0.0/8x"), Contains("prefix"));
  CHECK_THAT(problem_of("10.0.0.0/ 8"), Contains("prefix"));
  CHECK_THAT(problem_of("10.0.0/8"), Contains("not an IP address"));
  CHECK_THAT(problem_of("1.2.3.4.5"), Contains("not an IP address"));
  CHECK_THAT(problem_of("fe80::1%eth0"), Contains("not an IP address"));
  CHECK_THAT(problem_of(""), Contains("empty"));
  CHECK_THAT(problem_of("   "), Contains("empty"));
  // Blanks around an entry are trimmed.
  CHECK(range_of(" 10.0.0.1 ").contains(bytes_of("10.0.0.1")));
}

TEST_CASE("access: comma-separated lists, all or nothing") {
  std::vector<AddressRange> ranges;
  CHECK_FALSE(parse_range_list("127.0.0.1,::1,10.0.0.0/8", ranges));
  CHECK(ranges.size() == 3);
  auto problem = parse_range_list("192.168.0.0/16,nope", ranges);
  REQUIRE(problem);
  CHECK_THAT(*problem, Contains("'nope'"));
  CHECK(ranges.size() == 3);  // the good entry before the bad one was not added
  REQUIRE(parse_range_list("1.2.3.4,", ranges));
  REQUIRE(parse_range_list(",1.2.3.4", ranges));
  REQUIRE(parse_range_list("1.2.3.4,,5.6.7.8", ranges));
  CHECK(ranges.size() == 3);
}

TEST_CASE("access: the allow/deny rule") {
  SECTION("an empty list admits everyone") {
    AccessList list;
    CHECK(list.empty());
    CHECK(list.admits(bytes_of("1.2.3.4")));
    CHECK(list.admits(bytes_of("::1")));
  }
  SECTION("allow entries admit only what they match") {
    AccessList list = list_of("127.0.0.1,::1", "");
    CHECK_FALSE(list.empty());
    CHECK(list.admits(bytes_of("127.0.0.1")));
    CHECK(list.admits(bytes_of("::ffff:127.0.0.1")));
    CHECK(list.admits(bytes_of("::1")));
    CHECK_FALSE(list.admits(bytes_of("127.0.0.2")));
  }
  SECTION("deny entries refuse what they match, even when allowed") {
    AccessList list = list_of("127.0.0.0/8", "127.0.0.2");
    CHECK(list.admits(bytes_of("127.0.0.1")));
    CHECK_FALSE(list.admits(bytes_of("127.0.0.2")));
    CHECK_FALSE(list.admits(bytes_of("10.0.0.1")));
  }
  SECTION("deny alone admits everyone else") {
    AccessList list = list_of("", "127.0.0.2,::/96");
    CHECK(list.admits(bytes_of("127.0.0.1")));
    CHECK_FALSE(list.admits(bytes_of("127.0.0.2")));
    CHECK_FALSE(list.admits(bytes_of("::1")));
  }
  SECTION("::/0 denies everything, IPv4 peers included (they are matched as ::ffff:a.b.c.d)") {
    AccessList list = list_of("", "::/0");
    CHECK_FALSE(list.admits(bytes_of("127.0.0.1")));
    CHECK_FALSE(list.admits(bytes_of("2001:db8::1")));
  }
  SECTION("an allow call with no entries (an empty --allowfile) admits nobody") {
    AccessList list;
    list.allow({});
    CHECK_FALSE(list.empty());
    CHECK_FALSE(list.admits(bytes_of("127.0.0.1")));
  }
}

TEST_CASE("access: socket addresses of both families; other families are admitted") {
  AccessList list = list_of("127.0.0.1,::1", "");
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
  CHECK(list.admits(reinterpret_cast<const sockaddr*>(&v4)));
  ::inet_pton(AF_INET, "127.0.0.2", &v4.sin_addr);
  CHECK_FALSE(list.admits(reinterpret_cast<const sockaddr*>(&v4)));
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
  CHECK(list.admits(reinterpret_cast<const sockaddr*>(&v6)));
  ::inet_pton(AF_INET6, "::2", &v6.sin6_addr);
  CHECK_FALSE(list.admits(reinterpret_cast<const sockaddr*>(&v6)));
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  CHECK(list.admits(&unix_address));
}

TEST_CASE("access: files hold one entry per line, with comments and blank lines") {
  TempFile file("# trusted hosts\n\n127.0.0.1\n  10.0.0.0/8   # the lab\n::1\r\n");
  std::vector<AddressRange> ranges;
  load_range_file(file.path, ranges);
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[1].contains(bytes_of("10.2.3.4")));

  TempFile bad("127.0.0.1\n\n10.0.0.0/40\n");
  try {
    load_range_file(bad.path, ranges);
    FAIL("a bad entry was accepted");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains(bad.path) && Contains("line 3") && Contains("'10.0.0.0/40'"));
  }
  try {
    load_range_file("/nonexistent/allow-list", ranges);
    FAIL("a missing file was accepted");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains("/nonexistent/allow-list") && Contains("No such file"));
  }
  try {
    load_range_file("/tmp", ranges);
    FAIL("a directory was accepted");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains("'/tmp'"));
  }
}
