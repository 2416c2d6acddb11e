// The rule table: every check of a command line, in the one order they run. The rules about
// addresses, listener modes and sessions live in the files rule_steps.hpp names; the small
// ones about options every subcommand takes, and -q's, live here.
#include "cli/rules.hpp"

#include "cli/messages.hpp"
#include "cli/rule_steps.hpp"
#include "parse.hpp"

namespace sockcat::cli {
namespace {

// Reads the plain flags: -u, -4/-6 (which exclude each other), -U, -n, --no-shutdown, -v.
Problem flags_rule(const CommandLine& line, Options& options) {
  const cxxopts::ParseResult& parsed = line.parsed;
  options.udp = parsed.count("udp") > 0;
  if (parsed.count("4") && parsed.count("6")) return std::string("-4 and -6 exclude each other");
  if (parsed.count("4")) options.family = Family::v4;
  if (parsed.count("6")) options.family = Family::v6;
  options.unix_socket = parsed.count("unixsock") > 0;
  options.numeric_only = parsed.count("nodns") > 0;
  options.half_close = parsed.count("no-shutdown") == 0;
  options.verbosity = static_cast<int>(parsed.count("verbose"));
  return std::nullopt;
}

// --no-shutdown -u: a datagram socket has no half-close.
Problem no_shutdown_datagram_rule(const CommandLine&, Options& options) {
  if (!options.half_close && options.udp)
    return std::string("--no-shutdown has no meaning with --udp (datagrams have no half-close)");
  return std::nullopt;
}

// Every duration and port given to an option parses (see check_typed_values).
Problem typed_values_rule(const CommandLine& line, Options& options) {
  return check_typed_values(line.sub, line.parsed, options.udp, line.nc_form);
}

// -q DURATION (nc's -q -1: the default, wait for the peer).
Problem quit_after_value_rule(const CommandLine& line, Options& options) {
  if (!line.parsed.count("quit-after") || line.parsed["quit-after"].as<std::string>() == nc_never_quit)
    return std::nullopt;
  Parsed<std::chrono::milliseconds> quit = parse_duration(line.parsed["quit-after"].as<std::string>());
  if (Problem problem = problem_of(quit)) return problem;
  options.quit_after = std::get<std::chrono::milliseconds>(quit);
  return std::nullopt;
}

// -i DURATION, above zero.
Problem idle_value_rule(const CommandLine& line, Options& options) {
  if (!line.parsed.count("idle-timeout")) return std::nullopt;
  Parsed<std::chrono::milliseconds> idle = parse_duration(line.parsed["idle-timeout"].as<std::string>());
  if (Problem problem = problem_of(idle)) return problem;
  options.idle_timeout = std::get<std::chrono::milliseconds>(idle);
  if (options.idle_timeout.count() == 0) return std::string("-i needs a duration above zero");
  return std::nullopt;
}

// cxxopts passes malformed options ("--4", "--=x") through as positional arguments.
Problem positional_rule(const CommandLine& line, Options&) {
  for (const std::string& argument : line.positional) {
    if (argument.size() > 1 && argument[0] == '-') return unknown_option_message(argument, line.sub);
  }
  return std::nullopt;
}

// Options that hold one value are given once.
Problem single_use_rule(const CommandLine& line, Options&) {
  for (const char* single : {"port", "bind", "transform", "source", "source-port", "wait", "quit-after", "max-conns",
                             "idle-timeout", "send-file", "framing", "max-message", "exec", "sh-exec", "delay",
                             "output", "hex-dump", "ssl-cert", "ssl-key", "ssl-trustfile", "ssl-alpn", "ssl-ciphers",
                             "ssl-min-version", "ssl-handshake-timeout", "ssl-servername", "ssl-pin"}) {
    if (line.parsed.count(single) > 1) return "--" + std::string(single) + " given more than once";
  }
  return std::nullopt;
}

// -q: it counts from stdin's end while sockcat relays one connection, so every mode that never
// reads stdin, never ends at its end, or hands the connection away refuses it.
Problem quit_after_rule(const CommandLine& line, Options& options) {
  if (!options.quit_after) return std::nullopt;
  if (options.zero_io) return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
  if (options.broker || !options.send_file.empty())
    return "-q has no meaning with " + std::string(!options.broker ? "--send-file" : options.chat ? "--chat" : "--broker") +
           (options.broker ? " (stdin's end ends nothing)" : " (stdin is not used)");
  if (options.role == Role::listen && options.transform->reply)
    return std::string("-q applies to a relay (--transform none): a replying server never reads stdin");
  if (options.keep_open && !options.udp)
    return std::string("-q applies to a relay of one connection, not to -k (which runs until a signal)");
  if (!options.command.empty())
    return "-q and --no-shutdown have no meaning with " + std::string(line.parsed.count("exec") ? "-e" : "-c") +
           " (the program, not sockcat, owns the connection)";
  if (options.recv_only && (!options.udp || options.role == Role::listen))
    return std::string("-q counts from stdin's end, and --recv-only never reads stdin");
  if (options.send_only) return std::string("--send-only ends at stdin's end already: -q has no meaning with it");
  return std::nullopt;
}

// -i with -z: no session for it to watch.
Problem idle_zero_io_rule(const CommandLine&, Options& options) {
  if (options.idle_timeout.count() != 0 && options.zero_io)
    return std::string("-i has no meaning with -z (no connection is kept)");
  return std::nullopt;
}

// The nc form's -w ends an idle relay too (OpenBSD nc's meaning), unless -i says otherwise
// or no session runs (-z, -e/-c). Never a problem.
Problem nc_wait_rule(const CommandLine&, Options& options) {
  if (!options.nc_form || options.connect_timeout.count() == 0) return std::nullopt;
  if (options.zero_io || !options.command.empty() || options.idle_timeout.count() != 0) return std::nullopt;
  options.idle_timeout = options.connect_timeout;
  return std::nullopt;
}

constexpr Rule table[] = {
    {"plain flags, -4 or -6", RuleScope::both, flags_rule},
    {"--no-shutdown and -u", RuleScope::both, no_shutdown_datagram_rule},
    {"typed values", RuleScope::both, typed_values_rule},
    {"-q's duration", RuleScope::both, quit_after_value_rule},
    {"-i's duration", RuleScope::both, idle_value_rule},
    {"malformed options", RuleScope::both, positional_rule},
    {"options given once", RuleScope::both, single_use_rule},
    {"listen address", RuleScope::listen, listen_address_rule},
    {"transform", RuleScope::listen, transform_rule},
    {"--broker, --chat, --send-file", RuleScope::listen, server_modes_rule},
    {"--no-shutdown and a replying transform", RuleScope::listen, no_shutdown_reply_rule},
    {"-k and -m", RuleScope::listen, keep_open_rule},
    {"-i and listen -u", RuleScope::listen, idle_datagram_listen_rule},
    {"access lists", RuleScope::listen, access_rule},
    {"connect address", RuleScope::connect, connect_address_rule},
    {"-w", RuleScope::connect, wait_rule},
    {"--ssl and its options", RuleScope::both, tls_rule},
    {"--forward and its options", RuleScope::listen, forward_rule},
    {"--proxy and its options", RuleScope::both, proxy_rule},
    {"the proxy server and its options", RuleScope::listen, proxy_server_rule},
    {"--framing and --max-message", RuleScope::both, framing_rule},
    {"-e and -c", RuleScope::both, command_rule},
    {"relay option values", RuleScope::both, relay_values_rule},
    {"-o, -x, --stats, --progress", RuleScope::both, logging_rule},
    {"relay shaping", RuleScope::both, relay_shaping_rule},
    {"-q", RuleScope::both, quit_after_rule},
    {"-i and -z", RuleScope::both, idle_zero_io_rule},
    {"nc's -w as an idle timeout", RuleScope::connect, nc_wait_rule},
};

}  // namespace

std::span<const Rule> rules() { return table; }

Problem apply_rules(const CommandLine& line, Options& options) {
  for (const Rule& rule : rules()) {
    bool applies = rule.scope == RuleScope::both || (rule.scope == RuleScope::listen) == (line.sub.role == Role::listen);
    if (!applies) continue;
    if (Problem problem = rule.apply(line, options)) return problem;
  }
  return std::nullopt;
}

}  // namespace sockcat::cli
