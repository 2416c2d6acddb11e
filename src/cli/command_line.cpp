// cli.hpp's entry points: argv in, CliOutcome out. Picks the subcommand (or the nc form, see
// nc_form.cpp), lets cxxopts parse, and hands the result to the rule table (rules.cpp).
#include "cli.hpp"

#include "cli/messages.hpp"
#include "cli/rules.hpp"
#include "cli/subcommands.hpp"
#include "parse.hpp"
#include "table_lookup.hpp"
#include "transform.hpp"

namespace sockcat {
namespace {

using namespace cli;

// Parses `args` (args[0] names the program) as subcommand `sub`. Usage errors point at
// 'sockcat HELP_FOR --help' (at 'sockcat --help' when `help_for` is empty).
CliOutcome parse_subcommand(const Subcommand& sub, const std::vector<std::string>& args, std::string_view help_for) {
  const bool nc_form = help_for.empty();  // parse_argv names no subcommand for help in the nc form
  cxxopts::Options spec = make_spec(sub);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  if (Problem problem = check_flag_values(sub, args)) return usage_error(*problem, help_for);
  cxxopts::ParseResult parsed;
  try {
    parsed = spec.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::missing_argument&) {
    return usage_error(missing_value_message(sub, args, nc_form), help_for);
  } catch (const cxxopts::exceptions::exception& e) {
    return usage_error(e.what(), help_for);
  }
  if (parsed.count("help")) return print(spec.help());
  if (!parsed.unmatched().empty()) return usage_error(unknown_option_message(parsed.unmatched()[0], sub), help_for);
  if (sub.role == Role::listen && parsed.count("list-transforms")) return print(describe_transforms());

  CommandLine line{sub, parsed, args, {}, nc_form};
  if (parsed.count("positional")) line.positional = parsed["positional"].as<std::vector<std::string>>();
  Options options;
  options.role = sub.role;
  options.nc_form = nc_form;
  if (Problem problem = apply_rules(line, options)) return usage_error(*problem, help_for);
  CliOutcome outcome;
  outcome.options = std::move(options);
  return outcome;
}

// `sockcat help [SUBCOMMAND]`.
CliOutcome help(const std::vector<std::string>& argv) {
  if (argv.size() == 2) return print(top_level_help());
  const Subcommand* sub = find_subcommand(argv[2]);
  if (!sub || argv.size() > 3) return usage_error("help takes one of: listen, connect", "");
  return print(make_spec(*sub).help());
}

// Parses argv; may throw on a parser bug (parse_command_line catches).
CliOutcome parse_argv(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return usage_error("missing subcommand: listen or connect", "");
  const std::string& first = argv[1];
  if (first == "-h" || first == "--help") return print(top_level_help());
  if (first == "--version" || first == "-V") return print("sockcat " SOCKCAT_VERSION "\n");
  if (first == "--list-transforms") return print(describe_transforms());  // as `listen --list-transforms`
  if (first == "help") return help(argv);
  if (const Subcommand* sub = find_subcommand(first)) {
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    rest[0] = "sockcat " + first;
    return parse_subcommand(*sub, rest, sub->name);
  }
  // A near miss of a subcommand is a typo, not a host: `sockcat lisen -p 80`.
  std::vector<std::string_view> names = subcommand_names();
  names.push_back("help");
  if (first.empty() || first[0] != '-') {
    if (auto suggestion = closest_name(first, names))
      return usage_error("unknown subcommand " + quote(first) + "; did you mean '" + std::string(*suggestion) + "'?", "");
  }
  // Otherwise nc style: `sockcat -l [-p] PORT` listens, `sockcat [options] HOST PORT` connects.
  std::vector<std::string> rewritten = nc_to_subcommand_argv(argv);
  const Subcommand* sub = find_subcommand(rewritten[1]);
  rewritten.erase(rewritten.begin());
  rewritten[0] = "sockcat " + rewritten[0];
  return parse_subcommand(*sub, rewritten, "");
}

}  // namespace

std::vector<std::string_view> subcommand_names() { return row_names(subcommands()); }

CliOutcome parse_command_line(const std::vector<std::string>& argv) {
  try {
    return parse_argv(argv);
  } catch (const std::exception& e) {  // a parser bug must still end as one clear line
    return usage_error(std::string("cannot parse the command line: ") + e.what(), "");
  }
}

}  // namespace sockcat
