// cli.hpp: argv in, Options or (output | error, status) out.
#include <catch2/catch.hpp>
#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_checks.hpp"
#include "exit_status.hpp"
#include "transform.hpp"

using namespace sockcat;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

using namespace sockcat::test;

namespace {

// The text of a command line that prints something and exits 0.
std::string printed(std::initializer_list<std::string> args) {
  INFO("argv: sockcat " << joined(args));
  CliOutcome outcome;
  REQUIRE_NOTHROW(outcome = parse_args(args));
  CHECK_FALSE(outcome.options.has_value());
  CHECK(outcome.status == 0);
  CHECK(outcome.error.empty());
  CHECK_FALSE(outcome.output.empty());
  CHECK(outcome.output.back() == '\n');
  return outcome.output;
}

}  // namespace

TEST_CASE("cli: listen with -p PORT and with a bare PORT") {
  for (const Options& o : {accepted({"listen", "-p", "80"}), accepted({"listen", "80"}),
                           accepted({"listen", "--port", "80"}), accepted({"listen", "--port=80"})}) {
    CHECK(o.role == Role::listen);
    CHECK(o.port.text == "80");
    CHECK(o.bind_address.empty());
    CHECK(o.family == Family::any);
    CHECK_FALSE(o.udp);
    CHECK(o.transform->name == "none");
    CHECK(o.half_close);
    CHECK(o.verbosity == 0);
    CHECK(o.host.empty());
  }
  CHECK(accepted({"listen", "0"}).port.text == "0");
  CHECK(accepted({"listen", "-p", "0"}).port.text == "0");
  CHECK(accepted({"listen", "65535"}).port.text == "65535");
  CHECK(accepted({"listen", "http"}).port.text == "http");
  CHECK(accepted({"listen", "-u", "domain"}).port.text == "domain");
  // The number is looked up once, here, for the run's protocol.
  CHECK(accepted({"listen", "-p", "0"}).port.number == 0);
  CHECK(accepted({"listen", "65535"}).port.number == 65535);
  CHECK(accepted({"listen", "http"}).port.number == 80);
  CHECK(accepted({"listen", "-u", "domain"}).port.number == 53);
  CHECK(accepted({"listen", "--", "80"}).port.text == "80");
}

TEST_CASE("cli: listen options") {
  Options bound = accepted({"listen", "-b", "127.0.0.1", "80"});
  CHECK(bound.bind_address == "127.0.0.1");
  CHECK(accepted({"listen", "--bind", "::1", "-p", "80"}).bind_address == "::1");
  CHECK(accepted({"listen", "-b", "localhost", "80"}).bind_address == "localhost");
  CHECK(accepted({"listen", "-4", "80"}).family == Family::v4);
  CHECK(accepted({"listen", "-6", "80"}).family == Family::v6);
  CHECK(accepted({"listen", "-4", "-b", "127.0.0.1", "80"}).family == Family::v4);
  CHECK(accepted({"listen", "-6", "-b", "::1", "80"}).bind_address == "::1");
  CHECK(accepted({"listen", "-u", "80"}).udp);
  CHECK(accepted({"listen", "--udp", "80"}).udp);
  CHECK(accepted({"listen", "-v", "80"}).verbosity == 1);
  CHECK(accepted({"listen", "-v", "-v", "80"}).verbosity == 2);
  CHECK(accepted({"listen", "-vv", "80"}).verbosity == 2);
  CHECK(accepted({"listen", "--verbose", "-v", "--verbose", "80"}).verbosity == 3);
  CHECK(accepted({"listen", "--transform", "echo", "80"}).transform->name == "echo");
  CHECK(accepted({"listen", "--transform=upper", "80"}).transform->name == "upper");
  CHECK(accepted({"listen", "--transform", "none", "80"}).transform->name == "none");
  Options kept = accepted({"listen", "--no-shutdown", "80"});
  CHECK_FALSE(kept.half_close);
  CHECK(kept.transform->name == "none");
  CHECK_FALSE(accepted({"listen", "--no-shutdown", "--transform", "none", "80"}).half_close);

  Options all = accepted({"listen", "-u", "-4", "-v", "--transform", "upper", "-b", "0.0.0.0", "-p", "9000"});
  CHECK(all.role == Role::listen);
  CHECK(all.udp);
  CHECK(all.family == Family::v4);
  CHECK(all.verbosity == 1);
  CHECK(all.transform->name == "upper");
  CHECK(all.bind_address == "0.0.0.0");
  CHECK(all.port.text == "9000");
  CHECK(all.half_close);
}

TEST_CASE("cli: connect HOST PORT and its options") {
  Options plain = accepted({"connect", "example.com", "80"});
  CHECK(plain.role == Role::connect);
  CHECK(plain.host == "example.com");
  CHECK(plain.port.text == "80");
  CHECK(plain.family == Family::any);
  CHECK_FALSE(plain.udp);
  CHECK(plain.half_close);
  CHECK(plain.connect_timeout == 0ms);
  CHECK(plain.source_address.empty());
  CHECK(plain.source_port.text.empty());
  CHECK(plain.bind_address.empty());

  Options full = accepted({"connect", "-s", "127.0.0.1", "--source-port", "5000", "-w", "500ms", "127.0.0.1", "http"});
  CHECK(full.source_address == "127.0.0.1");
  CHECK(full.source_port.text == "5000");
  CHECK(full.connect_timeout == 500ms);
  CHECK(full.host == "127.0.0.1");
  CHECK(full.port.text == "http");
  CHECK(full.port.number == 80);
  CHECK(full.source_port.number == 5000);
  CHECK(plain.port.number == 80);
  CHECK(plain.source_port.number == 0);
  CHECK(plain.port_list.empty());

  CHECK(accepted({"connect", "--wait", "2", "h", "1"}).connect_timeout == 2s);
  CHECK(accepted({"connect", "-w", "1.5s", "h", "1"}).connect_timeout == 1500ms);
  CHECK(accepted({"connect", "--source", "::1", "::1", "1"}).source_address == "::1");
  CHECK(accepted({"connect", "--source-port", "0", "h", "1"}).source_port.text == "0");
  CHECK(accepted({"connect", "-6", "::1", "65535"}).family == Family::v6);
  CHECK(accepted({"connect", "-4", "127.0.0.1", "1"}).family == Family::v4);
  CHECK(accepted({"connect", "-4", "localhost", "1"}).host == "localhost");
  CHECK(accepted({"connect", "-6", "fe80::1%lo", "1"}).host == "fe80::1%lo");
  CHECK(accepted({"connect", "-u", "127.0.0.1", "domain"}).udp);
  CHECK_FALSE(accepted({"connect", "--no-shutdown", "h", "1"}).half_close);
  CHECK(accepted({"connect", "-v", "-v", "h", "1"}).verbosity == 2);
}

