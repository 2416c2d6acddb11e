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
  CHECK_THAT(rejected({"listen", "-u", "-e", "cat", "80"}), Contains("-e") && Contains("UDP"));
  CHECK_THAT(rejected({"connect", "-u", "-c", "cat", "h", "80"}), Contains("-c") && Contains("UDP"));
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

TEST_CASE("cli: --allow and --deny take comma-separated addresses and ranges, repeatably") {
  Options none = accepted({"listen", "80"});
  CHECK(none.allow.empty());
  CHECK(none.deny.empty());
  Options both = accepted({"listen", "--allow", "127.0.0.1,::1", "--allow=10.0.0.0/8", "--deny", "10.0.0.7", "80"});
  CHECK(both.allow == Words{"127.0.0.1,::1", "10.0.0.0/8"});
  CHECK(both.deny == Words{"10.0.0.7"});
  CHECK(accepted({"listen", "-u", "--deny", "::/0", "80"}).deny == Words{"::/0"});
  CHECK(accepted({"listen", "--transform", "echo", "--allow", "0.0.0.0/0", "80"}).allow.size() == 1);
  CHECK_THAT(rejected({"listen", "--allow", "localhost", "80"}),
             Contains("--allow") && Contains("'localhost'") && Contains("host names"));
  CHECK_THAT(rejected({"listen", "--deny", "10.0.0.0/33", "80"}), Contains("--deny") && Contains("'10.0.0.0/33'"));
  CHECK_THAT(rejected({"listen", "--allow", "::1/200", "80"}), Contains("'::1/200'"));
  CHECK_THAT(rejected({"listen", "--allow", "127.0.0.1,", "80"}), Contains("empty"));
  CHECK_THAT(rejected({"listen", "--allow", "", "80"}), Contains("empty"));
  CHECK_THAT(rejected({"listen", "--allow", "garbage/8", "80"}), Contains("'garbage/8'"));
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
