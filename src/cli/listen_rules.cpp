// The rules of a listener's modes: the transform that answers clients, the servers that never
// touch stdio (--broker, --chat, --send-file), -k and -m.
#include <charconv>

#include "cli/rule_steps.hpp"
#include "parse.hpp"
#include "transform.hpp"

namespace sockcat::cli {
namespace {

// Tells whether the transform answers each client itself (any but none).
bool replying(const Options& options) { return options.transform->reply != nullptr; }

// listen -u -e/-c runs a program per sender (datagram_exec.hpp): -m counts the programs and
// -i ends an idle one; plain listen -u has no connection for either.
bool runs_programs(const CommandLine& line, const Options& options) {
  return options.udp && (line.parsed.count("exec") || line.parsed.count("sh-exec"));
}

// Reads -m: "-m N" serves N clients at once; "-m 0" closes every one at once (ncat's meaning).
Problem read_max_conns(const std::string& text, Options& options) {
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 1'000'000)
    return "-m takes a number of connections from 0 to 1000000, not " + quote(text);
  options.max_conns = static_cast<unsigned>(value);
  options.refuse_clients = value == 0;
  return std::nullopt;
}

}  // namespace

Problem transform_rule(const CommandLine& line, Options& options) {
  if (!line.parsed.count("transform")) return std::nullopt;
  const std::string& name = line.parsed["transform"].as<std::string>();
  options.transform = find_transform(name);
  if (options.transform) return std::nullopt;
  std::vector<std::string_view> names = transform_names();
  std::string message = "unknown transform " + quote(name);
  if (auto suggestion = closest_name(name, names)) message += "; did you mean '" + std::string(*suggestion) + "'?";
  return message;
}

Problem server_modes_rule(const CommandLine& line, Options& options) {
  options.chat = line.parsed.count("chat") > 0;
  options.broker = options.chat || line.parsed.count("broker") > 0;
  std::string_view broker_name = options.chat ? "--chat" : "--broker";
  if (line.parsed.count("send-file")) {
    options.send_file = line.parsed["send-file"].as<std::string>();
    if (options.send_file.empty()) return std::string("empty FILE for --send-file");
    if (options.broker) return "--send-file and " + std::string(broker_name) + " exclude each other";
  }
  if (!options.broker && options.send_file.empty()) return std::nullopt;
  std::string mode = options.broker ? std::string(broker_name) : std::string("--send-file");
  if (options.udp) return mode + " serves TCP clients (drop -u)";
  if (replying(options)) return mode + " does not take --transform " + quote(options.transform->name);
  // The broker reads stdin but never half-closes a client at its end, nor ends there.
  std::string_view why = options.broker ? " (stdin's end ends nothing)" : " (stdin is not used)";
  if (!options.half_close) return "--no-shutdown has no meaning with " + mode + std::string(why);
  return std::nullopt;  // -q: see quit_after_rule
}

Problem no_shutdown_reply_rule(const CommandLine&, Options& options) {
  if (!options.half_close && replying(options))
    return std::string("--no-shutdown applies only to --transform none (a replying server closes each client itself)");
  return std::nullopt;
}

Problem keep_open_rule(const CommandLine& line, Options& options) {
  options.keep_open = line.parsed.count("keep-open") > 0 || options.broker;
  if (!line.parsed.count("max-conns")) return std::nullopt;
  if (options.udp && !runs_programs(line, options) && !line.parsed.count("forward"))
    return std::string("-m counts connections, and listen -u has none (drop -m or -u)");
  return read_max_conns(line.parsed["max-conns"].as<std::string>(), options);
}

Problem idle_datagram_listen_rule(const CommandLine& line, Options& options) {
  if (options.idle_timeout.count() != 0 && options.udp && !runs_programs(line, options) && !line.parsed.count("forward"))
    return std::string("-i closes an idle connection, and listen -u has none (drop -i or -u)");
  return std::nullopt;
}

}  // namespace sockcat::cli
