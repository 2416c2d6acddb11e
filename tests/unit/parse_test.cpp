// parse.hpp: ports, durations and "did you mean".
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "parse.hpp"

using namespace sockcat;
using namespace std::chrono_literals;

namespace {

// The value of a successful parse; fails the test (with the error text) otherwise.
template <typename T>
T value_of(const Parsed<T>& parsed) {
  if (const auto* problem = std::get_if<std::string>(&parsed)) FAIL("expected a value, got error: " << *problem);
  return std::get<T>(parsed);
}

// The error text of a failed parse; fails the test when a value came back.
template <typename T>
std::string error_of(const Parsed<T>& parsed) {
  REQUIRE(std::holds_alternative<std::string>(parsed));
  const std::string& problem = std::get<std::string>(parsed);
  CHECK_FALSE(problem.empty());
  CHECK(problem.find('\n') == std::string::npos);
  return problem;
}

using Catch::Matchers::Contains;

}  // namespace

TEST_CASE("parse_port accepts decimal ports 0-65535") {
  CHECK(value_of(parse_port("0", false)) == 0);
  CHECK(value_of(parse_port("1", false)) == 1);
  CHECK(value_of(parse_port("80", false)) == 80);
  CHECK(value_of(parse_port("8080", true)) == 8080);
  CHECK(value_of(parse_port("65535", false)) == 65535);
  CHECK(value_of(parse_port("065535", false)) == 65535);  // leading zeros are still decimal
}

TEST_CASE("parse_port rejects numbers out of range") {
  CHECK_THAT(error_of(parse_port("65536", false)), Contains("'65536'") && Contains("out of range"));
  CHECK_THAT(error_of(parse_port("100000", false)), Contains("out of range"));
  CHECK_THAT(error_of(parse_port("99999999999999999999", false)),
             Contains("'99999999999999999999'") && Contains("out of range"));
  CHECK_THAT(error_of(parse_port("-1", false)), Contains("'-1'"));
  CHECK_THAT(error_of(parse_port("+1", false)), Contains("'+1'"));
  CHECK_THAT(error_of(parse_port("-0", true)), Contains("'-0'"));
}

TEST_CASE("parse_port rejects text that is neither a number nor a service") {
  CHECK_THAT(error_of(parse_port("", false)), Contains("empty"));
  CHECK_THAT(error_of(parse_port(" 80", false)), Contains("' 80'"));
  CHECK_THAT(error_of(parse_port("80 ", false)), Contains("'80 '"));
  CHECK_THAT(error_of(parse_port("80x", false)), Contains("'80x'"));
  CHECK_THAT(error_of(parse_port("0x50", false)), Contains("'0x50'"));
  CHECK_THAT(error_of(parse_port("8.0", false)), Contains("'8.0'"));
  CHECK_THAT(error_of(parse_port("no-such-service-xyz", false)),
             Contains("'no-such-service-xyz'") && Contains("service"));
  CHECK_THAT(error_of(parse_port("no-such-service-xyz", true)), Contains("service"));
}

TEST_CASE("parse_port looks service names up for the right protocol") {
  // /etc/services from Debian's netbase.
  CHECK(value_of(parse_port("http", false)) == 80);
  CHECK(value_of(parse_port("https", false)) == 443);
  CHECK(value_of(parse_port("ssh", false)) == 22);
  CHECK(value_of(parse_port("domain", true)) == 53);
  CHECK(value_of(parse_port("domain", false)) == 53);
  CHECK(value_of(parse_port("www", false)) == 80);  // an alias
  // A service that exists for TCP only is unknown for UDP.
  CHECK_THAT(error_of(parse_port("http", true)), Contains("'http'"));
}

