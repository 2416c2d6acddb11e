// make_access_list: the access lists of a listener, read and resolved once at start-up. Apart
// from access_list.cpp because it resolves names through Asio (endpoint.cpp), which the
// command-line fuzzer does not build.
#include <map>
#include <stdexcept>
#include <system_error>

#include "access_list.hpp"
#include "diag.hpp"
#include "endpoint.hpp"

namespace sockcat {
namespace {

// The 16-byte form of `address` (IPv4 made IPv4-mapped).
std::array<unsigned char, 16> bytes_of(const asio::ip::address& address) {
  if (address.is_v6()) return address.to_v6().to_bytes();
  return asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes();
}

// Throws when -n forbids looking up a name that `entries` hold (one read from a file: the
// command line has refused names under -n already).
void check_no_names(const std::vector<AccessEntry>& entries, const Options& options) {
  const HostName* name = first_host_name(entries);
  if (options.numeric_only && name)
    throw std::runtime_error(name->origin + ": " + quote(name->name) + " is a host name, and -n forbids name lookups");
}

// Where one address list's entries were written, and under which option names.
struct ListSource {
  const std::vector<std::string>& allow;        // lists of entries to admit, one per use
  const std::vector<std::string>& allow_files;  // files of them
  const std::vector<std::string>& deny;         // lists of entries to refuse
  const std::vector<std::string>& deny_files;   // files of them
  std::string_view allow_option;                // "--allow", "--proxy-allow"
  std::string_view deny_option;
};

// The list `source` describes, names resolved now in the family of -4/-6 (see make_access_list).
AccessList make_list(const ListSource& source, const Options& options) {
  const std::string allow_option(source.allow_option);
  const std::string deny_option(source.deny_option);
  std::vector<AccessEntry> allowed;
  std::vector<AccessEntry> denied;
  for (const std::string& spec : source.allow) parse_entry_list(spec, allow_option, allowed);
  for (const std::string& path : source.allow_files) load_entry_file(path, "--allowfile", allowed);
  for (const std::string& spec : source.deny) parse_entry_list(spec, deny_option, denied);
  for (const std::string& path : source.deny_files) load_entry_file(path, "--denyfile", denied);
  check_no_names(allowed, options);
  check_no_names(denied, options);

  std::map<std::string, std::vector<std::array<unsigned char, 16>>> looked_up;  // a name written twice: one lookup
  const NameResolver resolve = [&](const HostName& name) {
    auto known = looked_up.find(name.name);
    if (known != looked_up.end()) return known->second;
    std::vector<asio::ip::address> addresses;
    try {
      addresses = resolve_host(name.name, options.family, false);
    } catch (const std::system_error& e) {
      throw std::system_error(e.code(), name.origin + ": cannot resolve " + quote(name.name));
    }
    std::string listed;
    std::vector<std::array<unsigned char, 16>>& bytes = looked_up[name.name];
    for (const asio::ip::address& address : addresses) {
      bytes.push_back(bytes_of(address));
      listed += (listed.empty() ? "" : ", ") + address.to_string();
    }
    diag::info(1, name.origin + ": " + quote(name.name) + " resolved to " + listed);
    return bytes;
  };
  AccessList list;
  AddressSet allowed_addresses = resolve_entries(allowed, resolve);
  if (!source.allow.empty() || !source.allow_files.empty()) list.allow(allowed_addresses);
  AddressSet denied_addresses = resolve_entries(denied, resolve);
  if (!denied.empty()) list.deny(denied_addresses);
  return list;
}

}  // namespace

AccessList make_access_list(const Options& options) {
  return make_list({options.allow, options.allow_files, options.deny, options.deny_files, "--allow", "--deny"},
                   options);
}

AccessList make_destination_list(const Options& options) {
  static const std::vector<std::string> none;
  const ProxyServerOptions& server = *options.proxy_server;
  return make_list({server.allow, none, server.deny, none, "--proxy-allow", "--proxy-deny"}, options);
}

}  // namespace sockcat
