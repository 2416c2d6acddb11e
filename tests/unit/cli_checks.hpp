// Helpers the command-line tests share: run parse_command_line on an argv and check the outcome
// is a parse or a well-formed usage error.
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "cli.hpp"
#include "exit_status.hpp"
#include "unix_endpoint.hpp"

namespace sockcat::test {

// parse_command_line with "sockcat" as argv[0].
inline CliOutcome parse_args(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"sockcat"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(argv);
}

// The arguments as one line, for failure messages.
inline std::string joined(const std::vector<std::string>& args) {
  std::string text;
  for (const std::string& a : args) text += (text.empty() ? "" : " ") + a;
  return text;
}

// Tells whether `address` is the one `text` (a valid PATH or @NAME) parses to: the same bytes
// of the same length.
inline bool is_unix_address(const UnixAddress& address, const std::string& text) {
  UnixAddress expected = std::get<UnixAddress>(parse_unix_address(text));
  return address.length == expected.length && address.abstract == expected.abstract &&
         std::memcmp(&address.address, &expected.address, expected.length) == 0;
}

// The options of a command line that must parse; fails the test with the error otherwise.
inline Options accepted(const std::vector<std::string>& args) {
  INFO("argv: sockcat " << joined(args));
  CliOutcome outcome;
  REQUIRE_NOTHROW(outcome = parse_args(args));
  INFO("error: " << outcome.error);
  REQUIRE(outcome.options.has_value());
  CHECK(outcome.error.empty());
  CHECK(outcome.output.empty());
  return *outcome.options;
}

// The error line of a command line that must be a usage error (status 2, nothing to run):
// one line, pointing at --help, without the "sockcat: " prefix main() adds.
inline std::string rejected(const std::vector<std::string>& args) {
  INFO("argv: sockcat " << joined(args));
  CliOutcome outcome;
  REQUIRE_NOTHROW(outcome = parse_args(args));
  CHECK_FALSE(outcome.options.has_value());
  CHECK(outcome.status == exit_usage);
  CHECK(outcome.status == 2);
  CHECK(outcome.output.empty());
  INFO("error: " << outcome.error);
  CHECK_FALSE(outcome.error.empty());
  CHECK_THAT(outcome.error, Catch::Matchers::Contains("--help"));
  CHECK(outcome.error.find('\n') == std::string::npos);
  CHECK(outcome.error.rfind("sockcat: ", 0) != 0);
  return outcome.error;
}

}  // namespace sockcat::test
