// access_list.hpp: address/CIDR entries, nmap-style ranges, host names, files in ncat's format,
// and the allow/deny rule.
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
using Catch::Matchers::Equals;

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

// The set a comma-separated list of entries stands for; host names resolve through `resolve`.
AddressSet set_of(const std::string& list, const NameResolver& resolve = nullptr) {
  std::vector<AccessEntry> entries;
  REQUIRE_FALSE(parse_entry_list(list, "--allow", entries));
  return resolve_entries(entries, resolve);
}

// An access list from comma-separated allow and deny lists ("" = none given).
AccessList list_of(const std::string& allow, const std::string& deny) {
  AccessList list;
  if (!allow.empty()) list.allow(set_of(allow));
  if (!deny.empty()) list.deny(set_of(deny));
  return list;
}

// The entry `text` must parse to, of kind T.
template <typename T>
T entry_of(const std::string& text) {
  Parsed<AccessEntry> parsed = parse_access_entry(text);
  INFO("entry: " << text << (std::holds_alternative<std::string>(parsed) ? " -> " + std::get<std::string>(parsed) : ""));
  REQUIRE(std::holds_alternative<AccessEntry>(parsed));
  REQUIRE(std::holds_alternative<T>(std::get<AccessEntry>(parsed)));
  return std::get<T>(std::get<AccessEntry>(parsed));
}

// The reason parse_access_entry() refuses `text`.
std::string entry_problem(const std::string& text) {
  Parsed<AccessEntry> parsed = parse_access_entry(text);
  INFO("entry: " << text);
  REQUIRE(std::holds_alternative<std::string>(parsed));
  return std::get<std::string>(parsed);
}

// A resolver that knows a few names and counts its calls.
struct FakeResolver {
  int calls = 0;
  NameResolver function() {
    return [this](const HostName& name) {
      ++calls;
      if (name.name == "localhost") return std::vector{bytes_of("127.0.0.1"), bytes_of("::1")};
      if (name.name == "lab.example") return std::vector{bytes_of("10.1.2.3")};
      throw std::system_error(std::make_error_code(std::errc::invalid_argument), "cannot resolve " + name.name);
    };
  }
};

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
  CHECK_THAT(problem_of("localhost"), Contains("'localhost'") && Contains("not an IP address"));
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

TEST_CASE("access: an entry is an address or CIDR range, an nmap-style range, or a host name") {
  CHECK(entry_of<AddressRange>("10.0.0.0/8").prefix_length == 104);
  CHECK(entry_of<AddressRange>(" ::1 ").prefix_length == 128);
  CHECK(entry_of<OctetPattern>("192.168.0-255.1-254").contains(bytes_of("192.168.7.254")));
  HostName name = entry_of<HostName>("localhost");
  CHECK(name.name == "localhost");
  CHECK_FALSE(name.prefix_length);
  CHECK(*entry_of<HostName>("lab.example.org/24").prefix_length == 24);
  CHECK(entry_of<HostName>("host_1.example.").name == "host_1.example.");
  CHECK(entry_of<HostName>("xn--bcher-kva.example").name == "xn--bcher-kva.example");
}

