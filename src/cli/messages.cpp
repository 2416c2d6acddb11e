#include "cli/messages.hpp"

#include <algorithm>

#include "exit_status.hpp"
#include "cli/nc_form.hpp"

namespace sockcat::cli {
namespace {

// Returns `placeholder` ("PORT") after "a" or "an", as it is read aloud; a plural one
// ("ADDRS", "BYTES") as it is.
std::string with_article(const std::string& placeholder) {
  if (placeholder.back() == 'S') return placeholder;
  std::string_view vowel_sounds = placeholder.size() == 1 ? "AEFHILMNORSX" : "AEIOU";  // "an N", "an ADDR"
  bool vowel_sound = vowel_sounds.find(placeholder[0]) != std::string_view::npos;
  return (vowel_sound ? "an " : "a ") + placeholder;
}

// An option whose value has a type, and the word parse.hpp's errors about such a value begin with.
struct TypedOption {
  const char* name;       // the long name, as declared
  std::string_view kind;  // "duration" (parse_duration) or "port" (parse_port)
};

constexpr TypedOption typed_options[] = {
    {"quit-after", "duration"}, {"delay", "duration"}, {"idle-timeout", "duration"},
    {"wait", "duration"},       {"port", "port"},      {"source-port", "port"},
};

}  // namespace

CliOutcome usage_error(std::string message, std::string_view subcommand) {
  CliOutcome outcome;
  outcome.status = exit_usage;
  // cxxopts quotes with typographic quotes; the rest of sockcat uses plain ones.
  for (std::string_view curly : {"\u2018", "\u2019"}) {
    for (std::size_t at = message.find(curly); at != std::string::npos; at = message.find(curly))
      message.replace(at, curly.size(), "'");
  }
  outcome.error = printable(message) + " (see 'sockcat " +
                  (subcommand.empty() ? std::string("--help") : std::string(subcommand) + " --help") + "')";
  return outcome;
}

CliOutcome print(std::string text) {
  CliOutcome outcome;
  outcome.output = std::move(text);
  return outcome;
}

std::string unknown_option_message(const std::string& option, const Subcommand& here) {
  std::string name = option.substr(0, option.find('='));
  std::size_t dashes = std::min(name.find_first_not_of('-'), name.size());
  if (name.size() == dashes) return "unexpected argument " + quote(option);
  if (dashes == 1 && name != "-4" && name != "-6" && name.find_first_not_of("0123456789", 1) == std::string::npos)
    return "unexpected argument " + quote(option) + " (ports and counts cannot be negative)";
  if (dashes == 1 && name.size() > 2) name.resize(2);  // a short-option cluster: name its first
  if (declares(here, name))
    return "malformed option " + quote(option) + " (give a short option's value as the next argument: -p 80)";
  for (const Subcommand& other : subcommands()) {
    if (&other != &here && declares(other, name))
      return "option " + quote(name) + " does not apply to '" + std::string(here.name) + "' (it belongs to '" +
             std::string(other.name) + "')";
  }
  return "unknown option " + quote(name);
}

std::string missing_value_message(const Subcommand& sub, const std::vector<std::string>& args, bool nc_form) {
  // cxxopts misses a value only after the last word: `--transform`, `-p` or `-vp`.
  std::string option = last_option_of(args.back());
  std::optional<cxxopts::HelpOptionDetails> detail = declaration(sub, option);
  std::string value = detail && !detail->arg_help.empty() ? with_article(detail->arg_help) : "a value";
  return user_spelling(option, sub.role, nc_form) + " needs " + value;
}

Problem check_flag_values(const Subcommand& sub, const std::vector<std::string>& args) {
  auto long_with_value = [](const std::string& arg) {
    return arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos;
  };
  if (std::none_of(args.begin(), args.end(), long_with_value)) return std::nullopt;  // the usual case: no cost
  for (OptionWord word : option_words(args)) {
    const std::string& arg = args[word.index];
    if (!long_with_value(arg)) continue;
    std::string option = last_option_of(arg);
    std::string value = arg.substr(option.size() + 1);
    std::optional<cxxopts::HelpOptionDetails> detail = declaration(sub, option);
    if (detail && detail->is_boolean) return option + " takes no value; " + quote(value) + " was given";
  }
  return std::nullopt;
}

Problem check_typed_values(const Subcommand& sub, const cxxopts::ParseResult& parsed, bool udp, bool nc_form) {
  for (const TypedOption& typed : typed_options) {
    if (!parsed.count(typed.name)) continue;
    const std::string& value = parsed[typed.name].as<std::string>();
    if (typed.name == std::string_view("quit-after") && value == nc_never_quit) continue;
    Problem problem = typed.kind == "port" ? problem_of(parse_port(value, udp)) : problem_of(parse_duration(value));
    if (!problem) continue;
    std::optional<cxxopts::HelpOptionDetails> detail = declaration(sub, "--" + std::string(typed.name));
    std::string option = detail && !detail->s.empty() ? "-" + detail->s : "--" + std::string(typed.name);
    option = user_spelling(option, sub.role, nc_form);
    std::string kind(typed.kind);
    if (problem->rfind(kind + " ", 0) != 0) return option + ": " + *problem;  // "empty port"
    return option + " takes a " + kind + "; " + problem->substr(kind.size() + 1);
  }
  return std::nullopt;
}

std::string swallowed_hint(const std::vector<std::string>& args, Role role, bool nc_form) {
  std::vector<OptionWord> words = option_words(args);
  for (auto word = words.rbegin(); word != words.rend(); ++word) {
    if (!word->takes_next || word->index + 1 >= args.size()) continue;
    std::string option = user_spelling(last_option_of(args[word->index]), role, nc_form);
    return "; " + option + " took " + quote(args[word->index + 1]) + " as its value";
  }
  return "";
}

}  // namespace sockcat::cli
