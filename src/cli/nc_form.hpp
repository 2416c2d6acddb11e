// nc-style command lines (no subcommand word): rewriting them into the subcommand form
// (cli.hpp's nc_to_subcommand_argv), and reading back how the user spelled an option there.
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace sockcat::cli {

// How the user spelled option `option` (a subcommand spelling, "--source-port"): in the nc
// form, the nc letter it was rewritten from ("-p"); otherwise `option` itself.
std::string user_spelling(const std::string& option, Role role, bool nc_form);

// Where an option word stands in an argv, and whether it takes the next word as its value.
struct OptionWord {
  std::size_t index;  // in args
  bool takes_next;    // its last option takes args[index + 1] as its value
};

// The option words of `args` (after args[0], up to "--"), read as cxxopts reads them: the
// word after an option that takes a value is that value, whatever it looks like.
std::vector<OptionWord> option_words(const std::vector<std::string>& args);

// Returns the option an option word names: the word itself when long ("--transform"),
// else its last letter ("-vp" gives "-p"), the one that can take the next word.
std::string last_option_of(const std::string& word);

}  // namespace sockcat::cli
