// cli.hpp: the wording of usage errors (house style, never cxxopts' own), the nc form without
// a port, -q -1, and --list-transforms without a subcommand.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "cli.hpp"
#include "cli_checks.hpp"
#include "transform.hpp"

using namespace sockcat;
using namespace sockcat::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Checks that a usage error is in sockcat's words: none of cxxopts' phrasing or capitals.
void check_house_style(const std::string& error) {
  INFO("error: " << error);
  CHECK(error.find("Option ") == std::string::npos);
  CHECK(error.find("Argument ") == std::string::npos);
  CHECK(error.find("is missing an argument") == std::string::npos);
  CHECK(error.find("failed to parse") == std::string::npos);
}

}  // namespace

TEST_CASE("cli messages: an option missing its value is named as typed, with its placeholder") {
  CHECK_THAT(rejected({"-lp"}), StartsWith("-p needs a PORT") && Contains("'sockcat --help'"));
  CHECK_THAT(rejected({"listen", "--transform"}),
             StartsWith("--transform needs a NAME") && Contains("'sockcat listen --help'"));
  CHECK_THAT(rejected({"listen", "80", "-b"}), StartsWith("-b needs an ADDR"));
  CHECK_THAT(rejected({"listen", "80", "--allow"}), StartsWith("--allow needs ADDRS"));
  CHECK_THAT(rejected({"listen", "80", "--send-file"}), StartsWith("--send-file needs a FILE"));
  CHECK_THAT(rejected({"listen", "80", "-vm"}), StartsWith("-m needs an N"));
  CHECK_THAT(rejected({"connect", "h", "80", "-w"}), StartsWith("-w needs a DURATION"));
  CHECK_THAT(rejected({"connect", "h", "80", "--source-port"}), StartsWith("--source-port needs a PORT"));
  // The nc form names the letter the user typed, not its subcommand spelling.
  CHECK_THAT(rejected({"-p"}), StartsWith("-p needs a PORT"));
  CHECK_THAT(rejected({"-l", "-s"}), StartsWith("-s needs an ADDR"));
  for (const auto& args : {std::vector<std::string>{"-lp"}, {"listen", "--transform"}, {"connect", "h", "1", "-e"}})
    check_house_style(rejected(args));
}

TEST_CASE("cli messages: a flag given a value is refused in house style") {
  std::string udp = rejected({"listen", "--udp=x", "1"});
  CHECK_THAT(udp, StartsWith("--udp takes no value; 'x' was given"));
  check_house_style(udp);
  // --udp=false would otherwise turn UDP on: cxxopts counts the flag whatever its value.
  CHECK_THAT(rejected({"connect", "--udp=false", "h", "1"}), StartsWith("--udp takes no value"));
  CHECK_THAT(rejected({"-l", "--keep-open=yes", "1"}), StartsWith("--keep-open takes no value"));
  // A value that merely looks like one is still a value: -e takes it whole.
  CHECK(accepted({"listen", "-e", "--udp=x", "1"}).command == std::vector<std::string>{"--udp=x"});
}

TEST_CASE("cli messages: a value that fails to parse names the option that took it") {
  CHECK(rejected({"-d", "127.0.0.1", "8080"}) ==
        "-d takes a duration; '127.0.0.1' is not a number followed by ms, s, m or h (see 'sockcat --help')");
  CHECK_THAT(rejected({"connect", "-w", "h", "80"}), StartsWith("-w takes a duration; 'h'"));
  CHECK_THAT(rejected({"connect", "-q", "5x", "h", "80"}), StartsWith("-q takes a duration; '5x' has an unknown unit"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "localhost", "80"}), StartsWith("-i takes a duration; 'localhost'"));
  CHECK_THAT(rejected({"listen", "-p", "localhost"}), StartsWith("-p takes a port; 'localhost'"));
  CHECK_THAT(rejected({"listen", "-p", "70000"}), StartsWith("-p takes a port; '70000' is out of range"));
  CHECK_THAT(rejected({"connect", "--source-port", "x", "h", "80"}), StartsWith("--source-port takes a port; 'x'"));
  CHECK_THAT(rejected({"connect", "--source-port", "", "h", "80"}), StartsWith("--source-port: empty port"));
  // nc form: -p is the source port of a connect, and is named -p.
  CHECK_THAT(rejected({"-p", "127.0.0.1", "80"}), StartsWith("-p takes a port; '127.0.0.1'"));
}