TEST_CASE("cli: help, version and the transform list print and exit 0") {
  std::string top = printed({"--help"});
  CHECK_THAT(top, Contains("listen") && Contains("connect"));
  CHECK(printed({"-h"}) == top);
  CHECK(printed({"help"}) == top);

  std::string version = printed({"--version"});
  CHECK_THAT(version, StartsWith("sockcat ") && Contains(SOCKCAT_VERSION));
  CHECK(printed({"-V"}) == version);

  std::string listen_help = printed({"help", "listen"});
  CHECK_THAT(listen_help, Contains("--transform") && Contains("--bind") && Contains("--port"));
  CHECK(listen_help.find("--source-port") == std::string::npos);
  CHECK(printed({"listen", "--help"}) == listen_help);
  CHECK(printed({"listen", "-h"}) == listen_help);
  CHECK(printed({"listen", "80", "--help"}) == listen_help);

  std::string connect_help = printed({"help", "connect"});
  CHECK_THAT(connect_help, Contains("--source-port") && Contains("--wait"));
  CHECK(connect_help.find("--transform") == std::string::npos);
  CHECK(printed({"connect", "--help"}) == connect_help);
  CHECK(connect_help != listen_help);

  std::string list = printed({"listen", "--list-transforms"});
  CHECK(list == describe_transforms());
  CHECK(printed({"listen", "--list-transforms", "80"}) == list);
}

TEST_CASE("cli: missing or unknown subcommand") {
  CHECK_THAT(rejected({}), Contains("missing subcommand"));
  CHECK_THAT(rejected({"lsiten", "80"}), Contains("'lsiten'") && Contains("did you mean 'listen'"));
  CHECK_THAT(rejected({"conect", "h", "80"}), Contains("did you mean 'connect'"));
  CHECK_THAT(rejected({"lisen", "-p", "80"}), Contains("did you mean 'listen'"));
  CHECK_THAT(rejected({"halp"}), Contains("did you mean 'help'"));
  // A word far from every subcommand is an nc-style HOST (see the nc-style tests below).
  std::string unknown = rejected({"frobnicate"});
  CHECK_THAT(unknown, Contains("missing PORT"));
  CHECK(unknown.find("did you mean") == std::string::npos);
  CHECK_THAT(rejected({"-p", "80"}), Contains("missing HOST and PORT"));
  CHECK_THAT(rejected({"help", "frobnicate"}), Contains("listen"));
  CHECK_THAT(rejected({"help", "listen", "connect"}), Contains("help"));
}

TEST_CASE("cli: the listen PORT") {
  CHECK_THAT(rejected({"listen"}), Contains("missing PORT"));
  CHECK_THAT(rejected({"listen", "-v"}), Contains("missing PORT"));
  CHECK_THAT(rejected({"listen", "-p", "80", "81"}), Contains("port given twice"));
  CHECK_THAT(rejected({"listen", "81", "-p", "80"}), Contains("port given twice"));
  CHECK_THAT(rejected({"listen", "65536"}), Contains("'65536'") && Contains("out of range"));
  CHECK_THAT(rejected({"listen", "-p", "99999999999999999999"}), Contains("out of range"));
  CHECK_THAT(rejected({"listen", "-p", "-1"}), Contains("'-1'"));
  CHECK_THAT(rejected({"listen", "-1"}), Contains("'-1'"));
  CHECK_THAT(rejected({"listen", "no-such-service-xyz"}), Contains("'no-such-service-xyz'"));
  CHECK_THAT(rejected({"listen", "-u", "http"}), Contains("'http'"));  // http is TCP-only
  CHECK_THAT(rejected({"listen", "80x"}), Contains("'80x'"));
  CHECK_THAT(rejected({"listen", "-p"}), Contains("p"));
  CHECK_THAT(rejected({"listen", "80", "--bind"}), Contains("bind"));
  CHECK_THAT(rejected({"listen", "80", "81"}), Contains("unexpected argument '81'"));
}

TEST_CASE("cli: unknown transform suggests the closest name") {
  CHECK_THAT(rejected({"listen", "--transform", "uper", "80"}),
             Contains("unknown transform 'uper'") && Contains("did you mean 'upper'"));
  CHECK_THAT(rejected({"listen", "--transform", "ecko", "80"}), Contains("did you mean 'echo'"));
  std::string far = rejected({"listen", "--transform", "base64", "80"});
  CHECK_THAT(far, Contains("unknown transform 'base64'"));
  CHECK(far.find("did you mean") == std::string::npos);
  CHECK_THAT(rejected({"listen", "--transform", "", "80"}), Contains("unknown transform"));
  CHECK_THAT(rejected({"listen", "80", "--transform"}), Contains("transform"));
}

TEST_CASE("cli: unknown options and options of the other subcommand") {
  CHECK_THAT(rejected({"listen", "--frobnicate", "80"}), Contains("unknown option '--frobnicate'"));
  CHECK_THAT(rejected({"listen", "-y", "80"}), Contains("unknown option '-y'"));
  CHECK_THAT(rejected({"listen", "-z", "1"}), Contains("'-z'") && Contains("belongs to 'connect'"));
  CHECK_THAT(rejected({"connect", "--transform", "x", "h", "1"}),
             Contains("'--transform'") && Contains("belongs to 'listen'"));
  CHECK_THAT(rejected({"connect", "-p", "1", "h", "1"}), Contains("'-p'") && Contains("belongs to 'listen'"));
  CHECK_THAT(rejected({"connect", "-b", "::1", "h", "1"}), Contains("belongs to 'listen'"));
  CHECK_THAT(rejected({"connect", "--list-transforms"}), Contains("belongs to 'listen'"));
  CHECK_THAT(rejected({"listen", "-w", "5s", "80"}), Contains("'-w'") && Contains("belongs to 'connect'"));
  CHECK_THAT(rejected({"listen", "-s", "::1", "80"}), Contains("belongs to 'connect'"));
  CHECK_THAT(rejected({"listen", "--source-port", "5", "80"}),
             Contains("'--source-port'") && Contains("belongs to 'connect'"));
  CHECK_THAT(rejected({"listen", "--wait=5s", "80"}), Contains("'--wait'") && Contains("belongs to 'connect'"));
  CHECK_THAT(rejected({"connect", "h", "-5"}), Contains("'-5'"));
}

