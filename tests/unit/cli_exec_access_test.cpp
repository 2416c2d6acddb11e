// cli.hpp: -e/--exec, -c/--sh-exec and the access-control options (--allow, --deny,
// --allowfile, --denyfile), with every conflict they have.
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_checks.hpp"
#include "exit_status.hpp"

using namespace sockcat;
using Catch::Matchers::Contains;

using namespace sockcat::test;

namespace {

using Words = std::vector<std::string>;

}  // namespace

TEST_CASE("cli: -e splits its one argument on blanks, with no shell and no quoting") {
  CHECK(accepted({"listen", "80"}).command.empty());
  CHECK(accepted({"listen", "-e", "/bin/cat", "80"}).command == Words{"/bin/cat"});
  CHECK(accepted({"listen", "-e", "/bin/cat -n", "80"}).command == Words{"/bin/cat", "-n"});
  CHECK(accepted({"listen", "--exec", "  tr\ta-z  A-Z ", "80"}).command == Words{"tr", "a-z", "A-Z"});
  CHECK(accepted({"listen", "--exec='echo' \"x y\"", "80"}).command == Words{"'echo'", "\"x", "y\""});
  CHECK(accepted({"connect", "-e", "cat", "h", "80"}).command == Words{"cat"});
  CHECK(accepted({"listen", "-k", "-m", "2", "-e", "cat", "80"}).max_conns == 2);
  CHECK_THAT(rejected({"listen", "-e", "", "80"}), Contains("-e needs a program"));
  CHECK_THAT(rejected({"listen", "-e", " \t ", "80"}), Contains("-e needs a program"));
  CHECK_THAT(rejected({"listen", "-e", "cat", "-e", "cat", "80"}), Contains("more than once"));
  CHECK_THAT(rejected({"listen", "80", "-e"}), Contains("e"));
}

TEST_CASE("cli: -c runs its command through /bin/sh -c") {
  CHECK(accepted({"listen", "-c", "tr a-z A-Z | sort", "80"}).command == Words{"/bin/sh", "-c", "tr a-z A-Z | sort"});
  CHECK(accepted({"connect", "--sh-exec", "echo hi", "h", "80"}).command == Words{"/bin/sh", "-c", "echo hi"});
  CHECK_THAT(rejected({"listen", "-c", "", "80"}), Contains("-c needs a command"));
  CHECK_THAT(rejected({"listen", "-c", "x", "--sh-exec", "y", "80"}), Contains("more than once"));
}

TEST_CASE("cli: -e and -c conflicts") {
  CHECK_THAT(rejected({"listen", "-e", "cat", "-c", "cat", "80"}), Contains("-e and -c exclude each other"));
  CHECK_THAT(rejected({"listen", "--transform", "upper", "-e", "cat", "80"}), Contains("--transform upper"));
  CHECK(accepted({"listen", "--transform", "none", "-e", "cat", "80"}).command == Words{"cat"});
  CHECK_THAT(rejected({"listen", "-q", "1s", "-e", "cat", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "--no-shutdown", "-c", "cat", "h", "80"}), Contains("--no-shutdown"));
  CHECK_THAT(rejected({"listen", "-k", "-i", "1s", "-e", "cat", "80"}), Contains("-i"));
  CHECK_THAT(rejected({"connect", "-z", "-e", "cat", "h", "80"}), Contains("-z"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "-e", "cat", "h", "80"}), Contains("--framing"));
  CHECK_THAT(rejected({"listen", "--framing", "line", "-e", "cat", "80"}), Contains("--framing"));
  CHECK(accepted({"listen", "-m", "2", "-e", "cat", "80"}).max_conns == 2);  // one client anyway: harmless
}

TEST_CASE("cli: -e/-c with -u run a program per sender; -C converts what the program sends") {
  CHECK(accepted({"listen", "-u", "-e", "cat", "80"}).command == Words{"cat"});
  CHECK(accepted({"connect", "-u", "-c", "cat", "h", "80"}).command == Words{"/bin/sh", "-c", "cat"});
  Options many = accepted({"listen", "-u", "-k", "-m", "2", "-i", "1s", "--deny", "10.0.0.0/8", "-e", "cat", "80"});
  CHECK(many.keep_open);
  CHECK(many.max_conns == 2);
  CHECK(many.idle_timeout == std::chrono::milliseconds(1000));
  CHECK(accepted({"listen", "-u", "-i", "1s", "-e", "cat", "80"}).idle_timeout == std::chrono::milliseconds(1000));
  CHECK(accepted({"listen", "-u", "-m", "2", "-e", "cat", "80"}).max_conns == 2);  // one sender anyway without -k
  CHECK_THAT(rejected({"listen", "-u", "-k", "-m", "2", "80"}), Contains("-m"));
  CHECK_THAT(rejected({"listen", "-u", "-q", "1s", "-e", "cat", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"listen", "-u", "--transform", "echo", "-e", "cat", "80"}), Contains("--transform"));
  CHECK(accepted({"listen", "-C", "-c", "cat", "80"}).crlf);
  CHECK(accepted({"listen", "-k", "-C", "-e", "cat", "80"}).crlf);
  CHECK(accepted({"listen", "-u", "-k", "-C", "-e", "cat", "80"}).crlf);
  CHECK(accepted({"connect", "-u", "-C", "-e", "cat", "h", "80"}).crlf);
  CHECK_THAT(rejected({"listen", "-C", "--send-only", "-e", "cat", "80"}), Contains("--send-only") && Contains("-e/-c"));
  CHECK_THAT(rejected({"connect", "-d", "1s", "-e", "cat", "h", "80"}), Contains("--delay") && Contains("-e/-c"));
}

