// The checks that turn a parsed command line into Options: one ordered table of named rules
// (rules.cpp), run one after the other until the first finds a problem. Each rule reads the
// options it owns into Options, resolved (rows, port numbers, Unix addresses), and checks
// them against what the rules before it have read.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cxxopts_config.hpp"
#include "cli/problem.hpp"
#include "cli/subcommands.hpp"
#include "options.hpp"

namespace sockcat::cli {

// What every rule may look at: the command line as cxxopts parsed it.
struct CommandLine {
  const Subcommand& sub;
  const cxxopts::ParseResult& parsed;
  const std::vector<std::string>& args;  // the words parsed; args[0] names the program
  std::vector<std::string> positional;   // the arguments that are not options
  bool nc_form = false;                  // the user wrote no subcommand word
};

// A rule: reads and checks some options; returns the first problem, if any.
using RuleFunction = Problem (*)(const CommandLine& line, Options& options);

// Which subcommands a rule applies to.
enum class RuleScope { both, listen, connect };

// One row of the rule table.
struct Rule {
  std::string_view name;  // what the rule is about, for readers and tests
  RuleScope scope;
  RuleFunction apply;
};

// The rules, in the order they run: a later rule may rely on what an earlier one read.
std::span<const Rule> rules();

// Runs every rule of `line.sub`'s role in table order on `options` (role and nc_form already
// set); returns the first problem, or nothing when the command line is valid.
Problem apply_rules(const CommandLine& line, Options& options);

}  // namespace sockcat::cli