TEST_CASE("cli: malformed short-option clusters are usage errors, not exceptions") {
  // cxxopts (built without std::regex) passes "-v=2" through whole; sockcat calls it malformed.
  // parse_command_line promises never to throw; each cluster gets its own section so that
  // one throwing does not hide the others.
  SECTION("-v=2") { CHECK_THAT(rejected({"listen", "-v=2", "80"}), Contains("=")); }
  SECTION("-4=") { CHECK_THAT(rejected({"listen", "-4=", "80"}), Contains("=")); }
  SECTION("-u=1") { CHECK_THAT(rejected({"connect", "-u=1", "h", "1"}), Contains("=")); }
  SECTION("-y=1") { CHECK_THAT(rejected({"listen", "-y=1", "80"}), Contains("-y")); }
  SECTION("a known option misspelt is called malformed, not foreign") {
    CHECK_THAT(rejected({"listen", "-v=2", "80"}), Contains("malformed option '-v=2'") && !Contains("belongs"));
    CHECK_THAT(rejected({"connect", "-z=1", "a..b", "1"}), Contains("malformed option '-z=1'"));
    CHECK_THAT(rejected({"listen", "-p=80"}), Contains("malformed option '-p=80'"));
    CHECK_THAT(rejected({"listen", "-6--v", "80"}), Contains("malformed option '-6--v'"));
  }
}

TEST_CASE("cli: conflicting address family") {
  CHECK_THAT(rejected({"listen", "-4", "-6", "80"}), Contains("-4") && Contains("-6"));
  CHECK_THAT(rejected({"connect", "-6", "-4", "h", "1"}), Contains("-4") && Contains("-6"));
  CHECK_THAT(rejected({"listen", "-4", "-b", "::1", "80"}), Contains("'::1'") && Contains("-4"));
  CHECK_THAT(rejected({"listen", "-6", "-b", "127.0.0.1", "80"}), Contains("'127.0.0.1'") && Contains("-6"));
  CHECK_THAT(rejected({"connect", "-4", "::1", "80"}), Contains("'::1'") && Contains("-4"));
  CHECK_THAT(rejected({"connect", "-4", "fe80::1%lo", "80"}), Contains("-4"));
  CHECK_THAT(rejected({"connect", "-6", "127.0.0.1", "80"}), Contains("'127.0.0.1'") && Contains("-6"));
  CHECK_THAT(rejected({"connect", "-4", "-s", "::1", "127.0.0.1", "80"}), Contains("'::1'"));
}

TEST_CASE("cli: --no-shutdown and -w conflicts") {
  CHECK_THAT(rejected({"listen", "--no-shutdown", "--transform", "echo", "80"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"listen", "--transform", "upper", "--no-shutdown", "80"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"listen", "--no-shutdown", "-u", "80"}), Contains("--no-shutdown") && Contains("udp"));
  CHECK_THAT(rejected({"connect", "--no-shutdown", "-u", "h", "1"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"connect", "-u", "-w", "5s", "h", "80"}), Contains("-w"));
}

TEST_CASE("cli: bad -w durations") {
  CHECK_THAT(rejected({"connect", "-w", "5x", "h", "80"}), Contains("'5x'"));
  CHECK_THAT(rejected({"connect", "-w", "-1s", "h", "80"}), Contains("-1s"));
  CHECK_THAT(rejected({"connect", "-w", "", "h", "80"}), Contains("duration"));
  CHECK_THAT(rejected({"connect", "-w", "99999999h", "h", "80"}), Contains("too long"));
  CHECK_THAT(rejected({"connect", "-w", "0", "h", "80"}), Contains("-w"));
  CHECK_THAT(rejected({"connect", "-w", "0ms", "h", "80"}), Contains("-w"));
  CHECK_THAT(rejected({"connect", "-w", "0.0001s", "h", "80"}), Contains("-w"));  // rounds to 0 ms
  CHECK_THAT(rejected({"connect", "h", "80", "-w"}), Contains("w"));
}

TEST_CASE("cli: connect HOST and PORT") {
  CHECK_THAT(rejected({"connect"}), Contains("missing HOST and PORT"));
  CHECK_THAT(rejected({"connect", "-v"}), Contains("missing HOST and PORT"));
  CHECK_THAT(rejected({"connect", "h"}), Contains("missing PORT"));
  CHECK_THAT(rejected({"connect", "h", "0"}), Contains("port 0"));
  CHECK_THAT(rejected({"connect", "h", "65536"}), Contains("'65536'"));
  CHECK_THAT(rejected({"connect", "h", "no-such-service-xyz"}), Contains("'no-such-service-xyz'"));
  CHECK_THAT(rejected({"connect", "h", "80", "x"}), Contains("unexpected argument 'x'"));
  CHECK_THAT(rejected({"connect", "", "80"}), Contains("HOST"));
  CHECK_THAT(rejected({"connect", "-s", "", "h", "80"}), Contains("-s"));
  CHECK_THAT(rejected({"connect", "--source-port", "70000", "h", "80"}), Contains("'70000'"));
  CHECK_THAT(rejected({"listen", "-b", "", "80"}), Contains("-b"));
}

TEST_CASE("cli: every usage error names the subcommand's help") {
  CHECK_THAT(rejected({"listen", "80", "81"}), Contains("sockcat listen --help"));
  CHECK_THAT(rejected({"connect", "h"}), Contains("sockcat connect --help"));
  CHECK_THAT(rejected({"frobnicate"}), Contains("sockcat --help"));
}

TEST_CASE("cli: user text with control bytes cannot split the error line") {
  CHECK_THAT(rejected({"lis\nten", "80"}), Contains("\\x0a"));
  CHECK_THAT(rejected({"listen", "80\n"}), Contains("\\x0a"));
  CHECK_THAT(rejected({"listen", "80", "8\n1"}), Contains("\\x0a"));
  CHECK_THAT(rejected({"listen", "--transform", "up\nper", "80"}), Contains("\\x0a"));
  CHECK_THAT(rejected({"listen", "-p", "8\n0"}), Contains("\\x0a"));
  CHECK_THAT(rejected({"listen", "--port=8\x1b"}), Contains("\\x1b"));
  CHECK_THAT(rejected({"listen", "--transform=up\x1bper", "80"}), Contains("\\x1b"));
  CHECK_THAT(rejected({"listen", "--no-shutdown=y\x1b", "80"}), Contains("\\x1b"));
  CHECK_THAT(rejected({"connect", "-w", "1\x1b[2J", "h", "80"}), Contains("\\x1b"));
  CHECK_THAT(rejected({"connect", "-4", "h", "80\r"}), Contains("\\x0d"));
}

TEST_CASE("cli: a malformed option is named in the error, not the valid port after it") {
  // cxxopts takes "--4" (and "--fr<newline>ob") for positional arguments, so the only check that
  // fires is "too many positionals", which then names the port that was fine.
  SECTION("--4") {
    std::string error = rejected({"listen", "--4", "80"});
    CHECK_THAT(error, Contains("--4"));
    CHECK(error.find("'80'") == std::string::npos);
  }
  SECTION("--fr\\nob") {
    std::string error = rejected({"listen", "--fr\nob", "80"});
    CHECK_THAT(error, Contains("--fr\\x0aob"));
  }
}