TEST_CASE("parse_duration reads a number with an optional unit") {
  CHECK(value_of(parse_duration("500ms")) == 500ms);
  CHECK(value_of(parse_duration("1.5s")) == 1500ms);
  CHECK(value_of(parse_duration("2")) == 2s);
  CHECK(value_of(parse_duration("2s")) == 2s);
  CHECK(value_of(parse_duration("3m")) == 3min);
  CHECK(value_of(parse_duration("1h")) == 1h);
  CHECK(value_of(parse_duration("0")) == 0ms);
  CHECK(value_of(parse_duration("0ms")) == 0ms);
  CHECK(value_of(parse_duration("0.25")) == 250ms);
  CHECK(value_of(parse_duration(".5s")) == 500ms);
  CHECK(value_of(parse_duration("1.0005s")) == 1001ms);  // rounded to the nearest ms
  CHECK(value_of(parse_duration("2.5h")) == 150min);
  CHECK(value_of(parse_duration("007ms")) == 7ms);
}

TEST_CASE("parse_duration rejects malformed durations") {
  for (std::string_view bad : {"", ".", "1..2", "1.2.3s", "-1s", "-1", "+1s", "5x", "1e3", "ms", "s", " 1s",
                               "1 s", "1s ", "1S", "1sec", "1ms2", "inf", "nan", "1,5s"}) {
    INFO("duration '" << bad << "'");
    std::string problem = error_of(parse_duration(bad));
    CHECK_THAT(problem, Contains("'" + std::string(bad) + "'"));
  }
  CHECK_THAT(error_of(parse_duration("5x")), Contains("unit"));
}

TEST_CASE("parse_duration rejects durations too long to hold") {
  CHECK_THAT(error_of(parse_duration("99999999999999999999h")), Contains("too long"));
  CHECK_THAT(error_of(parse_duration("99999999h")), Contains("too long"));
  CHECK_THAT(error_of(parse_duration(std::string(400, '9'))), Contains("'999"));
  CHECK_THAT(error_of(parse_duration(std::string(400, '9') + "ms")), Contains("'999"));
  // Just inside and just outside the documented ceiling of 10^12 ms.
  CHECK(value_of(parse_duration("1000000000000ms")) == std::chrono::milliseconds(1'000'000'000'000));
  CHECK_THAT(error_of(parse_duration("1000000000001ms")), Contains("too long"));
}

TEST_CASE("closest_name suggests a plausible correction or nothing") {
  const std::vector<std::string_view> transforms = {"none", "echo", "upper"};
  const std::vector<std::string_view> subcommands = {"listen", "connect"};

  auto upper = closest_name("uper", transforms);
  REQUIRE(upper.has_value());
  CHECK(*upper == "upper");
  auto listen = closest_name("lsiten", subcommands);
  REQUIRE(listen.has_value());
  CHECK(*listen == "listen");
  auto connect = closest_name("conect", subcommands);
  REQUIRE(connect.has_value());
  CHECK(*connect == "connect");
  auto exact = closest_name("echo", transforms);
  REQUIRE(exact.has_value());
  CHECK(*exact == "echo");

  CHECK_FALSE(closest_name("xyz", transforms).has_value());
  CHECK_FALSE(closest_name("", transforms).has_value());
  CHECK_FALSE(closest_name("frobnicate", subcommands).has_value());
  CHECK_FALSE(closest_name("uper", std::vector<std::string_view>{}).has_value());
  CHECK_FALSE(closest_name("", std::vector<std::string_view>{}).has_value());
}

TEST_CASE("printable escapes control bytes and keeps the rest") {
  CHECK(printable("plain text 123") == "plain text 123");
  CHECK(printable("") == "");
  CHECK(printable("a\nb") == "a\\x0ab");
  CHECK(printable("\r\t\x1b[31m") == "\\x0d\\x09\\x1b[31m");
  CHECK(printable(std::string_view("\0", 1)) == "\\x00");
  CHECK(printable("\x7f") == "\\x7f");
  CHECK(printable("\x1f ~") == "\\x1f ~");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string escaped = printable(all);
  for (char c : escaped) {
    auto byte = static_cast<unsigned char>(c);
    CHECK_FALSE((byte < 0x20 || byte == 0x7f));
  }
  CHECK(escaped.size() == all.size() + 3 * 33);  // 33 control bytes, each 1 -> 4 characters
}

