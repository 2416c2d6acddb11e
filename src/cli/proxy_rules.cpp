// The rule of --proxy and its options: reads the proxy a connection goes through (connect, or
// listen --forward's outgoing connections) into options.proxy. The proxy's password may come
// from the environment (SOCKCAT_PROXY_AUTH), so that it stays out of `ps`.
#include <cstdlib>

#include "cli/rule_steps.hpp"
#include "parse.hpp"

namespace sockcat::cli {
namespace {

// Reads --proxy-type: the names, and OpenBSD nc's -X values (4, 5, connect).
Problem read_proxy_type(const std::string& text, ProxyType& type) {
  if (text == "socks4" || text == "4") type = ProxyType::socks4;
  else if (text == "socks4a") type = ProxyType::socks4a;
  else if (text == "socks5" || text == "5") type = ProxyType::socks5;
  else if (text == "http" || text == "connect") type = ProxyType::http;
  else return "unknown --proxy-type " + quote(text) + " (socks4, socks4a, socks5 or http)";
  return std::nullopt;
}

// Reads USER:PASS from --proxy-auth, or else from SOCKCAT_PROXY_AUTH if set.
void read_proxy_auth(const CommandLine& line, ProxyOptions& proxy) {
  std::optional<std::string> text = proxy_auth_text(line);
  if (!text) return;
  proxy.authenticate = true;
  std::size_t colon = text->find(':');
  proxy.user = text->substr(0, colon);
  if (colon != std::string::npos) proxy.password = text->substr(colon + 1);
}

}  // namespace

std::optional<std::string> proxy_auth_text(const CommandLine& line) {
  if (line.parsed.count("proxy-auth")) return value_of(line, "proxy-auth");
  const char* from_environment = std::getenv(proxy_auth_variable.data());
  if (!from_environment || !*from_environment) return std::nullopt;
  return std::string(from_environment);
}

Problem proxy_rule(const CommandLine& line, Options& options) {
  if (!line.parsed.count("proxy")) {
    for (const char* name : {"proxy-type", "proxy-auth", "proxy-dns"}) {
      if (line.parsed.count(name) && options.role == Role::connect)
        return "--" + std::string(name) + " needs --proxy HOST[:PORT]";
    }
    return std::nullopt;  // listen --proxy-type without --proxy: the proxy server's rule
  }
  if (options.role == Role::listen && !options.forward)
    return std::string("listen --proxy is the way out of --forward's connections: add --forward TARGET");
  if (options.udp) return std::string("--proxy carries TCP streams (drop -u)");
  if (options.role == Role::connect && options.unix_socket)
    return std::string("--proxy reaches HOST PORT over TCP: it does not go with -U");
  if (options.forward && options.forward->unix_address)
    return std::string("--proxy reaches HOST:PORT over TCP: a unix: target does not go through it");
  ProxyOptions proxy;
  if (line.parsed.count("proxy-type")) {
    if (Problem problem = read_proxy_type(value_of(line, "proxy-type"), proxy.type)) return problem;
  }
  std::uint16_t default_port = proxy.type == ProxyType::http ? 3128 : 1080;
  Parsed<HostPort> address = parse_host_port(value_of(line, "proxy"), default_port, false);
  if (Problem problem = problem_of(address)) return "--proxy " + *problem;
  proxy.host = std::get<HostPort>(address).host;
  if (Problem problem = check_numeric_address(proxy.host, "--proxy host", options)) return problem;
  proxy.port = Port{std::get<HostPort>(address).port_text, std::get<HostPort>(address).port};
  if (proxy.port.text.empty()) proxy.port.text = std::to_string(proxy.port.number);
  read_proxy_auth(line, proxy);
  proxy.remote_dns = proxy.type != ProxyType::socks4;
  if (line.parsed.count("proxy-dns")) {
    std::string where = value_of(line, "proxy-dns");
    if (where != "local" && where != "remote")
      return "unknown --proxy-dns " + quote(where) + " (local: sockcat resolves the target; remote: the proxy does)";
    proxy.remote_dns = where == "remote";
    if (proxy.remote_dns && proxy.type == ProxyType::socks4)
      return std::string("--proxy-dns remote: SOCKS4 cannot carry a name (use --proxy-type socks4a)");
  }
  options.proxy = std::move(proxy);
  return std::nullopt;
}

}  // namespace sockcat::cli
