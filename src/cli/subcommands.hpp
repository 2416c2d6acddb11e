// The subcommands (listen, connect) and the options each declares to cxxopts: the one place an
// option is named, described and given a value type. Help texts are generated from here.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cxxopts_config.hpp"
#include "options.hpp"

namespace sockcat::cli {

// -q's value for "never quit after stdin ends" in OpenBSD nc: wait for the peer, the default.
inline constexpr std::string_view nc_never_quit = "-1";

// One row of the subcommand table.
struct Subcommand {
  std::string_view name;
  std::string_view summary;     // one line for `sockcat --help`
  std::string_view positional;  // positional arguments, for the usage line
  Role role;
  void (*declare)(cxxopts::Options& spec);  // adds the subcommand's own options
};

// The subcommands, in the order --help lists them.
std::span<const Subcommand> subcommands();

// Returns the subcommand called `name`, or nullptr.
const Subcommand* find_subcommand(std::string_view name);

// Builds the cxxopts parser of one subcommand: the options every subcommand takes, and its own.
cxxopts::Options make_spec(const Subcommand& sub);

// Returns how subcommand `sub` declares the option spelled `name` ("-p", "--port"), if it does.
std::optional<cxxopts::HelpOptionDetails> declaration(const Subcommand& sub, const std::string& name);

// Tells whether subcommand `sub` declares the option spelled `name` ("-p", "--port").
bool declares(const Subcommand& sub, const std::string& name);

// The option spellings ("-p", "--port") of every subcommand, read from the subcommands' own
// declarations so that options added there are known to the nc-style rewrite too.
struct KnownOptions {
  std::vector<std::string> valued;  // those that take a value
  std::vector<std::string> flags;   // those that do not (with nc's -l, --listen and -N)
};

// Collects KnownOptions from every subcommand's declarations.
KnownOptions known_options();

// The text of `sockcat --help`.
std::string top_level_help();

}  // namespace sockcat::cli
