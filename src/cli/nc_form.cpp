#include "cli/nc_form.hpp"

#include <algorithm>

#include "cli.hpp"
#include "cli/problem.hpp"
#include "cli/subcommands.hpp"

namespace sockcat::cli {
namespace {

// nc-style command lines: how an nc option letter is spelled in the subcommand form of each
// mode. An empty spelling drops the letter; every letter not listed passes through untouched.
struct NcSpelling {
  char letter;
  std::string_view in_listen;   // with -l
  std::string_view in_connect;  // without -l
};

constexpr NcSpelling nc_spellings[] = {
    {'l', "", ""},                   // the mode itself
    {'p', "-p", "--source-port"},    // nc and ncat: -p is the source port of a connect
    {'s', "--bind", "-s"},           // nc and ncat: -s is the local address
    {'N', "", ""},                   // OpenBSD nc: half-close at stdin EOF, which sockcat always does
};

// OpenBSD nc: with -X (the proxy's protocol), -x HOST:PORT is the proxy; without it, -x stays
// sockcat's hex dump.
constexpr NcSpelling nc_proxy_spelling = {'x', "--proxy", "--proxy"};

// ncat's port for `-l` with no port (`ncat -l`, `ncat -l ADDR`); `sockcat listen` has none.
constexpr std::string_view ncat_default_port = "31337";

// The row of nc_spellings for `letter`, or nullptr when the letter passes through.
const NcSpelling* find_nc_spelling(char letter) {
  for (const NcSpelling& row : nc_spellings)
    if (row.letter == letter) return &row;
  return nullptr;
}

// Tells whether an nc-style positional argument is meant as a port: digits (even out of
// range, to be refused as a port), or a TCP or UDP service name.
bool reads_as_port(const std::string& word) {
  bool digits = !word.empty() && word.find_first_not_of("0123456789") == std::string::npos;
  return digits || !problem_of(parse_port(word, false)) || !problem_of(parse_port(word, true));
}

// One argument of an nc-style command line, split into what the rewrite needs to know.
struct NcWord {
  std::vector<std::string> words;  // its spelling in the subcommand form
  bool listen = false;             // it held -l or --listen
  bool takes_next = false;         // its last option needs the next argument as its value
  bool unknown = false;            // it holds an option no subcommand declares
  bool names_local = false;        // it holds -p/--port or -U/--unixsock: a listener's address
  bool proxy_type = false;         // it holds -X: -x names the proxy
};

// Rewrites one option argument (not a positional one) for mode `listen`, using `known` to
// tell which options take a value.
NcWord rewrite_nc_option(const std::string& arg, bool listen, bool x_is_proxy, const KnownOptions& known) {
  auto in = [](const std::vector<std::string>& list, const std::string& spelling) {
    return std::find(list.begin(), list.end(), spelling) != list.end();
  };
  auto takes_value = [&](const std::string& spelling) { return in(known.valued, spelling); };
  NcWord word;
  if (arg.rfind("--", 0) == 0) {
    std::string name = arg.substr(0, arg.find('='));
    if (arg == "--listen") word.listen = true;
    else word.words.push_back(arg);
    word.names_local = name == "--port" || name == "--unixsock";
    word.takes_next = name == arg && takes_value(arg);
    word.unknown = !takes_value(name) && !in(known.flags, name);
    return word;
  }
  std::string bundle = "-";  // letters passed through, kept together
  auto flush = [&] {
    if (bundle.size() > 1) word.words.push_back(bundle);
    bundle = "-";
  };
  for (std::size_t at = 1; at < arg.size(); ++at) {
    char letter = arg[at];
    bool valued_letter = takes_value(std::string("-") + letter);
    std::string rest = arg.substr(at + 1);
    const NcSpelling* spelling = letter == 'x' && x_is_proxy ? &nc_proxy_spelling : find_nc_spelling(letter);
    if (letter == 'l') word.listen = true;
    if (letter == 'X') word.proxy_type = true;
    if (letter == 'p' || letter == 'U') word.names_local = true;
    if (!valued_letter && !in(known.flags, std::string("-") + letter)) word.unknown = true;
    if (!spelling) {
      bundle += letter;
      if (!valued_letter) continue;
      bundle += rest;  // the value, attached
      word.takes_next = rest.empty();
      break;
    }
    flush();
    std::string_view replacement = listen ? spelling->in_listen : spelling->in_connect;
    if (!valued_letter) {
      if (!replacement.empty()) word.words.emplace_back(replacement);
      continue;
    }
    word.takes_next = rest.empty();
    if (rest.empty()) word.words.emplace_back(replacement);
    else word.words.push_back(std::string(replacement) + (replacement.size() > 2 ? "=" : "") + rest);
    break;
  }
  flush();
  return word;
}

}  // namespace

std::vector<OptionWord> option_words(const std::vector<std::string>& args) {
  const KnownOptions known = known_options();
  std::vector<OptionWord> words;
  for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i].size() < 2 || args[i][0] != '-') continue;
    bool takes_next = rewrite_nc_option(args[i], false, false, known).takes_next;
    words.push_back({i, takes_next});
    if (takes_next) ++i;
  }
  return words;
}