TEST_CASE("cli: connect -z takes a port list; lists need -z") {
  CliOutcome ok = parse_command_line({"sockcat", "connect", "-z", "localhost", "22,80,8000-8100"});
  REQUIRE(ok.options.has_value());
  CHECK(ok.options->zero_io);
  CHECK(ok.options->port.text == "22,80,8000-8100");
  REQUIRE(ok.options->port_list.size() == 103);  // parsed once, in order
  CHECK(ok.options->port_list[0] == 22);
  CHECK(ok.options->port_list[1] == 80);
  CHECK(ok.options->port_list[102] == 8100);
  CHECK(accepted({"connect", "-z", "-u", "h", "domain,1"}).port_list == std::vector<std::uint16_t>{53, 1});
  CHECK(parse_command_line({"sockcat", "connect", "--zero-io", "h", "http"}).options.has_value());
  CHECK_THAT(rejected({"connect", "-z", "h", "90-80"}), Contains("out of order"));
  CHECK_THAT(rejected({"connect", "-z", "h", "0"}), Contains("port 0"));
  CHECK_THAT(rejected({"connect", "-z", "h", "1,,2"}), Contains("empty port"));
  CHECK(accepted({"connect", "-z", "-u", "h", "53,1-5"}).udp);
  CHECK(accepted({"connect", "-z", "-u", "-w", "300ms", "h", "53"}).connect_timeout == 300ms);
  CHECK_THAT(rejected({"connect", "-u", "-w", "1s", "h", "53"}), Contains("-w") && Contains("-z"));
  CHECK_THAT(rejected({"connect", "-z", "-i", "1s", "h", "53"}), Contains("-i") && Contains("-z"));
  CHECK_THAT(rejected({"connect", "h", "80,81"}), Contains("needs -z"));
  CHECK_THAT(rejected({"connect", "h", "80-81"}), Contains("needs -z"));
}

TEST_CASE("cli: listen -k, --keep-open") {
  CHECK_FALSE(accepted({"listen", "80"}).keep_open);
  CHECK(accepted({"listen", "-k", "80"}).keep_open);
  CHECK(accepted({"listen", "--keep-open", "-p", "80"}).keep_open);
  CHECK(accepted({"listen", "-kv", "80"}).keep_open);
  CHECK(accepted({"listen", "-kv", "80"}).verbosity == 1);
  Options kept = accepted({"listen", "-k", "--no-shutdown", "80"});
  CHECK(kept.keep_open);
  CHECK_FALSE(kept.half_close);
  // With a replying transform and with -u it is accepted (and changes nothing).
  CHECK(accepted({"listen", "-k", "--transform", "echo", "80"}).keep_open);
  CHECK(accepted({"listen", "--transform", "upper", "--keep-open", "80"}).transform->name == "upper");
  CHECK(accepted({"listen", "-u", "-k", "80"}).udp);
  CHECK_THAT(rejected({"connect", "-k", "h", "80"}), Contains("'-k'") && Contains("listen"));
  CHECK_THAT(rejected({"connect", "--keep-open", "h", "80"}), Contains("listen"));
  CHECK_THAT(rejected({"listen", "--keep-open=yes", "80"}), Contains("'yes'"));
}

TEST_CASE("cli: listen -m, --max-conns") {
  CHECK(accepted({"listen", "80"}).max_conns == 0);
  CHECK(accepted({"listen", "-k", "-m", "2", "80"}).max_conns == 2);
  CHECK(accepted({"listen", "-k", "-m2", "80"}).max_conns == 2);
  CHECK(accepted({"listen", "-k", "--max-conns", "1", "80"}).max_conns == 1);
  CHECK(accepted({"listen", "-k", "--max-conns=1000000", "80"}).max_conns == 1000000);
  CHECK(accepted({"listen", "--transform", "echo", "-m", "10", "80"}).max_conns == 10);
  CHECK(accepted({"listen", "-m", "3", "--transform=upper", "80"}).max_conns == 3);
  // listen none serves one client: -m is harmless there.
  CHECK(accepted({"listen", "-m", "2", "80"}).max_conns == 2);
  CHECK(accepted({"listen", "--transform", "none", "-m", "2", "80"}).max_conns == 2);
  CHECK_THAT(rejected({"listen", "-u", "-k", "-m", "2", "80"}), Contains("-m"));
  // -m 0, as in ncat: every client is closed at once.
  CHECK(accepted({"listen", "-k", "-m", "0", "80"}).refuse_clients);
  CHECK(accepted({"listen", "-m", "0", "80"}).refuse_clients);
  CHECK_FALSE(accepted({"listen", "-k", "-m", "1", "80"}).refuse_clients);
  CHECK_THAT(rejected({"listen", "-k", "-m", "x", "80"}), Contains("'x'"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "", "80"}), Contains("-m"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "2x", "80"}), Contains("'2x'"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "1.5", "80"}), Contains("'1.5'"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "+2", "80"}), Contains("'+2'"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "1000001", "80"}), Contains("'1000001'"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "99999999999999999999", "80"}), Contains("-m"));
  CHECK_THAT(rejected({"listen", "-k", "-m", "-1", "80"}), Contains("-m"));
  CHECK(accepted({"listen", "--transform", "echo", "-m", "0", "80"}).refuse_clients);
  CHECK_THAT(rejected({"listen", "-k", "-m", "1", "-m", "2", "80"}), Contains("more than once"));
  CHECK_THAT(rejected({"listen", "-k", "80", "-m"}), Contains("m"));
  CHECK_THAT(rejected({"connect", "-m", "2", "h", "80"}), Contains("listen"));
}

