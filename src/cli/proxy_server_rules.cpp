// The rule of the proxy server: `listen --proxy-type socks5|http` without --proxy (which makes
// --proxy-type the type of a proxy that --forward goes out through) and without --forward.
// Reads the type, the credentials clients must send (--proxy-auth or SOCKCAT_PROXY_AUTH) and
// the destination limits (--proxy-allow, --proxy-deny, --proxy-ports) into
// options.proxy_server, and refuses what a server without stdin and stdout cannot honour.
#include <algorithm>
#include <initializer_list>

#include "access_list.hpp"
#include "cli/rule_steps.hpp"
#include "parse.hpp"

namespace sockcat::cli {
namespace {

// The options that only restrict a proxy server's destinations.
constexpr std::initializer_list<const char*> destination_names = {"proxy-allow", "proxy-deny", "proxy-ports"};

// The first of destination_names given, or null.
const char* first_destination_option(const CommandLine& line) {
  for (const char* name : destination_names) {
    if (line.parsed.count(name)) return name;
  }
  return nullptr;
}

// The values of a repeatable option, or none.
std::vector<std::string> values_of(const CommandLine& line, const char* name) {
  return line.parsed.count(name) ? line.parsed[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// Reads the server's --proxy-type: socks5 (nc: 5) or http (nc: connect); the client-only
// SOCKS4 types are named as such.
Problem read_server_type(const std::string& text, ProxyType& type) {
  if (text == "socks5" || text == "5") type = ProxyType::socks5;
  else if (text == "http" || text == "connect") type = ProxyType::http;
  else if (text == "socks4" || text == "socks4a" || text == "4")
    return "a proxy server speaks socks5 or http: --proxy-type " + quote(text) + " is for connect --proxy only";
  else return "unknown --proxy-type " + quote(text) + " (a proxy server speaks socks5 or http)";
  return std::nullopt;
}

// True when `text` holds a control byte (it could not arrive in an HTTP Basic field).
bool has_control_bytes(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

// Reads the USER:PASS clients must send, if given: both parts 1-255 bytes (RFC 1929's
// limits) without control bytes. The problem never shows the password.
Problem read_server_credentials(const CommandLine& line, ProxyServerOptions& server) {
  std::optional<std::string> text = proxy_auth_text(line);
  if (!text) return std::nullopt;
  const char* source = line.parsed.count("proxy-auth") ? "--proxy-auth" : proxy_auth_variable.data();
  std::size_t colon = text->find(':');
  if (colon == std::string::npos) return std::string(source) + " needs USER:PASS for a proxy server (no colon found)";
  server.user = text->substr(0, colon);
  server.password = text->substr(colon + 1);
  for (const std::string* part : {&server.user, &server.password}) {
    if (part->empty() || part->size() > 255 || has_control_bytes(*part))
      return std::string(source) + ": a proxy server's " + (part == &server.user ? "USER" : "PASS") +
             " must be 1-255 bytes without control bytes";
  }
  server.authenticate = true;
  return std::nullopt;
}

// Reads --proxy-allow and --proxy-deny: each entry checked as --allow's are (names resolved at
// start-up, and refused under -n).
Problem read_destination_lists(const CommandLine& line, const Options& options, ProxyServerOptions& server) {
  server.allow = values_of(line, "proxy-allow");
  server.deny = values_of(line, "proxy-deny");
  std::vector<AccessEntry> entries;
  for (const auto* list : {&server.allow, &server.deny}) {
    std::string option = list == &server.allow ? "--proxy-allow" : "--proxy-deny";
    for (const std::string& spec : *list) {
      if (Problem problem = parse_entry_list(spec, option, entries)) return option + ": " + *problem;
      if (const HostName* name = first_host_name(entries); name && options.numeric_only)
        return option + ": " + quote(name->name) + " is a host name, and -n forbids name lookups";
    }
  }
  return std::nullopt;
}

// Reads --proxy-ports: a list of ports and ranges as connect -z takes it, kept ascending.
Problem read_destination_ports(const CommandLine& line, ProxyServerOptions& server) {
  if (!line.parsed.count("proxy-ports")) return std::nullopt;
  if (line.parsed.count("proxy-ports") > 1) return std::string("--proxy-ports given more than once");
  Parsed<std::vector<std::uint16_t>> ports = parse_port_list(line.parsed["proxy-ports"].as<std::string>(), false);
  if (Problem problem = problem_of(ports)) return "--proxy-ports: " + *problem;
  server.ports = std::get<std::vector<std::uint16_t>>(std::move(ports));
  std::sort(server.ports.begin(), server.ports.end());
  return std::nullopt;
}

// Why --proxy-type, --proxy-auth, --proxy-dns or a destination option cannot make a proxy
// server of this listen command line (no --proxy-type, or --forward), if one was given.
Problem not_a_server(const CommandLine& line, const Options& options) {
  bool typed = line.parsed.count("proxy-type") > 0;
  if (const char* name = first_destination_option(line); name && (!typed || options.forward))
    return "--" + std::string(name) + " restricts a proxy server's destinations: use listen --proxy-type "
           "socks5|http, without --forward";
  if (typed && options.forward)
    return std::string("--proxy-type with --forward is the type of --proxy HOST[:PORT]: add --proxy, or drop "
                       "--forward to serve as a proxy");
  if (!typed && line.parsed.count("proxy-auth"))
    return std::string("--proxy-auth on listen needs --proxy-type socks5|http (a proxy server), or --forward "
                       "with --proxy");
  if (line.parsed.count("proxy-dns"))
    return std::string(typed ? "--proxy-dns has no meaning for a proxy server (it resolves what clients ask for)"
                             : "--proxy-dns needs --proxy HOST[:PORT]");
  return std::nullopt;
}

}  // namespace

Problem proxy_server_rule(const CommandLine& line, Options& options) {
  if (options.proxy) {  // listen --forward --proxy: sockcat is the proxy's client
    if (const char* name = first_destination_option(line))
      return "--" + std::string(name) + " restricts a proxy server: with --proxy, sockcat is a proxy's client";
    return std::nullopt;
  }
  if (Problem problem = not_a_server(line, options)) return problem;
  if (!line.parsed.count("proxy-type")) return std::nullopt;
  ProxyServerOptions server;
  if (Problem problem = read_server_type(line.parsed["proxy-type"].as<std::string>(), server.type)) return problem;
  if (options.udp) return std::string("a proxy server carries TCP streams (drop -u)");
  if (const char* name = first_stdio_option(line))
    return "--" + std::string(name) + " has no meaning with a proxy server (each client is relayed to the "
           "destination it asks for; stdin and stdout are not used)";
  if (options.transform->reply)
    return "a proxy server relays each client to its destination: --transform " + quote(options.transform->name) +
           " would answer it instead";
  if (Problem problem = read_server_credentials(line, server)) return problem;
  if (Problem problem = read_destination_lists(line, options, server)) return problem;
  if (Problem problem = read_destination_ports(line, server)) return problem;
  options.proxy_server = std::move(server);
  return std::nullopt;
}

}  // namespace sockcat::cli