TEST_CASE("quote puts printable text between single quotes") {
  CHECK(quote("x") == "'x'");
  CHECK(quote("") == "''");
  CHECK(quote("a\nb") == "'a\\x0ab'");
}

TEST_CASE("parse errors stay on one line whatever the input") {
  CHECK_THAT(error_of(parse_port("8\n0", false)), Contains("\\x0a"));
  CHECK_THAT(error_of(parse_port("http\n", false)), Contains("\\x0a"));
  CHECK_THAT(error_of(parse_duration("5\ns")), Contains("\\x0a"));
  CHECK_THAT(error_of(parse_duration("\x1b[2J")), Contains("\\x1b"));
}

TEST_CASE("parse_port_list: ports, ranges, services, in order, without duplicates") {
  using Ports = std::vector<std::uint16_t>;
  auto ports = [](std::string_view text) { return std::get<Ports>(parse_port_list(text, false)); };
  auto problem = [](std::string_view text) { return std::get<std::string>(parse_port_list(text, false)); };
  CHECK(ports("22") == Ports{22});
  CHECK(ports("22,80,8000-8003") == Ports{22, 80, 8000, 8001, 8002, 8003});
  CHECK(ports("80,http,79-81") == Ports{80, 79, 81});
  CHECK(ports("65535") == Ports{65535});
  CHECK(ports("1-65535").size() == 65535);
  CHECK_THAT(problem("90-80"), Catch::Contains("'90-80' is out of order"));
  CHECK_THAT(problem("0"), Catch::Contains("port 0"));
  CHECK_THAT(problem("0-5"), Catch::Contains("port 0"));
  CHECK_THAT(problem("1-70000"), Catch::Contains("out of range"));
  CHECK_THAT(problem(""), Catch::Contains("empty"));
  CHECK_THAT(problem("1,"), Catch::Contains("empty"));
  CHECK_THAT(problem("-5"), Catch::Contains("out of range"));
  CHECK_THAT(problem("no-such-service"), Catch::Contains("service"));
}

TEST_CASE("parse_byte_size: bytes with K, M, G suffixes, bounded") {
  auto size = [](std::string_view text, std::size_t largest = std::size_t{1} << 30) {
    return parse_byte_size(text, largest);
  };
  CHECK(std::get<std::size_t>(size("1")) == 1);
  CHECK(std::get<std::size_t>(size("64K")) == 65536);
  CHECK(std::get<std::size_t>(size("64k")) == 65536);
  CHECK(std::get<std::size_t>(size("1M")) == 1048576);
  CHECK(std::get<std::size_t>(size("1G")) == 1073741824);
  CHECK(std::get<std::size_t>(size("100", 100)) == 100);
  for (std::string_view bad : {"", "0", "0K", "K", "-1", "1.5M", "1MB", "1 M", " 1", "101", "99999999999999999999999"}) {
    INFO("text '" << bad << "'");
    CHECK(std::holds_alternative<std::string>(parse_byte_size(bad, 100)));
  }
  CHECK(std::holds_alternative<std::string>(size("2G")));
}

TEST_CASE("closest_name ignores case, so a shouted name finds its lower-case spelling") {
  const std::vector<std::string_view> transforms = {"none", "echo", "upper", "reverse"};
  auto reverse = closest_name("REVERSE", transforms);
  REQUIRE(reverse.has_value());
  CHECK(*reverse == "reverse");
  auto upper = closest_name("Uper", transforms);
  REQUIRE(upper.has_value());
  CHECK(*upper == "upper");
  CHECK_FALSE(closest_name("XYZ", transforms).has_value());
}