TEST_CASE("cli: listen -u takes -C, --send-only and --recv-only") {
  CHECK(accepted({"listen", "-u", "-C", "80"}).crlf);
  CHECK(accepted({"listen", "-u", "--send-only", "80"}).send_only);
  CHECK(accepted({"listen", "-u", "--recv-only", "80"}).recv_only);
  CHECK_THAT(rejected({"listen", "-u", "--recv-only", "-C", "80"}), Contains("--recv-only"));
  CHECK_THAT(rejected({"listen", "-u", "--recv-only", "-q", "1s", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"listen", "-u", "-d", "1s", "80"}), Contains("--delay") && Contains("listen -u"));
  CHECK_THAT(rejected({"listen", "-u", "-k", "-C", "80"}), Contains("-k"));
  CHECK_THAT(rejected({"listen", "-u", "--transform", "echo", "-C", "80"}), Contains("replying"));
}

TEST_CASE("cli: --allow and --deny take comma-separated addresses, ranges and names, repeatably") {
  Options none = accepted({"listen", "80"});
  CHECK(none.allow.empty());
  CHECK(none.deny.empty());
  Options both = accepted({"listen", "--allow", "127.0.0.1,::1", "--allow=10.0.0.0/8", "--deny", "10.0.0.7", "80"});
  CHECK(both.allow == Words{"127.0.0.1,::1", "10.0.0.0/8"});
  CHECK(both.deny == Words{"10.0.0.7"});
  CHECK(accepted({"listen", "-u", "--deny", "::/0", "80"}).deny == Words{"::/0"});
  CHECK(accepted({"listen", "--transform", "echo", "--allow", "0.0.0.0/0", "80"}).allow.size() == 1);
  // Host names and nmap-style ranges are checked as written; names are resolved at start-up.
  CHECK(accepted({"listen", "--allow", "localhost,10.0.0-3.*", "--deny", "lab.example/24", "80"}).allow ==
        Words{"localhost,10.0.0-3.*"});
  CHECK_THAT(rejected({"listen", "-n", "--allow", "127.0.0.1,localhost", "80"}),
             Contains("--allow") && Contains("'localhost'") && Contains("-n"));
  CHECK_THAT(rejected({"listen", "-n", "--deny", "lab.example", "80"}), Contains("--deny") && Contains("-n"));
  CHECK(accepted({"listen", "-n", "--allow", "127.0.0.1,10.*.*.*", "80"}).allow.size() == 1);
  CHECK_THAT(rejected({"listen", "--allow", "not a name", "80"}), Contains("--allow") && Contains("'not a name'"));
  CHECK_THAT(rejected({"listen", "--allow", "10.0.0.1-300", "80"}), Contains("'10.0.0.1-300'"));
  CHECK_THAT(rejected({"listen", "--deny", "10.0.0.0/33", "80"}), Contains("--deny") && Contains("'10.0.0.0/33'"));
  CHECK_THAT(rejected({"listen", "--allow", "::1/200", "80"}), Contains("'::1/200'"));
  CHECK_THAT(rejected({"listen", "--allow", "127.0.0.1,", "80"}), Contains("empty"));
  CHECK_THAT(rejected({"listen", "--allow", "", "80"}), Contains("empty"));
  CHECK_THAT(rejected({"listen", "--allow", "garbage/129", "80"}), Contains("'garbage/129'"));
  CHECK_THAT(rejected({"connect", "--allow", "127.0.0.1", "h", "80"}), Contains("listen"));
  CHECK_THAT(rejected({"connect", "--deny", "127.0.0.1", "h", "80"}), Contains("listen"));
}

TEST_CASE("cli: --allowfile and --denyfile keep their paths for start-up") {
  Options files = accepted({"listen", "--allowfile", "/a", "--allowfile", "/b", "--denyfile=/c", "80"});
  CHECK(files.allow_files == Words{"/a", "/b"});
  CHECK(files.deny_files == Words{"/c"});
  CHECK_THAT(rejected({"listen", "--allowfile", "", "80"}), Contains("--allowfile"));
  CHECK_THAT(rejected({"connect", "--denyfile", "/c", "h", "80"}), Contains("listen"));
}
