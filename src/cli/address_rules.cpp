// The rules about where to listen or connect: ports (parsed to numbers here, once), addresses,
// Unix paths (parsed to sockaddr_un here, once), -w, and a listener's access lists.
#include <arpa/inet.h>

#include <cctype>

#include "access_list.hpp"
#include "cli/messages.hpp"
#include "cli/rule_steps.hpp"
#include "parse.hpp"
#include "unix_endpoint.hpp"

namespace sockcat::cli {
namespace {

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

// Checks a -b or -s address: not empty, of -4/-6's family, numeric under -n.
Problem check_local_address(const std::string& address, std::string_view option, const Options& options) {
  if (address.empty()) return "empty address for " + std::string(option);
  if (Problem problem = check_family(address, options.family, option)) return problem;
  return check_numeric_address(address, std::string(option) + " address", options);
}

// Checks that -n leaves nothing to look up: `port` (or a -z port list) must be digits only.
Problem check_numeric_port(const std::string& port, const Options& options) {
  if (!options.numeric_only) return std::nullopt;
  bool list = options.zero_io;
  for (char c : port) {
    if ((c < '0' || c > '9') && !(list && (c == ',' || c == '-')))
      return "port " + quote(port) + " is not numeric, and -n forbids service name lookups";
  }
  return std::nullopt;
}

// Reads a port argument into `port` (a service name looked up for -u's protocol); `allow_zero`
// for local ports.
Problem read_port(const std::string& text, bool udp, bool allow_zero, Port& port) {
  Parsed<std::uint16_t> parsed = parse_port(text, udp);
  if (Problem problem = problem_of(parsed)) return problem;
  if (!allow_zero && std::get<std::uint16_t>(parsed) == 0) return std::string("port 0 is not a valid destination");
  port = {text, std::get<std::uint16_t>(parsed)};
  return std::nullopt;
}

// -U: takes the one positional argument as the socket's PATH or @NAME, and refuses what
// only an IP socket has (`ip_only`: the options of this subcommand that name addresses or
// ports). Checked before anything else the subcommand applies.
Problem apply_unix_path(const CommandLine& line, std::initializer_list<std::string_view> ip_only, Options& options) {
  const cxxopts::ParseResult& parsed = line.parsed;
  if (parsed.count("4") || parsed.count("6")) return std::string("-4 and -6 choose an IP family; -U is a Unix socket");
  for (std::string_view option : ip_only) {
    if (parsed.count(std::string(option)))
      return "--" + std::string(option) + " works on IP addresses and ports; -U has only PATH";
  }
  if (line.positional.empty()) return std::string("missing PATH (-U takes the socket's path as its argument)");
  if (line.positional.size() > 1) return "unexpected argument " + quote(line.positional[1]) + " (-U takes one PATH)";
  Parsed<UnixAddress> address = parse_unix_address(line.positional[0]);
  if (Problem problem = problem_of(address)) return problem;
  options.unix_address = std::get<UnixAddress>(address);
  return std::nullopt;
}

// Takes an IP listener's PORT (from -p or the argument) and its -b address.
Problem apply_listen_address(const CommandLine& line, Options& options) {
  const cxxopts::ParseResult& parsed = line.parsed;
  const std::vector<std::string>& positional = line.positional;
  if (positional.size() > 1) return "unexpected argument " + quote(positional[1]);
  if (parsed.count("port") && !positional.empty())
    return "port given twice (" + quote("-p " + parsed["port"].as<std::string>()) + " and " + quote(positional[0]) + ")";
  std::string port;
  if (parsed.count("port")) port = parsed["port"].as<std::string>();
  else if (!positional.empty()) port = positional[0];
  else return std::string("missing PORT");
  if (Problem problem = read_port(port, options.udp, true, options.port)) return problem;
  if (Problem problem = check_numeric_port(port, options)) return problem;
  if (!parsed.count("bind")) return std::nullopt;
  options.bind_address = parsed["bind"].as<std::string>();
  return check_local_address(options.bind_address, "-b", options);
}

// connect -U -u -s LOCAL PATH: the PATH or @NAME the client binds to, so that replies can
// reach it (as ncat does). It must differ from PATH.
Problem apply_unix_source(const CommandLine& line, Options& options) {
  if (!line.parsed.count("source")) return std::nullopt;
  options.source_address = line.parsed["source"].as<std::string>();
  Parsed<UnixAddress> address = parse_unix_address(options.source_address);
  if (Problem problem = problem_of(address)) return "-s: " + *problem;
  if (options.source_address == line.positional[0])
    return "-s " + quote(options.source_address) + " is the peer's own PATH; the client needs a name of its own";
  options.unix_source = std::get<UnixAddress>(address);
  return std::nullopt;
}

// connect -U PATH: no address or port of an IP client applies. -z asks only whether a
// stream listener accepts at PATH.
Problem apply_unix_connect(const CommandLine& line, Options& options) {
  if (line.parsed.count("source") && !options.udp)
    return std::string("-s with -U names a datagram client's own socket (-u), so that replies reach it");
  if (Problem problem = apply_unix_path(line, {"source-port"}, options)) return problem;
  if (Problem problem = apply_unix_source(line, options)) return problem;
  options.zero_io = line.parsed.count("zero-io") > 0;
  if (options.zero_io && options.udp)
    return std::string("-z checks that a stream listener accepts; a datagram socket has nothing to check (drop -z or -u)");
  if (options.zero_io && !options.half_close)  // -z with -q: see quit_after_rule
    return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
  return std::nullopt;
}

// Reads connect's PORT: one port, or with -z the list of ports to check.
Problem read_peer_port(const std::string& text, Options& options) {
  if (!options.zero_io) {
    Problem problem = read_port(text, options.udp, false, options.port);
    bool looks_like_list = text.find(',') != std::string::npos ||
                           (text.find('-') != std::string::npos && std::isdigit(static_cast<unsigned char>(text[0])));
    if (problem && looks_like_list) return *problem + " (a list of ports needs -z)";
    if (problem) return problem;
  } else {
    options.port.text = text;
    Parsed<std::vector<std::uint16_t>> ports = parse_port_list(text, options.udp);
    if (Problem problem = problem_of(ports)) return problem;
    options.port_list = std::get<std::vector<std::uint16_t>>(ports);
  }
  return check_numeric_port(text, options);
}

// connect HOST PORT: the peer, -z, and the local end (-s, --source-port).
Problem apply_ip_connect(const CommandLine& line, Options& options) {
  const std::vector<std::string>& positional = line.positional;
  if (positional.size() < 2) return std::string(positional.empty() ? "missing HOST and PORT" : "missing PORT");
  if (positional.size() > 2) return "unexpected argument " + quote(positional[2]);
  options.host = positional[0];
  if (options.host.empty()) return std::string("empty HOST");
  if (Problem problem = check_family(options.host, options.family, "HOST")) return problem;
  if (Problem problem = check_numeric_address(options.host, "HOST", options)) return problem;
  options.zero_io = line.parsed.count("zero-io") > 0;
  if (options.zero_io && !options.half_close)  // -z with -q: see quit_after_rule
    return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
  if (Problem problem = read_peer_port(positional[1], options)) return problem;
  if (line.parsed.count("source")) {
    options.source_address = line.parsed["source"].as<std::string>();
    if (Problem problem = check_local_address(options.source_address, "-s", options)) return problem;
  }
  if (!line.parsed.count("source-port")) return std::nullopt;
  const std::string& source_port = line.parsed["source-port"].as<std::string>();
  if (Problem problem = read_port(source_port, options.udp, true, options.source_port)) return problem;
  return check_numeric_port(source_port, options);
}

// Adds swallowed_hint to a "missing HOST/PORT/PATH" problem.
Problem with_swallowed_hint(Problem problem, const CommandLine& line) {
  if (problem && problem->rfind("missing ", 0) == 0) *problem += swallowed_hint(line.args, line.sub.role, line.nc_form);
  return problem;
}

}  // namespace

Problem check_numeric_address(const std::string& address, std::string_view what, const Options& options) {
  if (!options.numeric_only || literal_family(address)) return std::nullopt;
  return std::string(what) + " " + quote(address) + " is not a numeric address, and -n forbids name lookups";
}

Problem listen_address_rule(const CommandLine& line, Options& options) {
  if (!options.unix_socket) return with_swallowed_hint(apply_listen_address(line, options), line);
  return with_swallowed_hint(
      apply_unix_path(line, {"port", "bind", "allow", "deny", "allowfile", "denyfile"}, options), line);
}

Problem connect_address_rule(const CommandLine& line, Options& options) {
  return with_swallowed_hint(options.unix_socket ? apply_unix_connect(line, options) : apply_ip_connect(line, options),
                             line);
}

Problem wait_rule(const CommandLine& line, Options& options) {
  if (!line.parsed.count("wait")) return std::nullopt;
  if (options.udp && !options.zero_io && !options.nc_form)
    return std::string("-w bounds a stream connect or a -z check; a datagram socket has no connect (drop -w or -u)");
  Parsed<std::chrono::milliseconds> wait = parse_duration(line.parsed["wait"].as<std::string>());
  if (Problem problem = problem_of(wait)) return problem;
  options.connect_timeout = std::get<std::chrono::milliseconds>(wait);
  if (options.connect_timeout.count() == 0) return std::string("-w needs a duration above zero");
  return std::nullopt;
}

Problem access_rule(const CommandLine& line, Options& options) {
  auto values = [&](const char* name) {
    return line.parsed.count(name) ? line.parsed[name].as<std::vector<std::string>>() : std::vector<std::string>{};
  };
  options.allow = values("allow");
  options.deny = values("deny");
  options.allow_files = values("allowfile");
  options.deny_files = values("denyfile");
  std::vector<AccessEntry> entries;  // host names are checked as written here, resolved at start-up
  for (const auto* list : {&options.allow, &options.deny}) {
    std::string option = list == &options.allow ? "--allow" : "--deny";
    for (const std::string& spec : *list) {
      if (Problem problem = parse_entry_list(spec, option, entries)) return option + ": " + *problem;
      if (const HostName* name = first_host_name(entries); name && options.numeric_only)
        return option + ": " + quote(name->name) + " is a host name, and -n forbids name lookups";
    }
  }
  for (const auto* files : {&options.allow_files, &options.deny_files}) {
    for (const std::string& path : *files)
      if (path.empty()) return "empty file name for --" + std::string(files == &options.allow_files ? "allowfile" : "denyfile");
  }
  return std::nullopt;
}

}  // namespace sockcat::cli