TEST_CASE("access: nmap-style IPv4 ranges: numbers, N-M, open ends and * per octet") {
  OctetPattern lan = entry_of<OctetPattern>("192.168.0-255.1-254");
  CHECK(lan.contains(bytes_of("192.168.0.1")));
  CHECK(lan.contains(bytes_of("192.168.255.254")));
  CHECK_FALSE(lan.contains(bytes_of("192.168.3.0")));
  CHECK_FALSE(lan.contains(bytes_of("192.168.3.255")));
  CHECK_FALSE(lan.contains(bytes_of("192.169.3.3")));
  CHECK_FALSE(lan.contains(bytes_of("::1")));  // never an IPv6 address
  OctetPattern any_second = entry_of<OctetPattern>("10.*.0.1");
  CHECK(any_second.contains(bytes_of("10.0.0.1")));
  CHECK(any_second.contains(bytes_of("10.255.0.1")));
  CHECK_FALSE(any_second.contains(bytes_of("10.255.0.2")));
  OctetPattern open_ends = entry_of<OctetPattern>("-9.250-.-.7");
  CHECK(open_ends.contains(bytes_of("0.255.0.7")));
  CHECK(open_ends.contains(bytes_of("9.250.128.7")));
  CHECK_FALSE(open_ends.contains(bytes_of("10.250.0.7")));
  CHECK_FALSE(open_ends.contains(bytes_of("9.249.0.7")));
  // A plain IPv4 address with no range in it is an address, not a pattern.
  CHECK(entry_of<AddressRange>("192.168.0.1").prefix_length == 128);
  // In an access list, patterns sit beside ranges.
  AccessList list;
  list.allow(set_of("10.0-1.*.1-3"));
  CHECK(list.admits(bytes_of("10.1.9.3")));
  CHECK_FALSE(list.admits(bytes_of("10.2.9.3")));
}

TEST_CASE("access: entries that are none of these, with the reason") {
  CHECK_THAT(entry_problem("192.168.1.1,3"), Contains("','") && Contains("N-M"));
  CHECK_THAT(entry_problem("bad,entry"), Contains("'bad,entry'") && Contains("separate entries with blanks"));
  CHECK_THAT(entry_problem("192.168.1-300.1"), Contains("not an IPv4 address or range"));
  CHECK_THAT(entry_problem("192.168.9-1.1"), Contains("not an IPv4 address or range"));
  CHECK_THAT(entry_problem("192.168.1"), Contains("'192.168.1'") && Contains("four octets"));
  CHECK_THAT(entry_problem("1.2.3.4.5"), Contains("four octets"));
  CHECK_THAT(entry_problem("1..2.3"), Contains("not an IPv4 address or range"));
  CHECK_THAT(entry_problem("10.0-1.0.0/16"), Contains("prefix length") && Contains("range"));
  CHECK_THAT(entry_problem("10.0.0.0/33"), Contains("0 to 32"));
  CHECK_THAT(entry_problem("fe80::1%eth0"), Contains("not an IPv6 address"));
  CHECK_THAT(entry_problem("::1/129"), Contains("0 to 128"));
  CHECK_THAT(entry_problem("a..b"), Contains("not an IP address, a range or a host name"));
  CHECK_THAT(entry_problem("-lead.example"), Contains("host name"));
  CHECK_THAT(entry_problem("white space"), Contains("host name"));
  CHECK_THAT(entry_problem("caf\xc3\xa9.example"), Contains("host name"));
  CHECK_THAT(entry_problem(std::string(64, 'a') + ".example"), Contains("host name"));
  CHECK_THAT(entry_problem("host/129"), Contains("prefix"));
  CHECK_THAT(entry_problem("host/x"), Contains("prefix"));
  CHECK_THAT(entry_problem(""), Contains("empty"));
}

TEST_CASE("access: comma-separated lists, all or nothing") {
  std::vector<AccessEntry> entries;
  CHECK_FALSE(parse_entry_list("127.0.0.1,::1,10.0.0.0/8,localhost", "--allow", entries));
  REQUIRE(entries.size() == 4);
  CHECK(std::get<HostName>(entries[3]).origin == "--allow");
  CHECK(first_host_name(entries) == &std::get<HostName>(entries[3]));
  auto problem = parse_entry_list("192.168.0.0/16,no pe", "--deny", entries);
  REQUIRE(problem);
  CHECK_THAT(*problem, Contains("'no pe'"));
  CHECK(entries.size() == 4);  // the good entry before the bad one was not added
  REQUIRE(parse_entry_list("1.2.3.4,", "--allow", entries));
  REQUIRE(parse_entry_list(",1.2.3.4", "--allow", entries));
  REQUIRE(parse_entry_list("1.2.3.4,,5.6.7.8", "--allow", entries));
  CHECK(entries.size() == 4);
  std::vector<AccessEntry> numeric;
  REQUIRE_FALSE(parse_entry_list("10.0.0.1,10.1-2.*.*", "--allow", numeric));
  CHECK(first_host_name(numeric) == nullptr);
}

