// The rules of what shapes a session: --framing, the program of -e/-c, and the relay's
// connection options (-C, -d, --send-only, --recv-only, -o, -x, --progress, --stats).
#include <algorithm>

#include "cli/rule_steps.hpp"
#include "framing.hpp"
#include "parse.hpp"
#include "transform.hpp"

namespace sockcat::cli {
namespace {

// Splits an -e argument on blanks into a program and its arguments (no quoting, no shell).
std::vector<std::string> split_on_blanks(const std::string& text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while ((at = text.find_first_not_of(" \t", at)) != std::string::npos) {
    std::size_t end = text.find_first_of(" \t", at);
    words.push_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

// Reads --framing's row; an unknown name suggests the closest.
Problem read_framing(const std::string& name, Options& options) {
  options.framing = find_framing(name);
  if (options.framing) return std::nullopt;
  std::vector<std::string_view> names = framing_names();
  std::string message = "unknown framing " + quote(name) + " (raw, line or length)";
  if (auto suggestion = closest_name(name, names)) message += "; did you mean '" + std::string(*suggestion) + "'?";
  return message;
}

// Checks --framing against the mode: which combinations carry message boundaries at all.
Problem check_framing_fits(const Options& options) {
  const bool framed = options.framing->whole_messages;
  if (options.role == Role::connect) {
    if (framed && options.zero_io) return std::string("--framing has no meaning with -z (nothing is sent)");
    if (options.udp && options.framing->name == "length")
      return std::string("over UDP a datagram is one message: -u takes --framing line (a datagram per line) or raw");
    return std::nullopt;
  }
  const Transform& transform = *options.transform;
  if (framed && options.udp)
    return std::string("over UDP every datagram is already one message: listen -u takes no --framing");
  if (framed && !transform.reply)
    return std::string("--framing needs a replying transform (echo, upper, ...); transform none relays bytes as they come");
  if (transform.whole_messages && !options.udp && !framed)
    return "--transform " + std::string(transform.name) +
           " works on whole messages: add --framing line or --framing length (or use -u)";
  return std::nullopt;
}

// Reads -e's or -c's program into options.command.
Problem read_command(const CommandLine& line, bool exec, Options& options) {
  if (exec) {
    options.command = split_on_blanks(line.parsed["exec"].as<std::string>());
    if (options.command.empty()) return std::string("-e needs a program to run");
    return std::nullopt;
  }
  const std::string& command = line.parsed["sh-exec"].as<std::string>();
  if (command.find_first_not_of(" \t") == std::string::npos) return std::string("-c needs a command to run");
  options.command = {"/bin/sh", "-c", command};
  return std::nullopt;
}

// The first of the relay's shaping options (-C, -d, --send-only, --recv-only) on the command
// line, spelled "--crlf", leaving out those in `except`; "" when none is.
std::string first_relay_option(const cxxopts::ParseResult& parsed, std::initializer_list<std::string_view> except) {
  for (const char* name : {"crlf", "delay", "send-only", "recv-only"}) {
    if (parsed.count(name) && std::find(except.begin(), except.end(), name) == except.end())
      return "--" + std::string(name);
  }
  return "";
}

// Where the shaping options apply in a listener: a relay of one connection with stdin/stdout.
Problem check_listen_shaping(const CommandLine& line, const Options& options, const std::string& first_given) {
  if (options.transform->reply) return first_given + " applies to a relay (--transform none), not to a replying server";
  std::string not_for_udp = first_relay_option(line.parsed, {"crlf", "send-only", "recv-only"});
  if (options.udp && !not_for_udp.empty())
    return not_for_udp + " applies to a TCP relay and to 'connect -u', not to 'listen -u'";
  // The broker's stdio takes --send-only (only stdin is relayed) and --recv-only (stdin is
  // never read); the other connection options are refused with it.
  std::string not_for_broker = first_relay_option(line.parsed, {"send-only", "recv-only"});
  if (options.broker && !not_for_broker.empty())
    return not_for_broker + " applies to a relay with stdin/stdout, not to " + (options.chat ? "--chat" : "--broker");
  if (options.keep_open && !options.broker) return first_given + " applies to a relay of one connection, not to -k (shared stdio)";
  if (!options.send_file.empty()) return first_given + " applies to a relay with stdin/stdout, not to --send-file";
  return std::nullopt;
}

}  // namespace

Problem framing_rule(const CommandLine& line, Options& options) {
  if (line.parsed.count("framing")) {
    if (Problem problem = read_framing(line.parsed["framing"].as<std::string>(), options)) return problem;
  }
  if (line.parsed.count("max-message")) {
    if (!options.framing->whole_messages) return std::string("--max-message applies to --framing line or length");
    if (options.udp) return std::string("--max-message has no meaning with -u (a datagram is its own limit)");
    Parsed<std::size_t> size = parse_byte_size(line.parsed["max-message"].as<std::string>(), largest_max_message);
    if (Problem problem = problem_of(size)) return "--max-message: " + *problem;
    options.max_message = std::get<std::size_t>(size);
  }
  return check_framing_fits(options);
}

Problem command_rule(const CommandLine& line, Options& options) {
  bool exec = line.parsed.count("exec") > 0;
  bool shell = line.parsed.count("sh-exec") > 0;
  if (!exec && !shell) return std::nullopt;
  if (exec && shell) return std::string("-e and -c exclude each other (use one way to run the program)");
  std::string flag = exec ? "-e" : "-c";
  if (Problem problem = read_command(line, exec, options)) return problem;
  if (options.transform->name != "none")
    return flag + " and --transform " + std::string(options.transform->name) +
           " exclude each other (the program answers each client)";
  if (options.zero_io) return flag + " has no meaning with -z (no connection is kept)";
  if (options.framing->name != "raw") return flag + " and --framing exclude each other (the program reads the connection)";
  if (!options.half_close)  // -q: see quit_after_rule
    return "-q and --no-shutdown have no meaning with " + flag + " (the program, not sockcat, owns the connection)";
  if (options.idle_timeout.count() != 0 && !options.udp)  // -u: sockcat pumps each sender's program
    return "-i has no meaning with " + flag + " (the program, not sockcat, reads each client)";
  if (options.broker || !options.send_file.empty())
    return flag + " and " + (options.broker ? (options.chat ? "--chat" : "--broker") : "--send-file") +
           " exclude each other (the program answers each client)";
  return std::nullopt;
}

Problem relay_values_rule(const CommandLine& line, Options& options) {
  const cxxopts::ParseResult& parsed = line.parsed;
  options.crlf = parsed.count("crlf") > 0;
  options.send_only = parsed.count("send-only") > 0;
  options.recv_only = parsed.count("recv-only") > 0;
  options.append_output = parsed.count("append-output") > 0;
  options.progress = parsed.count("progress") > 0;
  options.stats = parsed.count("stats") > 0;
  if (parsed.count("delay")) {
    Parsed<std::chrono::milliseconds> delay = parse_duration(parsed["delay"].as<std::string>());
    if (Problem problem = problem_of(delay)) return problem;
    options.line_delay = std::get<std::chrono::milliseconds>(delay);
    if (options.line_delay.count() == 0) return std::string("-d needs a duration above zero");
  }
  for (auto [name, file] : {std::pair{"output", &options.output_file}, std::pair{"hex-dump", &options.hex_dump_file}}) {
    if (!parsed.count(name)) continue;
    *file = parsed[name].as<std::string>();
    if (file->empty()) return "empty file name for --" + std::string(name);
  }
  return std::nullopt;
}

Problem logging_rule(const CommandLine&, Options& options) {
  const char* first_log = !options.output_file.empty() ? "-o" : !options.hex_dump_file.empty() ? "-x" : "--stats";
  if (options.zero_io && (options.stats || !options.output_file.empty() || !options.hex_dump_file.empty()))
    return std::string(first_log) + " has no meaning with -z (nothing is relayed)";
  if (options.append_output && options.output_file.empty() && options.hex_dump_file.empty())
    return std::string("--append-output needs -o or -x");
  if (!options.progress) return std::nullopt;
  bool one_relay = !options.zero_io && options.command.empty() && !options.framing->whole_messages;
  if (options.role == Role::listen)
    one_relay = one_relay && !options.transform->reply && !options.udp && !options.keep_open && !options.broker &&
                options.send_file.empty();
  if (!one_relay)
    return std::string("--progress applies to a relay of one connection with stdin/stdout (connect, or listen "
                       "without -k), not to a server of many clients, -e/-c, --framing or -z");
  return std::nullopt;
}

Problem relay_shaping_rule(const CommandLine& line, Options& options) {
  std::string first_given = first_relay_option(line.parsed, {});
  if (first_given.empty()) return std::nullopt;
  if (options.zero_io) return first_given + " has no meaning with -z (nothing is relayed)";
  // -e/-c: -C converts what the program sends (ncat's -C); the rest watch stdin and stdout.
  if (std::string other = first_relay_option(line.parsed, {"crlf"}); !options.command.empty() && !other.empty())
    return other + " applies to a relay with stdin/stdout, not to -e/-c";
  if (!options.command.empty()) return std::nullopt;  // -C alone: it applies in every mode of -e/-c
  if (options.framing->whole_messages) return first_given + " applies to a byte stream (--framing raw)";
  if (options.role == Role::listen) {
    if (Problem problem = check_listen_shaping(line, options, first_given)) return problem;
  }
  if (options.send_only && options.recv_only) return std::string("--send-only and --recv-only exclude each other");
  if (options.recv_only && (options.crlf || options.line_delay.count() > 0))
    return std::string("-C and -d change what is sent, and --recv-only sends nothing");
  return std::nullopt;  // -q: see quit_after_rule
}

}  // namespace sockcat::cli
