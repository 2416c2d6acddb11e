#include "cli.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cctype>
// Positional arguments are kept whole: a port list such as 22,80 must not be split by cxxopts.
#define CXXOPTS_VECTOR_DELIMITER '\0'
// cxxopts without std::regex: compiling its patterns was a third of `connect -z`'s start-up.
#define CXXOPTS_NO_REGEX
#include <cxxopts.hpp>
#include <variant>

#include "exit_status.hpp"
#include "parse.hpp"
#include "transform.hpp"

namespace sockcat {
namespace {

// An error text, or nothing when the step succeeded.
using Problem = std::optional<std::string>;

// One row of the subcommand table.
struct Subcommand {
  std::string_view name;
  std::string_view summary;        // one line for `sockcat --help`
  std::string_view positional;     // positional arguments, for the usage line
  Role role;
  void (*declare)(cxxopts::Options& spec);  // adds the subcommand's own options
  Problem (*apply)(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                   Options& options);        // fills options, checks conflicts
};

// Options every subcommand takes.
void declare_common(cxxopts::Options& spec) {
  spec.add_options()
      ("u,udp", "use UDP datagrams (sendto/recvfrom) instead of a TCP stream")
      ("4", "use IPv4 only")
      ("6", "use IPv6 only")
      ("no-shutdown", "keep our sending side open after stdin ends (no TCP half-close)")
      ("q,quit-after", "after stdin ends, wait at most DURATION for the peer (UDP: for a quiet DURATION; default 1s)",
       cxxopts::value<std::string>(), "DURATION")
      ("v,verbose", "print addresses, connections and byte counts on stderr (repeatable)")
      ("h,help", "print this help and exit")
      ("positional", "", cxxopts::value<std::vector<std::string>>());
  spec.parse_positional({"positional"});
}

void declare_listen(cxxopts::Options& spec) {
  spec.add_options()
      ("p,port", "local port to listen on (number or service name; 0 picks a free one)",
       cxxopts::value<std::string>(), "PORT")
      ("b,bind", "local address to bind (default: every IPv4 and IPv6 address)",
       cxxopts::value<std::string>(), "ADDR")
      ("transform", "how to answer each client: none (default), echo, upper, ...",
       cxxopts::value<std::string>(), "NAME")
      ("list-transforms", "print the transforms and exit")
      ("k,keep-open", "keep accepting clients; with transform none they share stdin and stdout")
      ("m,max-conns", "serve at most N clients at once; close the others at once", cxxopts::value<std::string>(), "N")
      ("i,idle-timeout", "close a client that sends nothing for DURATION", cxxopts::value<std::string>(), "DURATION");
}

void declare_connect(cxxopts::Options& spec) {
  spec.add_options()
      ("s,source", "local address to connect from", cxxopts::value<std::string>(), "ADDR")
      ("source-port", "local port to connect from", cxxopts::value<std::string>(), "PORT")
      ("w,wait", "give up connecting after DURATION (e.g. 500ms, 5s)",
       cxxopts::value<std::string>(), "DURATION")
      ("z,zero-io", "only check whether PORT accepts; PORT may be a list: 22,80,8000-8100");
}

// Returns which family a numeric address literal belongs to, if it is one.
std::optional<Family> literal_family(const std::string& address) {
  unsigned char scratch[16];
  if (::inet_pton(AF_INET, address.c_str(), scratch) == 1) return Family::v4;
  std::string bare = address.substr(0, address.find('%'));  // fe80::1%eth0
  if (::inet_pton(AF_INET6, bare.c_str(), scratch) == 1) return Family::v6;
  return std::nullopt;
}

// Checks that a numeric address does not contradict -4/-6.
Problem check_family(const std::string& address, Family family, std::string_view option) {
  std::optional<Family> literal = literal_family(address);
  if (!literal || family == Family::any || *literal == family) return std::nullopt;
  return std::string(option) + " address " + quote(address) + " is not " +
         (family == Family::v4 ? "IPv4 but -4" : "IPv6 but -6") + " was given";
}

// Checks a port argument; `allow_zero` for local ports.
Problem check_port(const std::string& port, bool udp, bool allow_zero) {
  Parsed<std::uint16_t> parsed = parse_port(port, udp);
  if (auto* problem = std::get_if<std::string>(&parsed)) return *problem;
  if (!allow_zero && std::get<std::uint16_t>(parsed) == 0) return std::string("port 0 is not a valid destination");
  return std::nullopt;
}

Problem apply_listen(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                     Options& options) {
  if (positional.size() > 1) return "unexpected argument " + quote(positional[1]);
  if (parsed.count("port") && !positional.empty())
    return "port given twice (" + quote("-p " + parsed["port"].as<std::string>()) + " and " + quote(positional[0]) + ")";
  if (parsed.count("port")) options.port = parsed["port"].as<std::string>();
  else if (!positional.empty()) options.port = positional[0];
  else return std::string("missing PORT");
  if (Problem problem = check_port(options.port, options.udp, true)) return problem;

  if (parsed.count("bind")) {
    options.bind_address = parsed["bind"].as<std::string>();
    if (options.bind_address.empty()) return std::string("empty address for -b");
    if (Problem problem = check_family(options.bind_address, options.family, "-b")) return problem;
  }
  if (parsed.count("transform")) {
    options.transform = parsed["transform"].as<std::string>();
    if (!find_transform(options.transform)) {
      std::vector<std::string_view> names = transform_names();
      std::string message = "unknown transform " + quote(options.transform);
      if (auto suggestion = closest_name(options.transform, names))
        message += "; did you mean '" + std::string(*suggestion) + "'?";
      return message;
    }
  }
  bool replying = find_transform(options.transform)->reply != nullptr;
  if (!options.half_close && replying)
    return "--no-shutdown applies only to --transform none (a replying server closes each client itself)";
  options.keep_open = parsed.count("keep-open") > 0;
  bool serves_many = !options.udp && (replying || options.keep_open);
  if (parsed.count("max-conns")) {
    if (!serves_many) return std::string("-m needs a server that takes many clients (-k, or a replying transform; TCP)");
    const std::string& text = parsed["max-conns"].as<std::string>();
    unsigned long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 1'000'000)
      return "-m takes a number of connections from 1 to 1000000, not " + quote(text);
    options.max_conns = static_cast<unsigned>(value);
  }
  if (parsed.count("idle-timeout")) {
    if (!serves_many) return std::string("-i needs a server that takes many clients (-k, or a replying transform; TCP)");
    Parsed<std::chrono::milliseconds> idle = parse_duration(parsed["idle-timeout"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&idle)) return *problem;
    options.idle_timeout = std::get<std::chrono::milliseconds>(idle);
    if (options.idle_timeout.count() == 0) return std::string("-i needs a duration above zero");
  }
  if (options.quit_after && replying)
    return std::string("-q applies to a relay (--transform none): a replying server never reads stdin");
  if (options.quit_after && options.keep_open && !options.udp)
    return std::string("-q applies to a relay of one connection, not to -k (which runs until a signal)");
  return std::nullopt;
}

Problem apply_connect(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                      Options& options) {
  if (positional.size() < 2) return std::string(positional.empty() ? "missing HOST and PORT" : "missing PORT");
  if (positional.size() > 2) return "unexpected argument " + quote(positional[2]);
  options.host = positional[0];
  options.port = positional[1];
  if (options.host.empty()) return std::string("empty HOST");
  if (Problem problem = check_family(options.host, options.family, "HOST")) return problem;
  options.zero_io = parsed.count("zero-io") > 0;
  if (options.zero_io) {
    if (options.udp) return std::string("-z checks TCP ports; UDP has no connection to check (drop -z or -u)");
    if (!options.half_close || options.quit_after)
      return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
    Parsed<std::vector<std::uint16_t>> ports = parse_port_list(options.port, false);
    if (auto* problem = std::get_if<std::string>(&ports)) return *problem;
  } else if (Problem problem = check_port(options.port, options.udp, false)) {
    bool looks_like_list = options.port.find(',') != std::string::npos ||
                           (options.port.find('-') != std::string::npos && std::isdigit(static_cast<unsigned char>(options.port[0])));
    if (looks_like_list)
      return *problem + " (a list of ports needs -z)";
    return problem;
  }
  if (parsed.count("source")) {
    options.source_address = parsed["source"].as<std::string>();
    if (options.source_address.empty()) return std::string("empty address for -s");
    if (Problem problem = check_family(options.source_address, options.family, "-s")) return problem;
  }
  if (parsed.count("source-port")) {
    options.source_port = parsed["source-port"].as<std::string>();
    if (Problem problem = check_port(options.source_port, options.udp, true)) return problem;
  }
  if (parsed.count("wait")) {
    if (options.udp) return std::string("-w bounds a TCP connect; UDP has none (drop -w or -u)");
    Parsed<std::chrono::milliseconds> wait = parse_duration(parsed["wait"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&wait)) return *problem;
    options.connect_timeout = std::get<std::chrono::milliseconds>(wait);
    if (options.connect_timeout.count() == 0) return std::string("-w needs a duration above zero");
  }
  return std::nullopt;
}

constexpr Subcommand subcommands[] = {
    {"listen", "wait for a connection (or datagrams) on a local port", "[-p] PORT", Role::listen,
     declare_listen, apply_listen},
    {"connect", "connect to HOST PORT and relay stdin/stdout over the connection", "HOST PORT",
     Role::connect, declare_connect, apply_connect},
};

const Subcommand* find_subcommand(std::string_view name) {
  for (const Subcommand& s : subcommands)
    if (s.name == name) return &s;
  return nullptr;
}

// Builds the cxxopts parser of one subcommand.
cxxopts::Options make_spec(const Subcommand& sub) {
  cxxopts::Options spec("sockcat " + std::string(sub.name), std::string(sub.summary));
  spec.custom_help("[options]");
  spec.positional_help(std::string(sub.positional));
  spec.allow_unrecognised_options();
  declare_common(spec);
  sub.declare(spec);
  return spec;
}

std::string top_level_help() {
  std::string text =
      "sockcat: a netcat-like TCP/UDP socket tool\n\n"
      "usage:\n";
  for (const Subcommand& s : subcommands)
    text += "  sockcat " + std::string(s.name) + " [options] " + std::string(s.positional) + "\n";
  text += "  sockcat --help | --version (-V) | help [SUBCOMMAND]\n\nsubcommands:\n";
  for (const Subcommand& s : subcommands)
    text += "  " + std::string(s.name) + std::string(10 - s.name.size(), ' ') + std::string(s.summary) + "\n";
  text += "\n'sockcat SUBCOMMAND --help' lists the options of each; 'man sockcat' has the rest.\n";
  return text;
}

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

// Tells whether subcommand `sub` declares the option spelled `name` ("-p", "--port").
bool declares(const Subcommand& sub, const std::string& name) {
  bool is_long = name.rfind("--", 0) == 0;
  std::string bare = name.substr(is_long ? 2 : 1);
  cxxopts::Options spec = make_spec(sub);
  for (const auto& group : spec.groups()) {
    for (const auto& detail : spec.group_help(group).options) {
      if (is_long ? (detail.l.size() == 1 && detail.l[0] == bare) : (bare.size() == 1 && detail.s == bare))
        return true;
    }
  }
  return false;
}

// Explains an argument cxxopts could not match: a malformed spelling of one of this
// subcommand's options, an option of the other subcommand, or an unknown one.
std::string unknown_option_message(const std::string& option, const Subcommand& here) {
  std::string name = option.substr(0, option.find('='));
  std::size_t dashes = std::min(name.find_first_not_of('-'), name.size());
  if (name.size() == dashes) return "unexpected argument " + quote(option);
  if (dashes == 1 && name != "-4" && name != "-6" && name.find_first_not_of("0123456789", 1) == std::string::npos)
    return "unexpected argument " + quote(option) + " (ports and counts cannot be negative)";
  if (dashes == 1 && name.size() > 2) name.resize(2);  // a short-option cluster: name its first
  if (declares(here, name))
    return "malformed option " + quote(option) + " (give a short option's value as the next argument: -p 80)";
  for (const Subcommand& other : subcommands) {
    if (&other != &here && declares(other, name))
      return "option " + quote(name) + " does not apply to '" + std::string(here.name) + "' (it belongs to '" +
             std::string(other.name) + "')";
  }
  return "unknown option " + quote(name);
}

CliOutcome parse_subcommand(const Subcommand& sub, const std::vector<std::string>& args) {
  cxxopts::Options spec = make_spec(sub);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  cxxopts::ParseResult parsed;
  try {
    parsed = spec.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    return usage_error(e.what(), sub.name);
  }
  if (parsed.count("help")) return print(spec.help());
  if (!parsed.unmatched().empty()) return usage_error(unknown_option_message(parsed.unmatched()[0], sub), sub.name);
  if (sub.role == Role::listen && parsed.count("list-transforms")) return print(describe_transforms());

  Options options;
  options.role = sub.role;
  options.udp = parsed.count("udp") > 0;
  if (parsed.count("4") && parsed.count("6")) return usage_error("-4 and -6 exclude each other", sub.name);
  if (parsed.count("4")) options.family = Family::v4;
  if (parsed.count("6")) options.family = Family::v6;
  options.half_close = parsed.count("no-shutdown") == 0;
  if (!options.half_close && options.udp)
    return usage_error("--no-shutdown has no meaning with --udp (datagrams have no half-close)", sub.name);
  options.verbosity = static_cast<int>(parsed.count("verbose"));
  if (parsed.count("quit-after")) {
    Parsed<std::chrono::milliseconds> quit = parse_duration(parsed["quit-after"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&quit)) return usage_error(*problem, sub.name);
    options.quit_after = std::get<std::chrono::milliseconds>(quit);
  }
  std::vector<std::string> positional;
  if (parsed.count("positional")) positional = parsed["positional"].as<std::vector<std::string>>();
  // cxxopts passes malformed options ("--4", "--=x") through as positional arguments.
  for (const std::string& argument : positional) {
    if (argument.size() > 1 && argument[0] == '-') return usage_error(unknown_option_message(argument, sub), sub.name);
  }
  for (const char* single : {"port", "bind", "transform", "source", "source-port", "wait", "quit-after", "max-conns",
                             "idle-timeout"}) {
    if (parsed.count(single) > 1) return usage_error("--" + std::string(single) + " given more than once", sub.name);
  }
  if (Problem problem = sub.apply(parsed, positional, options)) return usage_error(*problem, sub.name);

  CliOutcome outcome;
  outcome.options = std::move(options);
  return outcome;
}

// Parses argv; may throw on a parser bug (parse_command_line catches).
CliOutcome parse_argv(const std::vector<std::string>& argv);

}  // namespace

