// The rule functions of the rule table (rules.cpp), defined by topic: addresses and ports
// (address_rules.cpp), the listener's modes (listen_rules.cpp), what shapes a session
// (session_rules.cpp), TLS (tls_rules.cpp), --forward (forward_rules.cpp), --proxy
// (proxy_rules.cpp) and the proxy server (proxy_server_rules.cpp). Each is a RuleFunction;
// see rules.cpp for the order they run in.
#pragma once

#include "cli/rules.hpp"

namespace sockcat::cli {

// The value of string option `name`, or "" when it was not given.
inline std::string value_of(const CommandLine& line, const char* name) {
  return line.parsed.count(name) ? line.parsed[name].as<std::string>() : std::string();
}

// --- address_rules.cpp ---
// Checks that -n leaves nothing to look up: `address` must be a numeric IPv4 or IPv6 address
// ("WHAT 'name' is not a numeric address, and -n forbids name lookups" otherwise).
Problem check_numeric_address(const std::string& address, std::string_view what, const Options& options);

// listen: PORT (argument or -p) and -b, or -U's PATH; "missing PORT" names a swallowed word.
Problem listen_address_rule(const CommandLine& line, Options& options);
// connect: HOST PORT (or -z's port list), -s and --source-port; or -U's PATH and -s LOCAL.
Problem connect_address_rule(const CommandLine& line, Options& options);
// connect -w: the bound on a connect (and -z -u's wait for ICMP).
Problem wait_rule(const CommandLine& line, Options& options);
// listen --allow, --deny, --allowfile, --denyfile: each entry checked.
Problem access_rule(const CommandLine& line, Options& options);

// --- listen_rules.cpp ---
// listen --transform: its row; an unknown name suggests the closest.
Problem transform_rule(const CommandLine& line, Options& options);
// listen --broker, --chat, --send-file: each excludes the others, a transform and -u.
Problem server_modes_rule(const CommandLine& line, Options& options);
// listen --no-shutdown: only a relay (--transform none) has a send side to keep open.
Problem no_shutdown_reply_rule(const CommandLine& line, Options& options);
// listen -k and -m: keep accepting; how many clients at once.
Problem keep_open_rule(const CommandLine& line, Options& options);
// listen -u -i: only with -e/-c is there a session for -i to end.
Problem idle_datagram_listen_rule(const CommandLine& line, Options& options);

// --- session_rules.cpp ---
// --framing and --max-message: which modes carry message boundaries.
Problem framing_rule(const CommandLine& line, Options& options);
// -e and -c: the program's argv, and the options a program excludes.
Problem command_rule(const CommandLine& line, Options& options);
// -C, -d, --send-only, --recv-only, -o, -x, --append-output, --progress, --stats: their values.
Problem relay_values_rule(const CommandLine& line, Options& options);
// -o, -x, --stats, --append-output, --progress: where logs and counts apply.
Problem logging_rule(const CommandLine& line, Options& options);
// -C, -d, --send-only, --recv-only: where the relay's shaping applies, and what excludes what.
Problem relay_shaping_rule(const CommandLine& line, Options& options);

// --- tls_rules.cpp ---
// --ssl and every --ssl-* option: their values, and where TLS has no meaning.
Problem tls_rule(const CommandLine& line, Options& options);

// --- forward_rules.cpp ---

Problem forward_rule(const CommandLine& line, Options& options);
// The first option given that shapes the relay with stdin/stdout or picks another server mode
// (--broker, -e, -o, -C, ...: what a server without stdin and stdout refuses), or null.
const char* first_stdio_option(const CommandLine& line);

// --- proxy_rules.cpp ---

Problem proxy_rule(const CommandLine& line, Options& options);
// USER:PASS from --proxy-auth, or else from SOCKCAT_PROXY_AUTH when it is set and not empty;
// nothing when neither says.
std::optional<std::string> proxy_auth_text(const CommandLine& line);

// --- proxy_server_rules.cpp ---
// listen --proxy-type socks5|http without --proxy or --forward: a proxy server, with
// --proxy-auth, --proxy-allow, --proxy-deny and --proxy-ports; those three need one.
Problem proxy_server_rule(const CommandLine& line, Options& options);

}  // namespace sockcat::cli
