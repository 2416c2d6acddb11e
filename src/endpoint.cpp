#include "endpoint.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstring>
#include <system_error>
#include <variant>

#include "parse.hpp"
#include "system_error.hpp"
#include "unix_endpoint.hpp"

namespace sockcat {

std::system_error no_address_of_family(const std::string& host) {
  return std::system_error(std::make_error_code(std::errc::address_family_not_supported),
                           "no address of the requested family for " + quote(host));
}

bool is_address_literal(const std::string& host) {
  std::error_code literal_error;
  asio::ip::make_address(host, literal_error);
  return !literal_error && host.find('%') == std::string::npos;
}

std::vector<asio::ip::address> resolve_host(const std::string& host, Family family, bool passive) {
  // A numeric address needs no resolver (scripts run port checks in loops: start-up counts).
  if (is_address_literal(host)) {
    asio::ip::address literal = asio::ip::make_address(host);
    bool fits = family == Family::any || (family == Family::v4) == literal.is_v4();
    if (!fits)
      throw no_address_of_family(host);
    return {literal};
  }
  asio::io_context context;
  asio::ip::tcp::resolver resolver(context);
  asio::ip::resolver_base::flags flags = asio::ip::resolver_base::numeric_service;
  if (passive) flags |= asio::ip::resolver_base::passive;
  std::error_code ec;
  asio::ip::tcp::resolver::results_type results;
  if (family == Family::v4) results = resolver.resolve(asio::ip::tcp::v4(), host, "0", flags, ec);
  else if (family == Family::v6) results = resolver.resolve(asio::ip::tcp::v6(), host, "0", flags, ec);
  else results = resolver.resolve(host, "0", flags, ec);
  if (ec) throw std::system_error(ec, "cannot resolve " + quote(host));
  std::vector<asio::ip::address> addresses;
  for (const auto& entry : results) {
    asio::ip::address address = entry.endpoint().address();
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) addresses.push_back(address);
  }
  if (addresses.empty())
    throw no_address_of_family(host);
  return addresses;
}

std::vector<asio::ip::address> listen_addresses(const Options& options) {
  if (!options.bind_address.empty()) return resolve_host(options.bind_address, options.family, true);
  switch (options.family) {
    case Family::v4: return {asio::ip::address_v4::any()};
    case Family::v6: return {asio::ip::address_v6::any()};
    case Family::any: break;
  }
  return {asio::ip::address_v6::any(), asio::ip::address_v4::any()};
}

bool family_unavailable(const std::error_code& ec) {
  int error = errno_of(ec);
  return error == EAFNOSUPPORT || error == EADDRNOTAVAIL;
}

std::string format_endpoint(const asio::ip::address& address, std::uint16_t port) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return format_endpoint(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()), port);
  std::string text = address.is_v6() ? "[" : "";
  text += address.to_string();
  text += address.is_v6() ? "]:" : ":";
  text += std::to_string(port);
  return text;
}

std::string format_socket_address(const sockaddr* address, std::size_t length) {
  if (length >= sizeof(sa_family_t) && (address->sa_family == AF_INET || address->sa_family == AF_INET6)) {
    return format_endpoint(ip_endpoint_of<asio::ip::tcp>(address, length));
  }
  if (length < sizeof(sa_family_t) || address->sa_family == AF_UNIX) return format_unix_address(address, length);
  return "an address of family " + std::to_string(address->sa_family);
}

}  // namespace sockcat
