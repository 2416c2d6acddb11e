// The rule of listen --forward: reads the target and the TLS spoken to it into
// options.forward, and refuses every option that would mean something to the relay with
// stdin/stdout, which a forwarding server does not have.
#include <initializer_list>

#include "cli/rule_steps.hpp"
#include "parse.hpp"
#include "tls_values.hpp"

namespace sockcat::cli {
namespace {

// The TLS options of the target, each of which implies --forward-ssl.
constexpr std::initializer_list<const char*> forward_tls_names = {
    "forward-ssl", "forward-ssl-trustfile", "forward-ssl-servername", "forward-ssl-pin", "forward-ssl-insecure"};

// The options that shape the relay with stdin/stdout or pick another server mode.
constexpr std::initializer_list<const char*> stdio_names = {
    "broker", "chat",   "send-file", "exec",      "sh-exec", "framing",   "max-message", "output",  "hex-dump",
    "append-output", "progress", "stats", "crlf", "delay", "send-only", "recv-only", "quit-after", "no-shutdown"};

// Reads TARGET: unix:PATH (or unix:@NAME), HOST:PORT or [IPV6]:PORT.
Problem read_target(const std::string& text, const Options& options, ForwardTarget& target) {
  const bool udp = options.udp;
  if (text.rfind("unix:", 0) == 0) {
    Parsed<UnixAddress> address = parse_unix_address(text.substr(5));
    if (Problem problem = problem_of(address)) return "--forward " + quote(text) + ": " + *problem;
    target.unix_address = std::get<UnixAddress>(address);
    return std::nullopt;
  }
  Parsed<HostPort> parsed = parse_host_port(text, std::nullopt, udp);
  if (Problem problem = problem_of(parsed)) return "--forward " + *problem;
  const HostPort& host_port = std::get<HostPort>(parsed);
  target.host = host_port.host;
  if (options.numeric_only && host_port.port_text.find_first_not_of("0123456789") != std::string::npos)
    return "--forward " + quote(text) + ": the port is not numeric, and -n forbids service name lookups";
  target.port = Port{host_port.port_text, host_port.port};
  return std::nullopt;
}

// Reads --forward-ssl and its options into target.tls; the same checks as connect --ssl.
Problem read_target_tls(const CommandLine& line, ForwardTarget& target) {
  TlsOptions& tls = target.tls;
  tls.enabled = true;
  tls.option = "--forward-ssl";
  tls.trust_file = value_of(line, "forward-ssl-trustfile");
  tls.server_name = value_of(line, "forward-ssl-servername");
  tls.insecure = line.parsed.count("forward-ssl-insecure") > 0;
  if (line.parsed.count("forward-ssl-pin")) {
    Parsed<Sha256> pin = parse_pin(value_of(line, "forward-ssl-pin"));
    if (Problem problem = problem_of(pin)) return "--forward-ssl-pin: " + *problem;
    tls.pin = std::get<Sha256>(pin);
  }
  if (tls.pin && tls.insecure)
    return std::string("--forward-ssl-pin and --forward-ssl-insecure exclude each other (a pin is a check)");
  if (tls.pin && !tls.trust_file.empty())
    return std::string("--forward-ssl-pin is the whole trust decision: --forward-ssl-trustfile would not be used");
  if (tls.insecure && !tls.trust_file.empty())
    return std::string("--forward-ssl-insecure verifies nothing: --forward-ssl-trustfile would not be used");
  if (target.unix_address && tls.server_name.empty() && !tls.pin && !tls.insecure)
    return std::string("--forward unix:PATH with --forward-ssl: say which name the certificate must carry "
                       "(--forward-ssl-servername NAME), or pin it (--forward-ssl-pin), or --forward-ssl-insecure");
  return std::nullopt;
}

}  // namespace

const char* first_stdio_option(const CommandLine& line) {
  for (const char* name : stdio_names) {
    if (line.parsed.count(name)) return name;
  }
  return nullptr;
}

Problem forward_rule(const CommandLine& line, Options& options) {
  bool tls_asked = false;
  for (const char* name : forward_tls_names) tls_asked = tls_asked || line.parsed.count(name) > 0;
  if (!line.parsed.count("forward")) {
    if (tls_asked) return std::string("--forward-ssl and its options need --forward TARGET");
    return std::nullopt;
  }
  if (const char* name = first_stdio_option(line))
    return "--" + std::string(name) + " has no meaning with --forward (each client is relayed to the target; "
           "stdin and stdout are not used)";
  if (options.transform->reply)
    return "--forward relays each client to its target: --transform " + quote(options.transform->name) +
           " would answer it instead";
  if (options.udp && tls_asked) return std::string("--forward-ssl needs a stream: TLS over UDP is not supported (drop -u)");
  ForwardTarget target;
  if (Problem problem = read_target(value_of(line, "forward"), options, target)) return problem;
  if (!target.unix_address) {
    if (Problem problem = check_numeric_address(target.host, "--forward host", options)) return problem;
  }
  if (options.udp && target.unix_address) return std::string("listen -u --forward needs a UDP target, HOST:PORT");
  if (options.udp && options.unix_socket)
    return std::string("listen -U -u --forward is not supported: a Unix datagram sender may have no address to answer");
  if (tls_asked) {
    if (Problem problem = read_target_tls(line, target)) return problem;
  }
  options.forward = std::move(target);
  return std::nullopt;
}

}  // namespace sockcat::cli