std::vector<std::string_view> subcommand_names() {
  std::vector<std::string_view> names;
  for (const Subcommand& s : subcommands) names.push_back(s.name);
  return names;
}

CliOutcome parse_command_line(const std::vector<std::string>& argv) {
  try {
    return parse_argv(argv);
  } catch (const std::exception& e) {  // a parser bug must still end as one clear line
    return usage_error(std::string("cannot parse the command line: ") + e.what(), "");
  }
}

namespace {

CliOutcome parse_argv(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return usage_error("missing subcommand: listen or connect", "");
  const std::string& first = argv[1];
  if (first == "-h" || first == "--help") return print(top_level_help());
  if (first == "--version" || first == "-V") return print("sockcat " SOCKCAT_VERSION "\n");
  if (first == "help") {
    if (argv.size() == 2) return print(top_level_help());
    const Subcommand* sub = find_subcommand(argv[2]);
    if (!sub || argv.size() > 3) return usage_error("help takes one of: listen, connect", "");
    return print(make_spec(*sub).help());
  }
  if (const Subcommand* sub = find_subcommand(first)) {
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    rest[0] = "sockcat " + first;
    return parse_subcommand(*sub, rest);
  }
  std::string message = "unknown subcommand " + quote(first);
  std::vector<std::string_view> names = subcommand_names();
  if (auto suggestion = closest_name(first, names)) message += "; did you mean '" + std::string(*suggestion) + "'?";
  return usage_error(message, "");
}

}  // namespace

}  // namespace sockcat