std::string last_option_of(const std::string& word) {
  return word.rfind("--", 0) == 0 ? word.substr(0, word.find('=')) : std::string("-") + word.back();
}

std::string user_spelling(const std::string& option, Role role, bool nc_form) {
  if (!nc_form) return option;
  for (const NcSpelling& row : nc_spellings) {
    std::string_view spelled = role == Role::listen ? row.in_listen : row.in_connect;
    if (!spelled.empty() && spelled == option) return std::string("-") + row.letter;
  }
  return option;
}

}  // namespace sockcat::cli

namespace sockcat {

std::vector<std::string> nc_to_subcommand_argv(const std::vector<std::string>& argv) {
  using namespace cli;
  const KnownOptions known = known_options();
  // Pass 1 finds the mode; pass 2 spells every argument for it.
  bool listen = false;
  bool x_is_proxy = false;  // -X was given: -x names the proxy
  bool unknown = false;  // then which arguments are values is uncertain: bind nothing
  bool names_local = false;  // -p or -U gave the listener's address: no default port
  bool value_missing = false;  // the last option lacks its value: the parser will say so
  for (int pass = 1; pass <= 2; ++pass) {
    std::vector<std::string> out{argv.empty() ? std::string("sockcat") : argv[0], listen ? "listen" : "connect"};
    std::vector<std::size_t> positional;  // indices in `out`
    bool options_ended = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
      const std::string& arg = argv[i];
      if (options_ended || arg.size() < 2 || arg[0] != '-') {
        positional.push_back(out.size());
        out.push_back(arg);
        continue;
      }
      if (arg == "--") {
        options_ended = true;
        out.push_back(arg);
        continue;
      }
      NcWord word = rewrite_nc_option(arg, listen, x_is_proxy, known);
      if (pass == 1 && word.listen) listen = true;
      if (pass == 1 && word.proxy_type) x_is_proxy = true;
      unknown = unknown || word.unknown;
      names_local = names_local || word.names_local;
      out.insert(out.end(), word.words.begin(), word.words.end());
      if (word.takes_next && i + 1 < argv.size()) out.push_back(argv[++i]);
      else value_missing = word.takes_next;
    }
    if (pass == 1) continue;
    // Moves the positional argument at out[at] to a --bind option: it is the address to listen on.
    auto bind_positional = [&out](std::size_t at) {
      std::string address = out[at];
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(at));
      out.insert(out.begin() + 2, {"--bind", address});
    };
    // nc -l ADDR PORT (both nc's): the first of two positional arguments is the address to bind.
    if (listen && positional.size() == 2 && !unknown) bind_positional(positional[0]);
    // ncat -l [ADDR]: without a port, listen on ncat's. A lone word that reads as a port (a
    // number, in range or not, or a service name) stays the port; any other is the address.
    if (listen && positional.size() <= 1 && !unknown && !names_local && !value_missing) {
      bool address_only = positional.size() == 1 && !reads_as_port(out[positional[0]]);
      if (address_only) bind_positional(positional[0]);
      if (positional.empty() || address_only) out.emplace_back(ncat_default_port);
    }
    return out;
  }
  return {};
}

}  // namespace sockcat