TEST_CASE("cli: listen -i, --idle-timeout") {
  CHECK(accepted({"listen", "80"}).idle_timeout == 0ms);
  CHECK(accepted({"listen", "-k", "-i", "300ms", "80"}).idle_timeout == 300ms);
  CHECK(accepted({"listen", "-k", "--idle-timeout", "2", "80"}).idle_timeout == 2s);
  CHECK(accepted({"listen", "-k", "--idle-timeout=1.5s", "80"}).idle_timeout == 1500ms);
  CHECK(accepted({"listen", "-k", "-i1m", "80"}).idle_timeout == 60s);
  CHECK(accepted({"listen", "--transform", "upper", "-i", "30s", "80"}).idle_timeout == 30s);
  Options both = accepted({"listen", "--transform", "echo", "-m", "5", "-i", "1s", "80"});
  CHECK(both.max_conns == 5);
  CHECK(both.idle_timeout == 1s);
  CHECK(accepted({"listen", "-i", "1s", "80"}).idle_timeout == 1s);  // one client: the relay's watchdog
  CHECK_THAT(rejected({"listen", "-u", "-k", "-i", "1s", "80"}), Contains("-i"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "0", "80"}), Contains("-i"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "0ms", "80"}), Contains("-i"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "0.0001s", "80"}), Contains("-i"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "abc", "80"}), Contains("'abc'"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "5x", "80"}), Contains("'5x'"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "-1s", "80"}), Contains("-1s"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "99999999h", "80"}), Contains("too long"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "1s", "-i", "2s", "80"}), Contains("more than once"));
  CHECK(accepted({"connect", "-i", "1s", "h", "80"}).idle_timeout == 1s);
  CHECK(accepted({"connect", "-u", "-i", "1s", "h", "80"}).idle_timeout == 1s);
  CHECK(accepted({"connect", "-U", "-i", "1s", "/tmp/s"}).idle_timeout == 1s);
  CHECK(accepted({"connect", "--framing", "line", "-i", "1s", "h", "80"}).idle_timeout == 1s);
}

