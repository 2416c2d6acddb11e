// The command line: argv in, Options (or text to print and a status to exit with) out.
// The only user of cxxopts. Every flag conflict is checked here, before any I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

namespace sockcat {

// What parsing decided: run with `options`, or print `output`/`error` and exit with `status`.
struct CliOutcome {
  std::optional<Options> options;  // set when the program should go on and run
  std::string output;              // text for stdout (help, version, transform list)
  std::string error;               // one line for stderr, without the "sockcat: " prefix
  int status = 0;                  // exit status when options is empty
};

// Parses a whole argv (argv[0] is the program name). Never throws; never exits.
CliOutcome parse_command_line(const std::vector<std::string>& argv);

// Rewrites an nc-style argv (argv[0], then options and arguments without a subcommand) into
// the subcommand form: {argv[0], "listen" or "connect", ...}. -l/--listen anywhere, also in a
// bundle (-lvp), means listen and is dropped; -p becomes --source-port and -s stays when
// connecting, -s becomes --bind when listening, and `-l ADDR PORT` binds ADDR. Every other
// argument passes through untouched. Never fails: the subcommand's parser judges the result.
std::vector<std::string> nc_to_subcommand_argv(const std::vector<std::string>& argv);

// The subcommand names, for "did you mean" and the completions.
std::vector<std::string_view> subcommand_names();

}  // namespace sockcat
