// Access control for listeners (--allow, --deny, --allowfile, --denyfile): which peers a server
// serves. Entries are numeric addresses or CIDR ranges (IPv4 or IPv6), nmap-style IPv4 ranges
// (192.168.0-255.1-254, 10.*.0.1) and host names. Names are resolved once, at start-up, by
// make_access_list (access_list_setup.cpp); nothing is looked up at accept time. This file is
// free of Asio, so the command-line fuzzer can build it.
#pragma once

#include <array>
#include <bitset>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <sys/socket.h>
#include <vector>

#include "options.hpp"
#include "parse.hpp"

namespace sockcat {

// One range of addresses: the first `prefix_length` bits of `bytes`. IPv4 ranges are kept as
// IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so one comparison serves both families and
// an IPv4 peer seen through a dual-stack socket matches IPv4 entries.
struct AddressRange {
  std::array<unsigned char, 16> bytes{};  // bits past the prefix are zero
  unsigned prefix_length = 128;

  // True when the 16-byte address `address` lies inside the range.
  bool contains(const std::array<unsigned char, 16>& address) const;
};

// Parses one entry: "a.b.c.d", "a.b.c.d/N" (N 0-32), an IPv6 address, or "v6/N" (N 0-128).
// Host bits past the prefix are ignored (10.1.2.3/8 is 10.0.0.0/8). Surrounding blanks are
// trimmed. Returns the reason when the entry is none of these (a host name, a bad prefix...).
Parsed<AddressRange> parse_address_range(std::string_view entry);

// An nmap-style IPv4 range: each of the four octets is `*` (any), a number, or a range "N-M"
// (either end may be left out: "-9" is 0-9, "250-" is 250-255). A peer matches when every octet
// of its IPv4 address is among the values of that octet.
struct OctetPattern {
  std::array<std::bitset<256>, 4> octets;

  // True when the 16-byte address `address` is an IPv4(-mapped) address the pattern covers.
  bool contains(const std::array<unsigned char, 16>& address) const;
};

// A host name, resolved at start-up; `prefix_length` ("name/24") widens each of its addresses
// to its network, as ncat does. `origin` names where it was written, for messages.
struct HostName {
  std::string name;
  std::optional<unsigned> prefix_length;
  std::string origin;  // "--allow", "--denyfile 'FILE' line 3", ...
};

// One entry of an access list as written.
using AccessEntry = std::variant<AddressRange, OctetPattern, HostName>;

// Parses one entry: an address or CIDR range (parse_address_range), an nmap-style IPv4 range
// (OctetPattern, without a prefix), or a host name (letters, digits, '-', '_' and dots, with an
// optional "/N"). Surrounding blanks are trimmed. A name's origin is left empty. Returns the
// reason when the entry is none of these; nmap's octet lists ("1.2.3.1,5") are among them,
// since ',' separates entries on the command line.
Parsed<AccessEntry> parse_access_entry(std::string_view entry);

// Parses a comma-separated list of entries (one --allow/--deny value) and appends them to
// `entries`, names marked with `origin`. Returns the reason for the first bad or empty entry;
// `entries` is then unchanged.
std::optional<std::string> parse_entry_list(std::string_view list, std::string_view origin,
                                            std::vector<AccessEntry>& entries);

// Reads an --allowfile/--denyfile in ncat's format: entries separated by blanks and line ends,
// any number on a line; text from '#' to the line's end is a comment (sockcat's addition).
// Appends to `entries`, names marked with `option`, the file and the line. Throws
// std::system_error naming the file when it cannot be read, or std::runtime_error naming the
// option, the file, the line number and the entry when an entry is bad.
void load_entry_file(const std::string& path, std::string_view option, std::vector<AccessEntry>& entries);

// True when `entries` hold a host name; returns the first one.
const HostName* first_host_name(const std::vector<AccessEntry>& entries);

// The addresses that a set of entries stands for.
struct AddressSet {
  std::vector<AddressRange> ranges;
  std::vector<OctetPattern> patterns;

  // True when `address` (16-byte form) is in one of the ranges or patterns.
  bool contains(const std::array<unsigned char, 16>& address) const;
};

// Looks a host name up: its addresses in 16-byte form (IPv4 mapped). Throws std::system_error
// naming it when it has none.
using NameResolver = std::function<std::vector<std::array<unsigned char, 16>>(const HostName& name)>;

// The addresses `entries` stand for, each name resolved by one call to `resolve` (its
// prefix applied to every address it has). Throws what `resolve` throws, or std::runtime_error
// when a name's prefix is longer than one of its addresses (/40 on an IPv4 address).
AddressSet resolve_entries(const std::vector<AccessEntry>& entries, const NameResolver& resolve);

// The 16-byte form of a socket address (IPv4 made IPv4-mapped), or nothing for any other
// family (a Unix socket's peer).
std::optional<std::array<unsigned char, 16>> address_bytes(const sockaddr* address);

// Which peers a listener serves. A peer is refused when it matches any deny entry, or when
// allow() was called (even with no entries: an empty --allowfile) and it matches none of the
// allowed ranges. A list with neither admits everyone.
class AccessList {
 public:
  // Adds addresses to admit or to refuse.
  void allow(const AddressSet& addresses);
  void deny(const AddressSet& addresses);

  // True when the list admits everyone (checking can then be skipped).
  bool empty() const { return !allow_listed_only_ && denied_.ranges.empty() && denied_.patterns.empty(); }

  // True when a peer at `address` may be served. Addresses of other families than IPv4 and
  // IPv6 (Unix sockets) are always admitted: the rules speak only of IP addresses.
  bool admits(const sockaddr* address) const;

  // The same test on a 16-byte address (see address_bytes).
  bool admits(const std::array<unsigned char, 16>& address) const;

 private:
  bool allow_listed_only_ = false;  // set by allow(): peers must match an allowed range
  AddressSet allowed_;
  AddressSet denied_;
};

// The access list that `options` describes: its --allow/--deny entries (checked by the
// command line already) and the entries of its --allowfile/--denyfile files, host names
// resolved now (each noted under -v with its addresses), in the family of -4/-6. Throws
// (one line: a std::exception) what load_entry_file() and resolve_entries() throw, a
// std::system_error for a name that does not resolve, and for a name in a file under -n. Defined in access_list_setup.cpp (it resolves through Asio).
AccessList make_access_list(const Options& options);

// The destinations a proxy server may reach: options.proxy_server's --proxy-allow and
// --proxy-deny, read as make_access_list reads --allow and --deny (names resolved now, each
// noted under -v) and failing the same way. options.proxy_server must be set.
AccessList make_destination_list(const Options& options);

}  // namespace sockcat