TEST_CASE("cli: -q, --quit-after on listen and connect") {
  CHECK_FALSE(accepted({"connect", "h", "80"}).quit_after.has_value());
  CHECK_FALSE(accepted({"listen", "80"}).quit_after.has_value());
  Options connect_q = accepted({"connect", "-q", "300ms", "h", "80"});
  REQUIRE(connect_q.quit_after.has_value());
  CHECK(*connect_q.quit_after == 300ms);
  CHECK(accepted({"connect", "--quit-after", "2", "h", "80"}).quit_after == std::optional(2000ms));
  CHECK(accepted({"connect", "--quit-after=1.5s", "h", "80"}).quit_after == std::optional(1500ms));
  CHECK(accepted({"connect", "-q0", "h", "80"}).quit_after == std::optional(0ms));
  CHECK(accepted({"connect", "-q", "0", "h", "80"}).quit_after == std::optional(0ms));
  CHECK(accepted({"connect", "-q", "0ms", "h", "80"}).quit_after == std::optional(0ms));
  Options udp = accepted({"connect", "-u", "-q", "2s", "h", "53"});
  CHECK(udp.udp);
  CHECK(udp.quit_after == std::optional(2000ms));
  CHECK(accepted({"connect", "-q", "1s", "--no-shutdown", "h", "80"}).quit_after == std::optional(1000ms));
  CHECK(accepted({"listen", "-q", "300ms", "80"}).quit_after == std::optional(300ms));
  CHECK(accepted({"listen", "--transform", "none", "-q", "1m", "80"}).quit_after == std::optional(60000ms));
  CHECK_THAT(rejected({"listen", "-k", "-q", "1s", "80"}), Contains("-q") && Contains("-k"));
  CHECK(accepted({"listen", "-u", "-q", "1s", "80"}).quit_after == std::optional(1000ms));
  CHECK_THAT(rejected({"listen", "-u", "--transform", "echo", "-m", "2", "80"}), Contains("-m"));
  CHECK_THAT(rejected({"listen", "-u", "--transform", "echo", "-i", "1s", "80"}), Contains("-i"));
  // A replying server never reads stdin; -z sends nothing.
  CHECK_THAT(rejected({"listen", "--transform", "echo", "-q", "1s", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"listen", "-q", "0", "--transform", "upper", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"listen", "-u", "--transform", "upper", "-q", "1s", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "-z", "-q", "1s", "h", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "-q", "0", "-z", "h", "22,80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "-q", "abc", "h", "80"}), Contains("'abc'"));
  CHECK_THAT(rejected({"connect", "-q", "-2", "h", "80"}), Contains("'-2'"));  // -1 is nc's "never quit"
  CHECK_THAT(rejected({"connect", "-q", "", "h", "80"}), Contains("duration"));
  CHECK_THAT(rejected({"connect", "-q", "99999999h", "h", "80"}), Contains("too long"));
  CHECK_THAT(rejected({"listen", "-q", "1s", "--quit-after", "2s", "80"}), Contains("more than once"));
  CHECK_THAT(rejected({"connect", "h", "80", "-q"}), Contains("q"));
}

TEST_CASE("cli: -U, --unixsock takes PATH or @NAME as the argument") {
  Options listen = accepted({"listen", "-U", "/tmp/s"});
  CHECK(listen.unix_socket);
  CHECK(is_unix_address(listen.unix_address, "/tmp/s"));
  CHECK(listen.port.text.empty());
  Options server = accepted({"listen", "--unixsock", "--transform", "upper", "-k", "-m", "3", "-i", "5s", "@name"});
  CHECK(is_unix_address(server.unix_address, "@name"));
  CHECK(server.max_conns == 3);
  Options datagrams = accepted({"listen", "-U", "-u", "--transform", "echo", "/tmp/d"});
  CHECK(datagrams.udp);
  CHECK(datagrams.unix_socket);

  Options connect = accepted({"connect", "-U", "/tmp/s"});
  CHECK(connect.unix_socket);
  CHECK(is_unix_address(connect.unix_address, "/tmp/s"));
  CHECK(connect.host.empty());
  CHECK(accepted({"connect", "-Uu", "@name"}).udp);
  CHECK(accepted({"connect", "-U", "-w", "2s", "/tmp/s"}).connect_timeout == 2s);
  CHECK(accepted({"connect", "-U", "-z", "/tmp/s"}).zero_io);
  CHECK(accepted({"connect", "-U", "-n", "/tmp/s"}).numeric_only);
  CHECK(accepted({"connect", "-U", "-q", "1s", "--no-shutdown", "/tmp/s"}).quit_after == 1s);
}

TEST_CASE("cli: -U needs one valid PATH and refuses what only IP sockets have") {
  CHECK_THAT(rejected({"listen", "-U"}), Contains("missing PATH"));
  CHECK_THAT(rejected({"connect", "-U"}), Contains("missing PATH"));
  CHECK_THAT(rejected({"connect", "-U", "/tmp/s", "80"}), Contains("unexpected argument '80'"));
  CHECK_THAT(rejected({"listen", "-U", "/tmp/s", "x"}), Contains("unexpected argument 'x'"));
  CHECK_THAT(rejected({"listen", "-U", ""}), Contains("empty"));
  CHECK_THAT(rejected({"connect", "-U", "@"}), Contains("@NAME"));
  std::string too_long = "/tmp/" + std::string(103, 'x');  // 108 bytes
  CHECK_THAT(rejected({"listen", "-U", too_long}), Contains("108 bytes") && Contains("at most 107"));
  CHECK_THAT(rejected({"connect", "-U", "-u", "@" + std::string(108, 'n')}), Contains("at most 107"));
  CHECK(is_unix_address(accepted({"listen", "-U", too_long.substr(1)}).unix_address, too_long.substr(1)));

  CHECK_THAT(rejected({"listen", "-U", "-p", "80"}), Contains("--port") && Contains("-U"));
  CHECK_THAT(rejected({"listen", "-U", "-b", "127.0.0.1", "/tmp/s"}), Contains("--bind"));
  CHECK_THAT(rejected({"listen", "-U", "-4", "/tmp/s"}), Contains("-4"));
  CHECK_THAT(rejected({"connect", "-U", "-6", "/tmp/s"}), Contains("-6"));
  CHECK_THAT(rejected({"connect", "-U", "-s", "127.0.0.1", "/tmp/s"}), Contains("-s") && Contains("-u"));
  CHECK(accepted({"connect", "-U", "-u", "-s", "/tmp/me", "/tmp/s"}).source_address == "/tmp/me");
  CHECK(accepted({"-Uu", "-s", "@me", "/tmp/s"}).source_address == "@me");
  CHECK_THAT(rejected({"connect", "-U", "-u", "-s", "@", "/tmp/s"}), Contains("-s"));
  CHECK_THAT(rejected({"connect", "-U", "-u", "-s", "/tmp/s", "/tmp/s"}), Contains("own"));
  CHECK_THAT(rejected({"connect", "-U", "--source-port", "5", "/tmp/s"}), Contains("--source-port"));
  CHECK_THAT(rejected({"connect", "-U", "-u", "-z", "/tmp/s"}), Contains("-z"));
  CHECK_THAT(rejected({"connect", "-U", "-z", "-q", "1s", "/tmp/s"}), Contains("-z"));
  CHECK_THAT(rejected({"connect", "-U", "-u", "-w", "1s", "/tmp/s"}), Contains("-w"));
  CHECK_THAT(rejected({"listen", "-U", "-u", "--no-shutdown", "/tmp/s"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"listen", "-U", "-u", "-m", "2", "--transform", "echo", "/tmp/s"}), Contains("-m"));
}

TEST_CASE("cli: -n, --nodns: hosts and ports must be numeric") {
  Options connect = accepted({"connect", "-n", "127.0.0.1", "80"});
  CHECK(connect.numeric_only);
  CHECK_FALSE(accepted({"connect", "127.0.0.1", "80"}).numeric_only);
  accepted({"connect", "--nodns", "::1", "80"});
  accepted({"connect", "-n", "-z", "127.0.0.1", "22,80,8000-8100"});
  accepted({"connect", "-n", "-s", "127.0.0.1", "--source-port", "4000", "127.0.0.1", "80"});
  accepted({"listen", "-n", "-b", "::1", "-p", "0"});
  accepted({"listen", "-n", "80"});

  CHECK_THAT(rejected({"connect", "-n", "localhost", "80"}), Contains("'localhost'") && Contains("-n"));
  CHECK_THAT(rejected({"connect", "-n", "a..b", "80"}), Contains("'a..b'"));
  CHECK_THAT(rejected({"connect", "-n", "127.0.0.1", "http"}), Contains("'http'") && Contains("-n"));
  CHECK_THAT(rejected({"connect", "-n", "-z", "127.0.0.1", "22,http"}), Contains("'22,http'"));
  CHECK_THAT(rejected({"connect", "-n", "-s", "localhost", "127.0.0.1", "80"}), Contains("-s") && Contains("'localhost'"));
  CHECK_THAT(rejected({"connect", "-n", "--source-port", "http", "127.0.0.1", "80"}), Contains("'http'"));
  CHECK_THAT(rejected({"listen", "-n", "-b", "localhost", "80"}), Contains("-b") && Contains("'localhost'"));
  CHECK_THAT(rejected({"listen", "-n", "http"}), Contains("'http'"));
  CHECK_THAT(rejected({"listen", "-n", "-u", "-p", "domain"}), Contains("'domain'"));
}

// nc_to_subcommand_argv with "sockcat" as argv[0]; the result without argv[0].
std::vector<std::string> nc_rewrite(std::initializer_list<std::string> args) {
  std::vector<std::string> argv{"sockcat"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> out = nc_to_subcommand_argv(argv);
  REQUIRE(out.size() >= 2);
  CHECK(out[0] == "sockcat");
  return {out.begin() + 1, out.end()};
}

using Words = std::vector<std::string>;

TEST_CASE("nc argv: -l anywhere, alone or in a bundle, means listen and is dropped") {
  CHECK(nc_rewrite({"-l", "8080"}) == Words{"listen", "8080"});
  CHECK(nc_rewrite({"-l", "-p", "8080"}) == Words{"listen", "-p", "8080"});
  CHECK(nc_rewrite({"-lp", "8080"}) == Words{"listen", "-p", "8080"});
  CHECK(nc_rewrite({"-lp8080"}) == Words{"listen", "-p8080"});
  CHECK(nc_rewrite({"-lvp", "80"}) == Words{"listen", "-v", "-p", "80"});
  CHECK(nc_rewrite({"-lkv", "80"}) == Words{"listen", "-kv", "80"});
  CHECK(nc_rewrite({"-vlp", "80"}) == Words{"listen", "-v", "-p", "80"});
  CHECK(nc_rewrite({"-ul", "0"}) == Words{"listen", "-u", "0"});
  CHECK(nc_rewrite({"-v", "80", "--listen"}) == Words{"listen", "-v", "80"});
  CHECK(nc_rewrite({"80", "-k", "-l"}) == Words{"listen", "80", "-k"});
}

TEST_CASE("nc argv: OpenBSD nc's -N (half-close at EOF) is accepted and dropped: sockcat always does it") {
  CHECK(nc_rewrite({"-N", "127.0.0.1", "80"}) == Words{"connect", "127.0.0.1", "80"});
  CHECK(nc_rewrite({"-vN", "127.0.0.1", "80"}) == Words{"connect", "-v", "127.0.0.1", "80"});
  CHECK(nc_rewrite({"-lN", "127.0.0.1", "80"}) == Words{"listen", "--bind", "127.0.0.1", "80"});
}

TEST_CASE("nc argv: options the rewrite does not know pass through untouched") {
  // -U (a flag) and the like land in other branches; the rewrite must not need to know them.
  CHECK(nc_rewrite({"-lU", "/tmp/s"}) == Words{"listen", "-U", "/tmp/s"});
  CHECK(nc_rewrite({"-lnC", "-e", "/bin/cat", "80"}) == Words{"listen", "-nC", "-e", "/bin/cat", "80"});
  CHECK(nc_rewrite({"--frob", "h", "80"}) == Words{"connect", "--frob", "h", "80"});
  CHECK(nc_rewrite({"-l", "--transform", "upper", "-m", "3", "0"}) ==
        Words{"listen", "--transform", "upper", "-m", "3", "0"});
}

TEST_CASE("nc argv: without -l it connects, and -p is the source port") {
  CHECK(nc_rewrite({"h", "80"}) == Words{"connect", "h", "80"});
  CHECK(nc_rewrite({"-v", "-p", "5555", "h", "80"}) == Words{"connect", "-v", "--source-port", "5555", "h", "80"});
  CHECK(nc_rewrite({"-vp5555", "h", "80"}) == Words{"connect", "-v", "--source-port=5555", "h", "80"});
  CHECK(nc_rewrite({"-zv", "h", "20-30"}) == Words{"connect", "-zv", "h", "20-30"});
  CHECK(nc_rewrite({"-s", "10.0.0.1", "h", "80"}) == Words{"connect", "-s", "10.0.0.1", "h", "80"});
}

TEST_CASE("nc argv: values of options are never read as options") {
  // -w takes a value, so the "l" in "-wl" and the "-l" after "-w" are its values, not listen.
  CHECK(nc_rewrite({"-wl", "h", "80"}) == Words{"connect", "-wl", "h", "80"});
  CHECK(nc_rewrite({"-w", "-l", "h", "80"}) == Words{"connect", "-w", "-l", "h", "80"});
  CHECK(nc_rewrite({"--transform", "-l", "80"}) == Words{"connect", "--transform", "-l", "80"});
  CHECK(nc_rewrite({"--", "-l", "80"}) == Words{"connect", "--", "-l", "80"});
}

TEST_CASE("nc argv: -l ADDR PORT and -s ADDR bind the listener") {
  CHECK(nc_rewrite({"-l", "127.0.0.1", "80"}) == Words{"listen", "--bind", "127.0.0.1", "80"});
  CHECK(nc_rewrite({"-l", "-s", "127.0.0.1", "-p", "80"}) == Words{"listen", "--bind", "127.0.0.1", "-p", "80"});
  CHECK(nc_rewrite({"-lvs127.0.0.1", "80"}) == Words{"listen", "-v", "--bind=127.0.0.1", "80"});
}

TEST_CASE("cli: nc-style command lines parse like the subcommand form") {
  for (const Options& o : {accepted({"-l", "8080"}), accepted({"-l", "-p", "8080"}), accepted({"-lp", "8080"}),
                           accepted({"-lp8080"}), accepted({"--listen", "8080"})}) {
    CHECK(o.role == Role::listen);
    CHECK(o.port.text == "8080");
  }
  Options listen = accepted({"-lkv", "-m", "2", "-i", "1s", "127.0.0.1", "0"});
  CHECK(listen.keep_open);
  CHECK(listen.verbosity == 1);
  CHECK(listen.bind_address == "127.0.0.1");
  CHECK(listen.max_conns == 2);
  CHECK(accepted({"-lu", "0"}).udp);
  Options connect = accepted({"-v", "-p", "5555", "-w", "2s", "127.0.0.1", "80"});
  CHECK(connect.role == Role::connect);
  CHECK(connect.host == "127.0.0.1");
  CHECK(connect.port.text == "80");
  CHECK(connect.source_port.text == "5555");
  CHECK(connect.connect_timeout == 2000ms);
  Options check = accepted({"-zv", "127.0.0.1", "22,80"});
  CHECK(check.zero_io);
  CHECK(accepted({"-u", "h", "53"}).udp);
  CHECK(accepted({"-s", "127.0.0.1", "h", "80"}).source_address == "127.0.0.1");
  // Options only the subcommand form knows work in nc form too.
  CHECK(accepted({"-l", "--transform", "upper", "0"}).transform->name == "upper");
  CHECK(accepted({"--no-shutdown", "h", "80"}).half_close == false);
}

TEST_CASE("cli: the nc form's -w also ends an idle relay, as OpenBSD nc's does") {
  Options nc = accepted({"-w", "2s", "127.0.0.1", "80"});
  CHECK(nc.connect_timeout == 2s);
  CHECK(nc.idle_timeout == 2s);
  CHECK(accepted({"-w", "2s", "-i", "5s", "127.0.0.1", "80"}).idle_timeout == 5s);  // -i says otherwise
  CHECK(accepted({"-u", "-w", "1", "127.0.0.1", "80"}).idle_timeout == 1s);
  CHECK(accepted({"-U", "-w", "1", "/tmp/s"}).idle_timeout == 1s);
  // Where no session of sockcat's runs, -w stays the connect bound only.
  CHECK(accepted({"-z", "-w", "1", "127.0.0.1", "80"}).idle_timeout == 0ms);
  CHECK(accepted({"-w", "1", "-e", "cat", "127.0.0.1", "80"}).idle_timeout == 0ms);
  CHECK(accepted({"-w", "1", "--framing", "line", "127.0.0.1", "80"}).idle_timeout == 1s);  // a framed client is watched too
  // The subcommand form keeps -w for the connect alone.
  Options sub = accepted({"connect", "-w", "2s", "127.0.0.1", "80"});
  CHECK(sub.connect_timeout == 2s);
  CHECK(sub.idle_timeout == 0ms);
}

TEST_CASE("cli: nc-style usage errors point at sockcat --help") {
  CHECK_THAT(rejected({"-lU"}), Contains("missing PATH") && Contains("'sockcat --help'"));
  CHECK_THAT(rejected({"-v", "h"}), Contains("missing PORT") && Contains("'sockcat --help'"));
  CHECK_THAT(rejected({"-k", "h", "80"}), Contains("-k") && Contains("'sockcat --help'"));
  CHECK_THAT(rejected({"-lz", "80"}), Contains("-z"));
  CHECK_THAT(rejected({"-l", "-p", "80", "81"}), Contains("port given twice"));
  CHECK_THAT(rejected({"-l", "70000"}), Contains("'70000'"));
  CHECK_THAT(rejected({"-l", "-s", "127.0.0.1", "127.0.0.2", "80"}), Contains("more than once"));
  CHECK_THAT(rejected({"--bogus", "h", "80"}), Contains("--bogus"));
}

TEST_CASE("cli: --broker, --chat and --send-file") {
  Options broker = accepted({"listen", "--broker", "0"});
  CHECK(broker.broker);
  CHECK_FALSE(broker.chat);
  CHECK(broker.keep_open);  // --broker implies -k
  Options chat = accepted({"listen", "--chat", "-m", "5", "-i", "1m", "0"});
  CHECK(chat.chat);
  CHECK(chat.broker);
  CHECK(chat.max_conns == 5);
  CHECK(accepted({"-l", "--chat", "0"}).chat);
  Options file = accepted({"listen", "--send-file", "/etc/hostname", "0"});
  CHECK(file.send_file == "/etc/hostname");
  CHECK_FALSE(file.keep_open);
  CHECK(accepted({"listen", "-k", "--send-file=f", "-m", "3", "0"}).keep_open);
  CHECK(accepted({"listen", "--send-file", "f", "-m", "3", "0"}).max_conns == 3);  // one client: harmless
  CHECK_THAT(rejected({"listen", "--send-file", "", "0"}), Contains("--send-file"));
  CHECK_THAT(rejected({"listen", "--send-file", "f", "--send-file", "g", "0"}), Contains("more than once"));
  for (const char* mode : {"--broker", "--chat"}) {
    CHECK_THAT(rejected({"listen", mode, "-u", "0"}), Contains(mode) && Contains("-u"));
    CHECK_THAT(rejected({"listen", mode, "--transform", "echo", "0"}), Contains(mode) && Contains("'echo'"));
    CHECK_THAT(rejected({"listen", mode, "--no-shutdown", "0"}), Contains("--no-shutdown"));
    CHECK_THAT(rejected({"listen", mode, "-q", "1s", "0"}), Contains("-q"));
    CHECK_THAT(rejected({"listen", mode, "--send-file", "f", "0"}), Contains("--send-file") && Contains(mode));
    CHECK_THAT(rejected({"connect", mode, "h", "80"}), Contains(mode) && Contains("listen"));
  }
  CHECK_THAT(rejected({"listen", "--send-file", "f", "-u", "0"}), Contains("-u"));
  CHECK_THAT(rejected({"listen", "--send-file", "f", "--transform", "upper", "0"}), Contains("'upper'"));
  CHECK(accepted({"listen", "--send-file", "f", "--transform", "none", "0"}).send_file == "f");
  CHECK_THAT(rejected({"listen", "--send-file", "f", "--no-shutdown", "0"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"connect", "--send-file", "f", "h", "80"}), Contains("listen"));
  CHECK_THAT(rejected({"listen", "--broker", "--framing", "line", "0"}), Contains("--framing"));
}

TEST_CASE("cli: the broker takes --send-only and --recv-only, not the other connection options") {
  for (const char* mode : {"--broker", "--chat"}) {
    INFO(mode);
    CHECK(accepted({"listen", mode, "--send-only", "0"}).send_only);
    CHECK(accepted({"listen", mode, "--recv-only", "-m", "3", "0"}).recv_only);
    CHECK(accepted({"-lk", mode, "--send-only", "0"}).send_only);
    CHECK_THAT(rejected({"listen", mode, "--send-only", "--recv-only", "0"}), Contains("exclude each other"));
    CHECK_THAT(rejected({"listen", mode, "--send-only", "-C", "0"}), Contains("--crlf") && Contains(mode));
    CHECK_THAT(rejected({"listen", mode, "-d", "1s", "--recv-only", "0"}), Contains("--delay") && Contains(mode));
    CHECK(accepted({"listen", mode, "--stats", "--recv-only", "0"}).stats);  // the logs apply in every mode
    CHECK_THAT(rejected({"listen", mode, "-q", "1s", "0"}), Contains("-q") && Contains("stdin's end"));
  }
  CHECK_THAT(rejected({"listen", "--send-file", "f", "--send-only", "0"}), Contains("--send-file"));
  CHECK_THAT(rejected({"listen", "-k", "--send-only", "0"}), Contains("-k"));
}

TEST_CASE("cli: --framing and --max-message") {
  CHECK(accepted({"listen", "-p", "1", "--transform", "echo"}).framing->name == "raw");
  CHECK(accepted({"listen", "-p", "1", "--transform", "echo"}).max_message == default_max_message);
  Options line = accepted({"listen", "-p", "1", "--transform", "reverse", "--framing", "line"});
  CHECK(line.framing->name == "line");
  CHECK(accepted({"listen", "-p", "1", "--transform", "upper", "--framing=length", "--max-message", "4K"}).max_message ==
        4096);
  CHECK(accepted({"connect", "--framing", "line", "--max-message", "10", "h", "1"}).max_message == 10);
  CHECK(accepted({"connect", "--framing", "length", "h", "1"}).framing->name == "length");
  CHECK(accepted({"connect", "-u", "--framing", "line", "h", "1"}).framing->name == "line");
  CHECK(accepted({"listen", "-u", "-p", "1", "--transform", "reverse"}).transform->name == "reverse");
  CHECK(accepted({"listen", "-p", "1", "--transform", "echo", "--framing", "line", "-k", "-m", "5"}).max_conns == 5);

  CHECK_THAT(rejected({"listen", "-p", "1", "--transform", "reverse"}), Contains("whole messages"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--transform", "reverse", "--framing", "raw"}), Contains("--framing line"));
  CHECK_THAT(rejected({"listen", "-p", "1", "--framing", "line"}), Contains("replying transform"));
  CHECK_THAT(rejected({"listen", "-p", "1", "-k", "--framing", "line"}), Contains("replying transform"));
  CHECK_THAT(rejected({"listen", "-u", "-p", "1", "--transform", "echo", "--framing", "line"}), Contains("UDP"));
  CHECK_THAT(rejected({"connect", "-u", "--framing", "length", "h", "1"}), Contains("UDP"));
  CHECK_THAT(rejected({"connect", "-u", "--framing", "line", "--max-message", "9", "h", "1"}), Contains("-u"));
  CHECK_THAT(rejected({"connect", "-z", "--framing", "line", "h", "1"}), Contains("-z"));
  CHECK_THAT(rejected({"connect", "--framing", "lines", "h", "1"}), Contains("did you mean 'line'"));
  CHECK_THAT(rejected({"connect", "--max-message", "10", "h", "1"}), Contains("--framing line or length"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "--max-message", "0", "h", "1"}), Contains("at least 1"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "--max-message", "1.5K", "h", "1"}), Contains("not a number"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "--max-message", "2G", "h", "1"}), Contains("over the limit"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "--framing", "line", "h", "1"}), Contains("more than once"));
}

TEST_CASE("cli: -U with access lists, -e and --framing") {
  CHECK_THAT(rejected({"listen", "-U", "--allow", "127.0.0.1", "/tmp/s"}), Contains("--allow"));
  CHECK_THAT(rejected({"listen", "-U", "--denyfile", "/etc/hosts", "/tmp/s"}), Contains("--denyfile"));
  CHECK(accepted({"listen", "-U", "-k", "-e", "/bin/cat", "/tmp/s"}).command.size() == 1);
  CHECK(accepted({"listen", "-U", "--framing", "line", "--transform", "upper", "@n"}).framing->name == "line");
}
