// The rule of --ssl and its options: reads their values into options.tls, and refuses the
// combinations that cannot mean anything (DTLS, a pin beside a trust store, ...).
#include <initializer_list>

#include "cli/rule_steps.hpp"
#include "parse.hpp"
#include "tls_values.hpp"

namespace sockcat::cli {
namespace {

// Whether any TLS option was given: each implies --ssl.
bool any_tls_option(const CommandLine& line) {
  for (const char* name : {"ssl", "ssl-cert", "ssl-key", "ssl-trustfile", "ssl-verify", "ssl-alpn", "ssl-ciphers",
                           "ssl-min-version", "ssl-handshake-timeout", "ssl-servername", "ssl-pin", "ssl-insecure"}) {
    if (line.parsed.count(name)) return true;
  }
  return false;
}

// Reads the values that sockcat parses itself: the pin, the ALPN list, the version, the time limit.
Problem read_tls_values(const CommandLine& line, TlsOptions& tls) {
  if (line.parsed.count("ssl-pin")) {
    Parsed<Sha256> pin = parse_pin(value_of(line, "ssl-pin"));
    if (Problem problem = problem_of(pin)) return problem;
    tls.pin = std::get<Sha256>(pin);
  }
  if (line.parsed.count("ssl-alpn")) {
    Parsed<AlpnList> alpn = parse_alpn_list(value_of(line, "ssl-alpn"));
    if (Problem problem = problem_of(alpn)) return problem;
    tls.alpn = std::get<AlpnList>(alpn).wire;
  }
  if (line.parsed.count("ssl-min-version")) {
    Parsed<TlsVersion> version = parse_tls_version(value_of(line, "ssl-min-version"));
    if (Problem problem = problem_of(version)) return problem;
    tls.min_version = std::get<TlsVersion>(version);
  }
  if (line.parsed.count("ssl-handshake-timeout")) {
    Parsed<std::chrono::milliseconds> limit = parse_duration(value_of(line, "ssl-handshake-timeout"));
    if (Problem problem = problem_of(limit)) return "--ssl-handshake-timeout: " + *problem;
    tls.handshake_timeout = std::get<std::chrono::milliseconds>(limit);
    if (tls.handshake_timeout.count() == 0) return std::string("--ssl-handshake-timeout needs a duration above zero");
  }
  return std::nullopt;
}

}  // namespace

Problem tls_rule(const CommandLine& line, Options& options) {
  if (!any_tls_option(line)) return std::nullopt;
  TlsOptions& tls = options.tls;
  tls.enabled = true;
  if (options.udp) return std::string("--ssl needs a stream: TLS over UDP (DTLS) is not supported (drop -u)");
  if (Problem problem = read_tls_values(line, tls)) return problem;
  tls.cert_file = value_of(line, "ssl-cert");
  tls.key_file = value_of(line, "ssl-key");
  tls.trust_file = value_of(line, "ssl-trustfile");
  tls.server_name = value_of(line, "ssl-servername");
  tls.ciphers = value_of(line, "ssl-ciphers");
  tls.insecure = line.parsed.count("ssl-insecure") > 0;
  if (!tls.key_file.empty() && tls.cert_file.empty()) return std::string("--ssl-key needs --ssl-cert (the certificate of that key)");
  if (options.role == Role::listen) {
    tls.verify_clients = line.parsed.count("ssl-verify") > 0;
    if (tls.verify_clients && tls.trust_file.empty())
      return std::string("listen --ssl-verify needs --ssl-trustfile: the CA certificates that sign client certificates");
    if (!tls.verify_clients && !tls.trust_file.empty())
      return std::string("listen --ssl-trustfile only serves --ssl-verify (client certificates): add it, or drop the file");
    return std::nullopt;
  }
  // -w bounds the handshake too, unless --ssl-handshake-timeout says otherwise.
  if (!line.parsed.count("ssl-handshake-timeout") && options.connect_timeout.count() > 0)
    tls.handshake_timeout = options.connect_timeout;
  if (tls.pin && tls.insecure) return std::string("--ssl-pin and --ssl-insecure exclude each other (a pin is a check)");
  if (tls.pin && !tls.trust_file.empty())
    return std::string("--ssl-pin is the whole trust decision: --ssl-trustfile would not be used");
  if (tls.insecure && !tls.trust_file.empty())
    return std::string("--ssl-insecure verifies nothing: --ssl-trustfile would not be used");
  if (options.unix_socket && tls.server_name.empty() && !tls.pin && !tls.insecure)
    return std::string("connect -U --ssl: say which name the certificate must carry (--ssl-servername NAME), "
                       "or pin it (--ssl-pin), or --ssl-insecure");
  return std::nullopt;
}

}  // namespace sockcat::cli
