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

#include "access_list.hpp"
#include "exit_status.hpp"
#include "framing.hpp"
#include "parse.hpp"
#include "table_lookup.hpp"
#include "transform.hpp"
#include "unix_endpoint.hpp"

namespace sockcat {
namespace {

// An error text, or nothing when the step succeeded.
using Problem = std::optional<std::string>;

// Returns the error of a parse, if it failed.
template <typename T>
Problem problem_of(const Parsed<T>& parsed) {
  if (const auto* problem = std::get_if<std::string>(&parsed)) return *problem;
  return std::nullopt;
}

// -q's value for "never quit after stdin ends" in OpenBSD nc: wait for the peer, the default.
constexpr std::string_view nc_never_quit = "-1";

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
      ("U,unixsock", "the argument is a Unix domain socket PATH (@NAME: Linux abstract name); with -u, datagrams")
      ("n,nodns", "numeric addresses and ports only: never look a name up")
      ("no-shutdown", "keep our sending side open after stdin ends (no TCP half-close)")
      ("q,quit-after", "after stdin ends, wait at most DURATION for the peer (UDP: for a quiet DURATION; default 1s)",
       cxxopts::value<std::string>(), "DURATION")
      ("C,crlf", "send every LF as CRLF (a CRLF already there stays as it is)")
      ("d,delay", "pause DURATION between the lines sent (each line is a send of its own)",
       cxxopts::value<std::string>(), "DURATION")
      ("send-only", "only send: discard what arrives, end once stdin has ended")
      ("recv-only", "only receive: never read stdin, end when the peer closes")
      ("o,output", "write every byte sent and received, in order, to FILE", cxxopts::value<std::string>(), "FILE")
      ("x,hex-dump", "write a hex dump of what is sent (>) and received (<) to FILE",
       cxxopts::value<std::string>(), "FILE")
      ("append-output", "append to the -o and -x files instead of truncating them")
      ("progress", "show bytes, rate, percent and ETA on stderr during the transfer")
      ("stats", "print the bytes sent and received and the duration on stderr at the end")
      ("e,exec", "hand the connection to program CMDLINE as its stdin and stdout (split on blanks; no shell)",
       cxxopts::value<std::string>(), "CMDLINE")
      ("c,sh-exec", "hand the connection to /bin/sh -c COMMAND as its stdin and stdout",
       cxxopts::value<std::string>(), "COMMAND")
      ("framing", "message boundaries: raw (default, a byte stream), line or length", cxxopts::value<std::string>(),
       "NAME")
      ("max-message", "with --framing line|length: largest message a peer may send (default 1M)",
       cxxopts::value<std::string>(), "BYTES")
      ("i,idle-timeout", "end a session (a server: close a client) when no byte moves either way for DURATION",
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
      ("m,max-conns", "serve at most N clients at once; close the others at once (0: every one)",
       cxxopts::value<std::string>(), "N")
      ("allow", "serve only peers in ADDRS: addresses, ranges, host names, comma-separated (repeatable)",
       cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("deny", "refuse peers in ADDRS: addresses, ranges, host names, comma-separated (repeatable)",
       cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("allowfile", "serve only peers listed in FILE (ncat's format: entries between blanks)",
       cxxopts::value<std::vector<std::string>>(), "FILE")
      ("denyfile", "refuse peers listed in FILE (ncat's format: entries between blanks)",
       cxxopts::value<std::vector<std::string>>(), "FILE")
      ("broker", "relay what each client sends to every other client, and stdin to all (implies -k)")
      ("chat", "like --broker, by lines labelled <userN>, terminal controls stripped")
      ("send-file", "give each client the whole of FILE, then close (stdin/stdout unused)",
       cxxopts::value<std::string>(), "FILE");
}

void declare_connect(cxxopts::Options& spec) {
  spec.add_options()
      ("s,source", "local address to connect from", cxxopts::value<std::string>(), "ADDR")
      ("source-port", "local port to connect from", cxxopts::value<std::string>(), "PORT")
      ("w,wait", "give up connecting after DURATION (e.g. 500ms, 5s); with -z -u, the wait for ICMP",
       cxxopts::value<std::string>(), "DURATION")
      ("z,zero-io", "only check whether PORT accepts (-u: whether ICMP refuses); PORT may be a list: 22,80,8000-8100");
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

// Checks that -n leaves nothing to look up: `address` must be a numeric IPv4 or IPv6 address.
Problem check_numeric_address(const std::string& address, std::string_view what, const Options& options) {
  if (!options.numeric_only || literal_family(address)) return std::nullopt;
  return std::string(what) + " " + quote(address) + " is not a numeric address, and -n forbids name lookups";
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

// -U: takes the one positional argument as the socket's PATH or @NAME, and refuses what
// only an IP socket has (`ip_only`: the options of this subcommand that name addresses or
// ports). Checked before anything else the subcommand applies.
Problem apply_unix_path(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                        std::initializer_list<std::string_view> ip_only, Options& options) {
  if (parsed.count("4") || parsed.count("6")) return std::string("-4 and -6 choose an IP family; -U is a Unix socket");
  for (std::string_view option : ip_only) {
    if (parsed.count(std::string(option)))
      return "--" + std::string(option) + " works on IP addresses and ports; -U has only PATH";
  }
  if (positional.empty()) return std::string("missing PATH (-U takes the socket's path as its argument)");
  if (positional.size() > 1) return "unexpected argument " + quote(positional[1]) + " (-U takes one PATH)";
  options.unix_path = positional[0];
  Parsed<UnixAddress> address = parse_unix_address(options.unix_path);
  if (auto* problem = std::get_if<std::string>(&address)) return *problem;
  return std::nullopt;
}

// Checks a port argument; `allow_zero` for local ports.
Problem check_port(const std::string& port, bool udp, bool allow_zero) {
  Parsed<std::uint16_t> parsed = parse_port(port, udp);
  if (auto* problem = std::get_if<std::string>(&parsed)) return *problem;
  if (!allow_zero && std::get<std::uint16_t>(parsed) == 0) return std::string("port 0 is not a valid destination");
  return std::nullopt;
}

// Fills the access lists of a listener (--allow, --deny and their files); checks each entry.
Problem apply_access(const cxxopts::ParseResult& parsed, Options& options) {
  auto values = [&](const char* name) {
    return parsed.count(name) ? parsed[name].as<std::vector<std::string>>() : std::vector<std::string>{};
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

// Fills the command of -e/-c and checks what it excludes. Runs after the subcommand's own
// checks, so that the transform, -k and -z are known.
Problem apply_command(const cxxopts::ParseResult& parsed, Options& options) {
  bool exec = parsed.count("exec") > 0;
  bool shell = parsed.count("sh-exec") > 0;
  if (!exec && !shell) return std::nullopt;
  if (exec && shell) return std::string("-e and -c exclude each other (use one way to run the program)");
  std::string flag = exec ? "-e" : "-c";
  if (exec) {
    options.command = split_on_blanks(parsed["exec"].as<std::string>());
    if (options.command.empty()) return std::string("-e needs a program to run");
  } else {
    const std::string& command = parsed["sh-exec"].as<std::string>();
    if (command.find_first_not_of(" \t") == std::string::npos) return std::string("-c needs a command to run");
    options.command = {"/bin/sh", "-c", command};
  }
  if (options.transform != "none")
    return flag + " and --transform " + options.transform + " exclude each other (the program answers each client)";
  if (options.zero_io) return flag + " has no meaning with -z (no connection is kept)";
  if (options.framing != "raw") return flag + " and --framing exclude each other (the program reads the connection)";
  if (options.quit_after || !options.half_close)
    return "-q and --no-shutdown have no meaning with " + flag + " (the program, not sockcat, owns the connection)";
  if (options.idle_timeout.count() != 0 && !options.udp)  // -u: sockcat pumps each sender's program
    return "-i has no meaning with " + flag + " (the program, not sockcat, reads each client)";
  if (options.broker || !options.send_file.empty())
    return flag + " and " + (options.broker ? (options.chat ? "--chat" : "--broker") : "--send-file") +
           " exclude each other (the program answers each client)";
  return std::nullopt;
}

// Reads --broker, --chat and --send-file and checks what they exclude: servers that never
// touch stdin/stdout take no relay options, and each excludes the other and a transform.
Problem apply_server_modes(const cxxopts::ParseResult& parsed, bool replying, Options& options) {
  options.chat = parsed.count("chat") > 0;
  options.broker = options.chat || parsed.count("broker") > 0;
  std::string_view broker_name = options.chat ? "--chat" : "--broker";
  if (parsed.count("send-file")) {
    options.send_file = parsed["send-file"].as<std::string>();
    if (options.send_file.empty()) return std::string("empty FILE for --send-file");
    if (options.broker) return "--send-file and " + std::string(broker_name) + " exclude each other";
  }
  if (!options.broker && options.send_file.empty()) return std::nullopt;
  std::string mode = options.broker ? std::string(broker_name) : std::string("--send-file");
  if (options.udp) return mode + " serves TCP clients (drop -u)";
  if (replying) return mode + " does not take --transform " + quote(options.transform);
  // The broker reads stdin but never half-closes a client at its end, nor ends there.
  std::string_view why = options.broker ? " (stdin's end ends nothing)" : " (stdin is not used)";
  if (!options.half_close) return "--no-shutdown has no meaning with " + mode + std::string(why);
  if (options.quit_after) return "-q has no meaning with " + mode + std::string(why);
  return std::nullopt;
}

// Takes an IP listener's PORT (from -p or the argument) and its -b address.
Problem apply_listen_address(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                             Options& options) {
  if (positional.size() > 1) return "unexpected argument " + quote(positional[1]);
  if (parsed.count("port") && !positional.empty())
    return "port given twice (" + quote("-p " + parsed["port"].as<std::string>()) + " and " + quote(positional[0]) + ")";
  if (parsed.count("port")) options.port = parsed["port"].as<std::string>();
  else if (!positional.empty()) options.port = positional[0];
  else return std::string("missing PORT");
  if (Problem problem = check_port(options.port, options.udp, true)) return problem;
  if (Problem problem = check_numeric_port(options.port, options)) return problem;
  if (parsed.count("bind")) {
    options.bind_address = parsed["bind"].as<std::string>();
    if (options.bind_address.empty()) return std::string("empty address for -b");
    if (Problem problem = check_family(options.bind_address, options.family, "-b")) return problem;
    if (Problem problem = check_numeric_address(options.bind_address, "-b address", options)) return problem;
  }
  return std::nullopt;
}

Problem apply_listen(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                     Options& options) {
  Problem address = options.unix_socket ? apply_unix_path(parsed, positional, {"port", "bind", "allow", "deny", "allowfile", "denyfile"}, options)
                                        : apply_listen_address(parsed, positional, options);
  if (address) return address;
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
  if (Problem problem = apply_server_modes(parsed, replying, options)) return problem;
  if (!options.half_close && replying)
    return "--no-shutdown applies only to --transform none (a replying server closes each client itself)";
  options.keep_open = parsed.count("keep-open") > 0 || options.broker;
  // listen -u -e/-c runs a program per sender (datagram_exec.hpp): -m counts the programs and
  // -i ends an idle one; plain listen -u has no connection for either.
  const bool runs_programs = options.udp && (parsed.count("exec") || parsed.count("sh-exec"));
  if (parsed.count("max-conns")) {
    if (options.udp && !runs_programs)
      return std::string("-m counts connections, and listen -u has none (drop -m or -u)");
    const std::string& text = parsed["max-conns"].as<std::string>();
    unsigned long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 1'000'000)
      return "-m takes a number of connections from 0 to 1000000, not " + quote(text);
    options.max_conns = static_cast<unsigned>(value);
    options.refuse_clients = value == 0;  // ncat's meaning: every client is closed at once
  }
  if (options.idle_timeout.count() != 0 && options.udp && !runs_programs)
    return std::string("-i closes an idle connection, and listen -u has none (drop -i or -u)");
  if (options.quit_after && replying)
    return std::string("-q applies to a relay (--transform none): a replying server never reads stdin");
  if (options.quit_after && options.keep_open && !options.udp)
    return std::string("-q applies to a relay of one connection, not to -k (which runs until a signal)");
  return apply_access(parsed, options);
}

// Takes -w: the bound on a stream connect, and with -z -u the wait for ICMP. The nc form also
// takes it with -u, for apply_nc_wait.
Problem apply_wait(const cxxopts::ParseResult& parsed, Options& options) {
  if (!parsed.count("wait")) return std::nullopt;
  if (options.udp && !options.zero_io && !options.nc_form)
    return std::string("-w bounds a stream connect or a -z check; a datagram socket has no connect (drop -w or -u)");
  Parsed<std::chrono::milliseconds> wait = parse_duration(parsed["wait"].as<std::string>());
  if (auto* problem = std::get_if<std::string>(&wait)) return *problem;
  options.connect_timeout = std::get<std::chrono::milliseconds>(wait);
  if (options.connect_timeout.count() == 0) return std::string("-w needs a duration above zero");
  return std::nullopt;
}

// connect -U -u -s LOCAL PATH: the PATH or @NAME the client binds to, so that replies can
// reach it (as ncat does). It must differ from PATH.
Problem apply_unix_source(const cxxopts::ParseResult& parsed, Options& options) {
  if (!parsed.count("source")) return std::nullopt;
  options.source_address = parsed["source"].as<std::string>();
  Parsed<UnixAddress> address = parse_unix_address(options.source_address);
  if (auto* problem = std::get_if<std::string>(&address)) return "-s: " + *problem;
  if (options.source_address == options.unix_path)
    return "-s " + quote(options.source_address) + " is the peer's own PATH; the client needs a name of its own";
  return std::nullopt;
}

// Checks -i against the modes with no session for it to watch.
Problem check_idle_timeout(const Options& options) {
  if (options.idle_timeout.count() == 0) return std::nullopt;
  if (options.zero_io) return std::string("-i has no meaning with -z (no connection is kept)");
  return std::nullopt;
}

// The nc form's -w ends an idle relay too (OpenBSD nc's meaning), unless -i says otherwise
// or no session runs (-z, -e/-c).
void apply_nc_wait(Options& options) {
  if (!options.nc_form || options.role != Role::connect || options.connect_timeout.count() == 0) return;
  if (options.zero_io || !options.command.empty() || options.idle_timeout.count() != 0) return;
  options.idle_timeout = options.connect_timeout;
}

// connect -U PATH: no address or port of an IP client applies. -z asks only whether a
// stream listener accepts at PATH; -w bounds the wait while its queue is full.
Problem apply_unix_connect(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                           Options& options) {
  if (parsed.count("source") && !options.udp)
    return std::string("-s with -U names a datagram client's own socket (-u), so that replies reach it");
  if (Problem problem = apply_unix_path(parsed, positional, {"source-port"}, options)) return problem;
  if (Problem problem = apply_unix_source(parsed, options)) return problem;
  options.zero_io = parsed.count("zero-io") > 0;
  if (options.zero_io && options.udp)
    return std::string("-z checks that a stream listener accepts; a datagram socket has nothing to check (drop -z or -u)");
  if (options.zero_io && (!options.half_close || options.quit_after))
    return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
  return apply_wait(parsed, options);
}

Problem apply_connect(const cxxopts::ParseResult& parsed, const std::vector<std::string>& positional,
                      Options& options) {
  if (options.unix_socket) return apply_unix_connect(parsed, positional, options);
  if (positional.size() < 2) return std::string(positional.empty() ? "missing HOST and PORT" : "missing PORT");
  if (positional.size() > 2) return "unexpected argument " + quote(positional[2]);
  options.host = positional[0];
  options.port = positional[1];
  if (options.host.empty()) return std::string("empty HOST");
  if (Problem problem = check_family(options.host, options.family, "HOST")) return problem;
  if (Problem problem = check_numeric_address(options.host, "HOST", options)) return problem;
  options.zero_io = parsed.count("zero-io") > 0;
  if (options.zero_io) {
    if (!options.half_close || options.quit_after)
      return std::string("--no-shutdown and -q have no meaning with -z (nothing is sent)");
    Parsed<std::vector<std::uint16_t>> ports = parse_port_list(options.port, options.udp);
    if (auto* problem = std::get_if<std::string>(&ports)) return *problem;
  } else if (Problem problem = check_port(options.port, options.udp, false)) {
    bool looks_like_list = options.port.find(',') != std::string::npos ||
                           (options.port.find('-') != std::string::npos && std::isdigit(static_cast<unsigned char>(options.port[0])));
    if (looks_like_list)
      return *problem + " (a list of ports needs -z)";
    return problem;
  }
  if (Problem problem = check_numeric_port(options.port, options)) return problem;
  if (parsed.count("source")) {
    options.source_address = parsed["source"].as<std::string>();
    if (options.source_address.empty()) return std::string("empty address for -s");
    if (Problem problem = check_family(options.source_address, options.family, "-s")) return problem;
    if (Problem problem = check_numeric_address(options.source_address, "-s address", options)) return problem;
  }
  if (parsed.count("source-port")) {
    options.source_port = parsed["source-port"].as<std::string>();
    if (Problem problem = check_port(options.source_port, options.udp, true)) return problem;
    if (Problem problem = check_numeric_port(options.source_port, options)) return problem;
  }
  return apply_wait(parsed, options);
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

// Checks -o, -x, --stats, --append-output and --progress against the mode. The logs and the
// counts apply wherever bytes cross (every mode but -z; each client labelled in a server);
// --progress follows one transfer, so it applies to a relay of one connection only.
Problem check_logging(const Options& options) {
  const char* first_log = !options.output_file.empty() ? "-o" : !options.hex_dump_file.empty() ? "-x" : "--stats";
  if (options.zero_io && (options.stats || !options.output_file.empty() || !options.hex_dump_file.empty()))
    return std::string(first_log) + " has no meaning with -z (nothing is relayed)";
  if (options.append_output && options.output_file.empty() && options.hex_dump_file.empty())
    return std::string("--append-output needs -o or -x");
  if (!options.progress) return std::nullopt;
  bool one_relay = !options.zero_io && options.command.empty() && !find_framing(options.framing)->whole_messages;
  if (options.role == Role::listen)
    one_relay = one_relay && !find_transform(options.transform)->reply && !options.udp && !options.keep_open &&
                !options.broker && options.send_file.empty();
  if (!one_relay)
    return std::string("--progress applies to a relay of one connection with stdin/stdout (connect, or listen "
                       "without -k), not to a server of many clients, -e/-c, --framing or -z");
  return std::nullopt;
}

// Reads the relay's connection options (-C, -d, --send-only, --recv-only, -o, -x,
// --append-output, --progress, --stats) and checks that they fit the rest of the command line.
Problem apply_relay_options(const cxxopts::ParseResult& parsed, Options& options) {
  options.crlf = parsed.count("crlf") > 0;
  options.send_only = parsed.count("send-only") > 0;
  options.recv_only = parsed.count("recv-only") > 0;
  options.append_output = parsed.count("append-output") > 0;
  options.progress = parsed.count("progress") > 0;
  options.stats = parsed.count("stats") > 0;
  if (parsed.count("delay")) {
    Parsed<std::chrono::milliseconds> delay = parse_duration(parsed["delay"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&delay)) return *problem;
    options.line_delay = std::get<std::chrono::milliseconds>(delay);
    if (options.line_delay.count() == 0) return std::string("-d needs a duration above zero");
  }
  for (auto [name, file] : {std::pair{"output", &options.output_file}, std::pair{"hex-dump", &options.hex_dump_file}}) {
    if (!parsed.count(name)) continue;
    *file = parsed[name].as<std::string>();
    if (file->empty()) return "empty file name for --" + std::string(name);
  }
  if (Problem problem = check_logging(options)) return problem;
  std::string first_given = first_relay_option(parsed, {});
  if (first_given.empty()) return std::nullopt;

  // Where they apply: a relay of one connection with stdin/stdout.
  if (options.zero_io) return first_given + " has no meaning with -z (nothing is relayed)";
  // -e/-c: -C converts what the program sends (ncat's -C); the rest watch stdin and stdout.
  if (std::string other = first_relay_option(parsed, {"crlf"}); !options.command.empty() && !other.empty())
    return other + " applies to a relay with stdin/stdout, not to -e/-c";
  if (!options.command.empty()) return std::nullopt;  // -C alone: it applies in every mode of -e/-c
  if (find_framing(options.framing)->whole_messages) return first_given + " applies to a byte stream (--framing raw)";
  if (options.role == Role::listen) {
    if (find_transform(options.transform)->reply)
      return first_given + " applies to a relay (--transform none), not to a replying server";
    std::string not_for_udp = first_relay_option(parsed, {"crlf", "send-only", "recv-only"});
    if (options.udp && !not_for_udp.empty())
      return not_for_udp + " applies to a TCP relay and to 'connect -u', not to 'listen -u'";
    // The broker's stdio takes --send-only (only stdin is relayed) and --recv-only (stdin is
    // never read); the other connection options are refused with it.
    std::string not_for_broker = first_relay_option(parsed, {"send-only", "recv-only"});
    if (options.broker && !not_for_broker.empty())
      return not_for_broker + " applies to a relay with stdin/stdout, not to " + (options.chat ? "--chat" : "--broker");
    if (options.keep_open && !options.broker) return first_given + " applies to a relay of one connection, not to -k (shared stdio)";
    if (!options.send_file.empty()) return first_given + " applies to a relay with stdin/stdout, not to --send-file";
  }
  if (options.send_only && options.recv_only) return std::string("--send-only and --recv-only exclude each other");
  if (options.recv_only && (options.crlf || options.line_delay.count() > 0))
    return std::string("-C and -d change what is sent, and --recv-only sends nothing");
  if (options.recv_only && options.quit_after && (!options.udp || options.role == Role::listen))
    return std::string("-q counts from stdin's end, and --recv-only never reads stdin");
  if (options.send_only && options.quit_after)
    return std::string("--send-only ends at stdin's end already: -q has no meaning with it");
  return std::nullopt;
}

// Reads --framing and --max-message and checks them against the rest of the command line
// (the transform, -u, -z): which combinations carry message boundaries at all.
Problem apply_framing(const cxxopts::ParseResult& parsed, Options& options) {
  if (parsed.count("framing")) {
    options.framing = parsed["framing"].as<std::string>();
    if (!find_framing(options.framing)) {
      std::vector<std::string_view> names = framing_names();
      std::string message = "unknown framing " + quote(options.framing) + " (raw, line or length)";
      if (auto suggestion = closest_name(options.framing, names))
        message += "; did you mean '" + std::string(*suggestion) + "'?";
      return message;
    }
  }
  const bool framed = find_framing(options.framing)->whole_messages;
  if (parsed.count("max-message")) {
    if (!framed) return std::string("--max-message applies to --framing line or length");
    if (options.udp) return std::string("--max-message has no meaning with -u (a datagram is its own limit)");
    Parsed<std::size_t> size = parse_byte_size(parsed["max-message"].as<std::string>(), largest_max_message);
    if (auto* problem = std::get_if<std::string>(&size)) return "--max-message: " + *problem;
    options.max_message = std::get<std::size_t>(size);
  }
  if (options.role == Role::connect) {
    if (framed && options.zero_io) return std::string("--framing has no meaning with -z (nothing is sent)");
    if (options.udp && options.framing == "length")
      return std::string("over UDP a datagram is one message: -u takes --framing line (a datagram per line) or raw");
    return std::nullopt;
  }
  const Transform& transform = *find_transform(options.transform);
  if (framed && options.udp)
    return std::string("over UDP every datagram is already one message: listen -u takes no --framing");
  if (framed && !transform.reply)
    return std::string("--framing needs a replying transform (echo, upper, ...); transform none relays bytes as they come");
  if (transform.whole_messages && !options.udp && !framed)
    return "--transform " + std::string(transform.name) +
           " works on whole messages: add --framing line or --framing length (or use -u)";
  return std::nullopt;
}

constexpr Subcommand subcommands[] = {
    {"listen", "wait for a connection (or datagrams) on a local port", "[-p] PORT | -U PATH", Role::listen,
     declare_listen, apply_listen},
    {"connect", "connect to HOST PORT and relay stdin/stdout over the connection", "HOST PORT | -U PATH",
     Role::connect, declare_connect, apply_connect},
};

const Subcommand* find_subcommand(std::string_view name) { return find_row<Subcommand>(subcommands, name); }

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
  text += "  sockcat -l [options] [-p] [PORT]           nc style: listen (port 31337 if none)\n"
          "  sockcat [options] HOST PORT                nc style: connect (-p is the source port)\n"
          "  sockcat --help | --version (-V) | help [SUBCOMMAND]\n\nsubcommands:\n";
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

// Returns how subcommand `sub` declares the option spelled `name` ("-p", "--port"), if it does.
std::optional<cxxopts::HelpOptionDetails> declaration(const Subcommand& sub, const std::string& name) {
  bool is_long = name.rfind("--", 0) == 0;
  std::string bare = name.substr(is_long ? 2 : 1);
  cxxopts::Options spec = make_spec(sub);
  for (const auto& group : spec.groups()) {
    for (const auto& detail : spec.group_help(group).options) {
      if (is_long ? (detail.l.size() == 1 && detail.l[0] == bare) : (bare.size() == 1 && detail.s == bare))
        return detail;
    }
  }
  return std::nullopt;
}

// Tells whether subcommand `sub` declares the option spelled `name` ("-p", "--port").
bool declares(const Subcommand& sub, const std::string& name) { return declaration(sub, name).has_value(); }

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

// How the user spelled option `option` (a subcommand spelling, "--source-port"): in the nc
// form, the nc letter it was rewritten from ("-p"); otherwise `option` itself.
std::string user_spelling(const std::string& option, Role role, bool nc_form);

// The error for an option given as the last word with no value: "-p needs a PORT".
std::string missing_value_message(const Subcommand& sub, const std::vector<std::string>& args, bool nc_form);

// Refuses a flag given a value (`--udp=x`), which cxxopts would parse as a boolean.
Problem check_flag_values(const Subcommand& sub, const std::vector<std::string>& args);

// Checks the value of every option that has a type (durations, ports) and names the option
// when one fails, since the word may have been meant as HOST or PORT: `-d 127.0.0.1 8080`.
Problem check_typed_values(const Subcommand& sub, const cxxopts::ParseResult& parsed, bool udp, bool nc_form);

// When HOST, PORT or PATH is missing: names the option that took the last word given to an
// option as its value, "; -s took '127.0.0.1' as its value", or "" when none did.
std::string swallowed_hint(const std::vector<std::string>& args, Role role, bool nc_form);

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

  Options options;
  options.role = sub.role;
  options.nc_form = nc_form;
  options.udp = parsed.count("udp") > 0;
  if (parsed.count("4") && parsed.count("6")) return usage_error("-4 and -6 exclude each other", help_for);
  if (parsed.count("4")) options.family = Family::v4;
  if (parsed.count("6")) options.family = Family::v6;
  options.unix_socket = parsed.count("unixsock") > 0;
  options.numeric_only = parsed.count("nodns") > 0;
  options.half_close = parsed.count("no-shutdown") == 0;
  if (!options.half_close && options.udp)
    return usage_error("--no-shutdown has no meaning with --udp (datagrams have no half-close)", help_for);
  options.verbosity = static_cast<int>(parsed.count("verbose"));
  if (Problem problem = check_typed_values(sub, parsed, options.udp, nc_form))
    return usage_error(*problem, help_for);
  if (parsed.count("quit-after") && parsed["quit-after"].as<std::string>() != nc_never_quit) {
    Parsed<std::chrono::milliseconds> quit = parse_duration(parsed["quit-after"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&quit)) return usage_error(*problem, help_for);
    options.quit_after = std::get<std::chrono::milliseconds>(quit);
  }
  if (parsed.count("idle-timeout")) {
    Parsed<std::chrono::milliseconds> idle = parse_duration(parsed["idle-timeout"].as<std::string>());
    if (auto* problem = std::get_if<std::string>(&idle)) return usage_error(*problem, help_for);
    options.idle_timeout = std::get<std::chrono::milliseconds>(idle);
    if (options.idle_timeout.count() == 0) return usage_error("-i needs a duration above zero", help_for);
  }
  std::vector<std::string> positional;
  if (parsed.count("positional")) positional = parsed["positional"].as<std::vector<std::string>>();
  // cxxopts passes malformed options ("--4", "--=x") through as positional arguments.
  for (const std::string& argument : positional) {
    if (argument.size() > 1 && argument[0] == '-') return usage_error(unknown_option_message(argument, sub), help_for);
  }
  for (const char* single : {"port", "bind", "transform", "source", "source-port", "wait", "quit-after", "max-conns",
                             "idle-timeout", "send-file", "framing", "max-message", "exec", "sh-exec", "delay",
                             "output", "hex-dump"}) {
    if (parsed.count(single) > 1) return usage_error("--" + std::string(single) + " given more than once", help_for);
  }
  if (Problem problem = sub.apply(parsed, positional, options)) {
    bool argument_missing = problem->rfind("missing ", 0) == 0;  // "missing PORT", "missing PATH ..."
    if (argument_missing) *problem += swallowed_hint(args, sub.role, nc_form);
    return usage_error(*problem, help_for);
  }
  if (Problem problem = apply_framing(parsed, options)) return usage_error(*problem, help_for);
  if (Problem problem = apply_command(parsed, options)) return usage_error(*problem, help_for);
  if (Problem problem = apply_relay_options(parsed, options)) return usage_error(*problem, help_for);
  if (Problem problem = check_idle_timeout(options)) return usage_error(*problem, help_for);
  apply_nc_wait(options);

  CliOutcome outcome;
  outcome.options = std::move(options);
  return outcome;
}

// Parses argv; may throw on a parser bug (parse_command_line catches).
CliOutcome parse_argv(const std::vector<std::string>& argv);

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

// ncat's port for `-l` with no port (`ncat -l`, `ncat -l ADDR`); `sockcat listen` has none.
constexpr std::string_view ncat_default_port = "31337";

const NcSpelling* find_nc_spelling(char letter) {
  for (const NcSpelling& row : nc_spellings)
    if (row.letter == letter) return &row;
  return nullptr;
}

// The option spellings ("-p", "--port") of every subcommand, read from the subcommands' own
// declarations so that options added there are known here too.
struct KnownOptions {
  std::vector<std::string> valued;  // those that take a value
  std::vector<std::string> flags;   // those that do not
};

KnownOptions known_options() {
  KnownOptions known{{}, {"-l", "--listen", "-N"}};
  for (const Subcommand& sub : subcommands) {
    cxxopts::Options spec = make_spec(sub);
    for (const auto& group : spec.groups()) {
      for (const auto& detail : spec.group_help(group).options) {
        std::vector<std::string>& list = detail.is_boolean ? known.flags : known.valued;
        if (!detail.s.empty()) list.push_back("-" + detail.s);
        for (const std::string& name : detail.l) list.push_back("--" + name);
      }
    }
  }
  return known;
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
};

// Rewrites one option argument (not a positional one) for mode `listen`, using `known` to
// tell which options take a value.
NcWord rewrite_nc_option(const std::string& arg, bool listen, const KnownOptions& known) {
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
    const NcSpelling* spelling = find_nc_spelling(letter);
    if (letter == 'l') word.listen = true;
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

// Where an option word stands in an argv, and whether it takes the next word as its value.
struct OptionWord {
  std::size_t index;  // in args
  bool takes_next;    // its last option takes args[index + 1] as its value
};

// The option words of `args` (after args[0], up to "--"), read as cxxopts reads them: the
// word after an option that takes a value is that value, whatever it looks like.
std::vector<OptionWord> option_words(const std::vector<std::string>& args) {
  const KnownOptions known = known_options();
  std::vector<OptionWord> words;
  for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i].size() < 2 || args[i][0] != '-') continue;
    bool takes_next = rewrite_nc_option(args[i], false, known).takes_next;
    words.push_back({i, takes_next});
    if (takes_next) ++i;
  }
  return words;
}

// Returns the option an option word names: the word itself when long ("--transform"),
// else its last letter ("-vp" gives "-p"), the one that can take the next word.
std::string last_option_of(const std::string& word) {
  return word.rfind("--", 0) == 0 ? word.substr(0, word.find('=')) : std::string("-") + word.back();
}

// Returns `placeholder` ("PORT") after "a" or "an", as it is read aloud; a plural one
// ("ADDRS", "BYTES") as it is.
std::string with_article(const std::string& placeholder) {
  if (placeholder.back() == 'S') return placeholder;
  std::string_view vowel_sounds = placeholder.size() == 1 ? "AEFHILMNORSX" : "AEIOU";  // "an N", "an ADDR"
  bool vowel_sound = vowel_sounds.find(placeholder[0]) != std::string_view::npos;
  return (vowel_sound ? "an " : "a ") + placeholder;
}

std::string user_spelling(const std::string& option, Role role, bool nc_form) {
  if (!nc_form) return option;
  for (const NcSpelling& row : nc_spellings) {
    std::string_view spelled = role == Role::listen ? row.in_listen : row.in_connect;
    if (!spelled.empty() && spelled == option) return std::string("-") + row.letter;
  }
  return option;
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

// An option whose value has a type, and the word parse.hpp's errors about such a value begin with.
struct TypedOption {
  const char* name;       // the long name, as declared
  std::string_view kind;  // "duration" (parse_duration) or "port" (parse_port)
};

constexpr TypedOption typed_options[] = {
    {"quit-after", "duration"}, {"delay", "duration"}, {"idle-timeout", "duration"},
    {"wait", "duration"},       {"port", "port"},      {"source-port", "port"},
};

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

}  // namespace

std::vector<std::string> nc_to_subcommand_argv(const std::vector<std::string>& argv) {
  const KnownOptions known = known_options();
  // Pass 1 finds the mode; pass 2 spells every argument for it.
  bool listen = false;
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
      NcWord word = rewrite_nc_option(arg, listen, known);
      if (pass == 1 && word.listen) listen = true;
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

std::vector<std::string_view> subcommand_names() { return row_names<Subcommand>(subcommands); }

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
  if (first == "--list-transforms") return print(describe_transforms());  // as `listen --list-transforms`
  if (first == "help") {
    if (argv.size() == 2) return print(top_level_help());
    const Subcommand* sub = find_subcommand(argv[2]);
    if (!sub || argv.size() > 3) return usage_error("help takes one of: listen, connect", "");
    return print(make_spec(*sub).help());
  }
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

}  // namespace sockcat