TEST_CASE("access: names resolve once each, through the resolver, with their prefix") {
  FakeResolver resolver;
  AddressSet set = set_of("localhost,lab.example/16", resolver.function());
  CHECK(resolver.calls == 2);
  CHECK(set.contains(bytes_of("127.0.0.1")));
  CHECK(set.contains(bytes_of("::1")));
  CHECK_FALSE(set.contains(bytes_of("127.0.0.2")));
  CHECK(set.contains(bytes_of("10.1.200.7")));  // lab.example is 10.1.2.3: /16 takes 10.1.0.0/16
  CHECK_FALSE(set.contains(bytes_of("10.2.0.1")));
  // Numeric entries never reach the resolver.
  FakeResolver unused;
  set_of("10.0.0.1,10.*.*.*,::1/64", unused.function());
  CHECK(unused.calls == 0);
  // A failed lookup is the resolver's exception; a prefix too long for an IPv4 answer is refused.
  CHECK_THROWS_WITH(set_of("nosuch.example", resolver.function()), Contains("nosuch.example"));
  CHECK_THROWS_WITH(set_of("localhost/64", resolver.function()),
                    Contains("--allow") && Contains("'localhost/64'") && Contains("IPv4"));
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
    list.allow(AddressSet{});
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

TEST_CASE("access: files in ncat's format: entries between blanks, several a line, '#' comments") {
  TempFile file("# trusted hosts\n\n127.0.0.1 ::1\tlocalhost\n  10.0.0.0/8   # the lab\n"
                "192.168.0-255.1-254 lab.example/24\r\n");
  std::vector<AccessEntry> entries;
  load_entry_file(file.path, "--allowfile", entries);
  REQUIRE(entries.size() == 6);
  CHECK(std::get<AddressRange>(entries[3]).contains(bytes_of("10.2.3.4")));
  CHECK(std::get<OctetPattern>(entries[4]).contains(bytes_of("192.168.9.9")));
  const HostName& name = std::get<HostName>(entries[2]);
  CHECK(name.name == "localhost");
  CHECK(name.origin == "--allowfile '" + file.path + "' line 3");
  CHECK(*std::get<HostName>(entries[5]).prefix_length == 24);
  FakeResolver resolver;
  AccessList list;
  list.allow(resolve_entries(entries, resolver.function()));
  CHECK(list.admits(bytes_of("10.1.2.200")));  // lab.example/24
  CHECK(list.admits(bytes_of("::1")));
  CHECK_FALSE(list.admits(bytes_of("172.16.0.1")));

  TempFile bad("127.0.0.1\n\n10.0.0.1 10.0.0.0/40\n");
  try {
    load_entry_file(bad.path, "--denyfile", entries);
    FAIL("a bad entry was accepted");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Equals("--denyfile '" + bad.path + "' line 3: bad prefix length in '10.0.0.0/40' (0 to 32 for IPv4)"));
  }
  TempFile list_in_octet("10.0.0.1,2\n");
  CHECK_THROWS_WITH(load_entry_file(list_in_octet.path, "--allowfile", entries), Contains("line 1") && Contains("','"));
  try {
    load_entry_file("/nonexistent/allow-list", "--allowfile", entries);
    FAIL("a missing file was accepted");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains("/nonexistent/allow-list") && Contains("No such file"));
  }
  try {
    load_entry_file("/tmp", "--allowfile", entries);
    FAIL("a directory was accepted");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Contains("'/tmp'"));
  }
}
