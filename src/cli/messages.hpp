// The usage errors of the command line that need more than one rule's knowledge: how cxxopts'
// failures are told (unknown or malformed options, missing values), typed values named by
// their option, and the hint when an option swallowed the argument meant as HOST or PORT.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "cli/cxxopts_config.hpp"
#include "cli/problem.hpp"
#include "cli/subcommands.hpp"

namespace sockcat::cli {

// A usage error (exit_usage): `message` made printable, with plain quotes for cxxopts' curly
// ones, and pointing at 'sockcat SUBCOMMAND --help' ('sockcat --help' when `subcommand` is "").
CliOutcome usage_error(std::string message, std::string_view subcommand);

// An outcome that prints `text` on stdout and exits 0 (help, version, transform list).
CliOutcome print(std::string text);

// Explains an argument cxxopts could not match: a malformed spelling of one of this
// subcommand's options, an option of the other subcommand, or an unknown one.
std::string unknown_option_message(const std::string& option, const Subcommand& here);

// The error for an option given as the last word with no value: "-p needs a PORT".
std::string missing_value_message(const Subcommand& sub, const std::vector<std::string>& args, bool nc_form);

// Refuses a flag given a value (`--udp=x`), which cxxopts would parse as a boolean.
Problem check_flag_values(const Subcommand& sub, const std::vector<std::string>& args);

// Checks the value of every option that has a type (durations, ports) and names the option
// when one fails, since the word may have been meant as HOST or PORT: `-d 127.0.0.1 8080`.
Problem check_typed_values(const Subcommand& sub, const cxxopts::ParseResult& parsed, bool udp, bool nc_form);

// When HOST, PORT or PATH is missing: names the option that took the last word given to an
// option as its value, "; -s took '127.0.0.1' as its value", or "" when none did.
std::string swallowed_hint(const std::vector<std::string>& args, Role role, bool nc_form);

}  // namespace sockcat::cli