TEST_CASE("cli messages: a missing HOST or PORT names the option that took the word before") {
  CHECK(rejected({"-s", "127.0.0.1", "8080"}) ==
        "missing PORT; -s took '127.0.0.1' as its value (see 'sockcat --help')");
  CHECK_THAT(rejected({"-p", "5555"}), StartsWith("missing HOST and PORT; -p took '5555' as its value"));
  CHECK_THAT(rejected({"connect", "-vw", "5", "h"}), StartsWith("missing PORT; -w took '5' as its value"));
  CHECK_THAT(rejected({"connect", "--wait", "5", "h"}), StartsWith("missing PORT; --wait took '5' as its value"));
  // An attached value took no separate word, and nothing is named.
  CHECK(rejected({"connect", "-w5", "h"}) == "missing PORT (see 'sockcat connect --help')");
  CHECK(rejected({"connect", "h"}) == "missing PORT (see 'sockcat connect --help')");
}

TEST_CASE("cli messages: -q -1 is nc's never quit, the default wait for the peer") {
  for (const auto& args : {std::vector<std::string>{"connect", "-q", "-1", "h", "80"},
                           {"connect", "--quit-after=-1", "h", "80"},
                           {"-q", "-1", "h", "80"},
                           {"-l", "-q", "-1", "80"},
                           {"connect", "-u", "-q", "-1", "h", "53"},
                           {"connect", "--send-only", "-q", "-1", "h", "80"}}) {
    CHECK_FALSE(accepted(args).quit_after.has_value());
  }
  CHECK_THAT(rejected({"connect", "-q", "-2", "h", "80"}), StartsWith("-q takes a duration; '-2'"));
}

TEST_CASE("cli messages: the nc form listens on ncat's port 31337 when none is given") {
  Options alone = accepted({"-l"});
  CHECK(alone.role == Role::listen);
  CHECK(alone.port.text == "31337");
  CHECK(alone.bind_address.empty());
  CHECK(accepted({"-lvk"}).port.text == "31337");
  Options address = accepted({"-l", "127.0.0.1"});
  CHECK(address.port.text == "31337");
  CHECK(address.bind_address == "127.0.0.1");
  CHECK(accepted({"-l", "localhost"}).bind_address == "localhost");
  CHECK(accepted({"-l", "::1"}).bind_address == "::1");
  // A lone word that reads as a port stays the port.
  CHECK(accepted({"-l", "8080"}).port.text == "8080");
  CHECK(accepted({"-l", "8080"}).bind_address.empty());
  CHECK(accepted({"-l", "http"}).port.text == "http");
  CHECK(accepted({"-lu", "domain"}).port.text == "domain");
  CHECK_THAT(rejected({"-l", "70000"}), Contains("'70000'") && Contains("out of range"));
  CHECK(accepted({"-l", "-p", "80"}).port.text == "80");
  CHECK(accepted({"-l", "127.0.0.1", "80"}).port.text == "80");
  // -U names its own address; the subcommand form still requires PORT.
  CHECK_THAT(rejected({"-lU"}), Contains("missing PATH"));
  CHECK(is_unix_address(accepted({"-lU", "/tmp/s"}).unix_address, "/tmp/s"));
  CHECK_THAT(rejected({"listen"}), StartsWith("missing PORT"));
  CHECK_THAT(rejected({"listen", "127.0.0.1"}), Contains("'127.0.0.1'"));
}

TEST_CASE("cli messages: --list-transforms without a subcommand lists the transforms") {
  CliOutcome outcome = parse_args({"--list-transforms"});
  CHECK_FALSE(outcome.options.has_value());
  CHECK(outcome.status == 0);
  CHECK(outcome.error.empty());
  CHECK(outcome.output == describe_transforms());
}

TEST_CASE("cli messages: a name in the wrong case suggests the lower-case one") {
  CHECK_THAT(rejected({"listen", "--transform", "REVERSE", "-u", "80"}),
             Contains("unknown transform 'REVERSE'") && Contains("did you mean 'reverse'?"));
  CHECK_THAT(rejected({"listen", "--transform", "Echo", "80"}), Contains("did you mean 'echo'?"));
  CHECK_THAT(rejected({"listen", "--transform", "echo", "--framing", "LINE", "80"}),
             Contains("unknown framing 'LINE'") && Contains("did you mean 'line'?"));
  // Names stay case-sensitive.
  CHECK_THAT(rejected({"listen", "--transform", "UPPER", "80"}), Contains("unknown transform"));
}
